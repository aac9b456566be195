"""Search: a list of the words in the search documents, to search a typed prefix as whole words.

PostgreSQL's GIN index answers a prefix ("bonu:*") by collecting the entries of every word it
begins before intersecting them with the other words of the search; for a prefix of a word in
8 % of tickets that took 30 ms at 1,000,000 tickets, where the same search with whole words
takes 2 (docs/performance.rst). With the list, the queue searches a typed word as the whole
words it begins. What the objects are, and why, is explained in the package's
models/search.py; the statements are copied here, not imported, so this revision keeps meaning
what it meant (a test checks that both still build the same objects).

Writes to tickets and messages wait until the revision commits (the list is filled from every
document); see docs/migrations.rst for how long that takes.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 17:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CREATE = [
    'CREATE TABLE helpdesk_search_word (word TEXT COLLATE "C" NOT NULL)',
    'CREATE INDEX ix_helpdesk_search_word_word ON helpdesk_search_word (word)',
]

# The document function now adds the words a new document brings.
REFRESH = """CREATE OR REPLACE FUNCTION helpdesk_refresh_search_document(ticket INTEGER) RETURNS void
    LANGUAGE plpgsql AS $$
    DECLARE
        own_code TEXT;
        before TSVECTOR;
        after TSVECTOR;
    BEGIN
        -- Lock the ticket first. A second transaction writing to the same ticket waits here,
        -- and its INSERT below then sees this one's message (READ COMMITTED gives each
        -- statement a new snapshot), so no word is lost when two people reply at once.
        SELECT lower(code) INTO own_code FROM helpdesk_ticket WHERE id = ticket
        FOR NO KEY UPDATE;
        SELECT document INTO before FROM helpdesk_ticket_search WHERE ticket_id = ticket;
        INSERT INTO helpdesk_ticket_search
        (ticket_id, updated_at, created_at, priority, document)
    SELECT t.id, t.updated_at, t.created_at, t.priority,
        array_to_tsvector(ARRAY[lower(t.code)]) || strip(to_tsvector('simple',
    left(coalesce(t.subject, '') || ' ' || coalesce((
        SELECT string_agg(thread.body, ' ' ORDER BY thread.id) FROM (
            SELECT m.id, m.body, sum(octet_length(m.body) + 1) OVER (ORDER BY m.id) AS upto
            FROM helpdesk_message AS m WHERE m.ticket_id = t.id) AS thread
        WHERE thread.upto - octet_length(thread.body) <= 200000), ''),
    200000)))
    FROM helpdesk_ticket AS t WHERE t.id = ticket
    ON CONFLICT (ticket_id) DO UPDATE SET updated_at = excluded.updated_at,
        created_at = excluded.created_at, priority = excluded.priority,
        document = excluded.document
        RETURNING document INTO after;
        IF after IS NOT NULL THEN  -- NULL: the ticket is being deleted
            INSERT INTO helpdesk_search_word (word)
            SELECT added.word FROM unnest(tsvector_to_array(ts_delete(after,
                tsvector_to_array(coalesce(before, '')) || own_code))) AS added (word)
            WHERE NOT EXISTS (SELECT FROM helpdesk_search_word AS known
                WHERE known.word = added.word);
        END IF;
    END $$"""

WRITE_ALL_WORDS = """INSERT INTO helpdesk_search_word (word)
    SELECT word FROM ts_stat('SELECT ts_delete(s.document, lower(t.code))
        FROM helpdesk_ticket_search AS s JOIN helpdesk_ticket AS t ON t.id = s.ticket_id')"""

# Revision 0009's document function, for the way down.
REFRESH_0009 = """CREATE OR REPLACE FUNCTION helpdesk_refresh_search_document(ticket INTEGER) RETURNS void
    LANGUAGE plpgsql AS $$
    BEGIN
        -- Lock the ticket first. A second transaction writing to the same ticket waits here,
        -- and its INSERT below then sees this one's message (READ COMMITTED gives each
        -- statement a new snapshot), so no word is lost when two people reply at once.
        PERFORM 1 FROM helpdesk_ticket WHERE id = ticket FOR NO KEY UPDATE;
        INSERT INTO helpdesk_ticket_search
        (ticket_id, updated_at, created_at, priority, document)
    SELECT t.id, t.updated_at, t.created_at, t.priority,
        array_to_tsvector(ARRAY[lower(t.code)]) || strip(to_tsvector('simple',
    left(coalesce(t.subject, '') || ' ' || coalesce((
        SELECT string_agg(thread.body, ' ' ORDER BY thread.id) FROM (
            SELECT m.id, m.body, sum(octet_length(m.body) + 1) OVER (ORDER BY m.id) AS upto
            FROM helpdesk_message AS m WHERE m.ticket_id = t.id) AS thread
        WHERE thread.upto - octet_length(thread.body) <= 200000), ''),
    200000)))
    FROM helpdesk_ticket AS t WHERE t.id = ticket
    ON CONFLICT (ticket_id) DO UPDATE SET updated_at = excluded.updated_at,
        created_at = excluded.created_at, priority = excluded.priority,
        document = excluded.document;
    END $$"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # Writers wait (their triggers write documents and words); readers go on.
    op.execute("LOCK TABLE helpdesk_ticket, helpdesk_message IN SHARE MODE")
    for statement in [*CREATE, REFRESH, WRITE_ALL_WORDS]:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(REFRESH_0009)
    op.execute("DROP TABLE helpdesk_search_word")
