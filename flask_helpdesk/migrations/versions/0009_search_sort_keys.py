"""Search: the queue's sort keys copied into each ticket's search row (PostgreSQL only).

A search matching a few thousand tickets had to read every one of them to learn its
``updated_at`` before it could sort and show the first page: about 2,700 ticket lookups for a
rare word, 30 of its 40 ms at 1,000,000 tickets (docs/performance.rst). The rows of
``helpdesk_ticket_search`` now carry a copy of ``updated_at``, ``created_at`` and ``priority``,
kept by a trigger on the ticket, so the matches are sorted in the search table and only the
first page's tickets are read. What the objects are, and why, is explained in the package's
models/search.py; the statements are copied here, not imported, so this revision keeps meaning
what it meant (a test checks that both still build the same objects).

The table is rebuilt rather than altered: copying the documents into a new table with the keys
takes seconds and leaves no dead rows, where an UPDATE of a million rows took two minutes and
doubled the table. Writes to tickets and messages wait until the revision commits; see
docs/migrations.rst for how long that takes.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 16:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REBUILD = [
    # Writers wait (their triggers write documents); readers, the queue included, go on.
    "LOCK TABLE helpdesk_ticket, helpdesk_message IN SHARE MODE",
    """CREATE TABLE helpdesk_ticket_search_0009 (
        ticket_id INTEGER NOT NULL,
        updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
        created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
        priority SMALLINT NOT NULL,
        document TSVECTOR NOT NULL) WITH (fillfactor = 80)""",
    """INSERT INTO helpdesk_ticket_search_0009
        (ticket_id, updated_at, created_at, priority, document)
    SELECT s.ticket_id, t.updated_at, t.created_at, t.priority, s.document
    FROM helpdesk_ticket_search AS s JOIN helpdesk_ticket AS t ON t.id = s.ticket_id""",
    "DROP TABLE helpdesk_ticket_search",
    "ALTER TABLE helpdesk_ticket_search_0009 RENAME TO helpdesk_ticket_search",
    """ALTER TABLE helpdesk_ticket_search
        ADD CONSTRAINT pk_helpdesk_ticket_search PRIMARY KEY (ticket_id),
        ADD CONSTRAINT fk_helpdesk_ticket_search_ticket_id_helpdesk_ticket
            FOREIGN KEY (ticket_id) REFERENCES helpdesk_ticket (id) ON DELETE CASCADE""",
    # The queue chooses its plan from PostgreSQL's estimates, which need detailed statistics.
    "ALTER TABLE helpdesk_ticket_search ALTER COLUMN document SET STATISTICS 10000",
    "CREATE INDEX ix_helpdesk_ticket_search_fts ON helpdesk_ticket_search USING gin (document)",
]

# The document function now writes the keys too.
REFRESH = """CREATE OR REPLACE FUNCTION helpdesk_refresh_search_document(ticket INTEGER) RETURNS void
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

KEYS = [
    """CREATE FUNCTION helpdesk_search_keys_trigger() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE helpdesk_ticket_search SET updated_at = NEW.updated_at, created_at = NEW.created_at,
            priority = NEW.priority
        WHERE ticket_id = NEW.id;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER helpdesk_ticket_search_keys
    AFTER UPDATE OF updated_at, created_at, priority ON helpdesk_ticket
    FOR EACH ROW WHEN (OLD.updated_at IS DISTINCT FROM NEW.updated_at
        OR OLD.created_at IS DISTINCT FROM NEW.created_at
        OR OLD.priority IS DISTINCT FROM NEW.priority)
    EXECUTE FUNCTION helpdesk_search_keys_trigger()""",
]

# Revision 0008's document function, for the way down.
REFRESH_0008 = """CREATE OR REPLACE FUNCTION helpdesk_refresh_search_document(ticket INTEGER) RETURNS void
    LANGUAGE plpgsql AS $$
    BEGIN
        -- Lock the ticket first. A second transaction writing to the same ticket waits here,
        -- and its INSERT below then sees this one's message (READ COMMITTED gives each
        -- statement a new snapshot), so no word is lost when two people reply at once.
        PERFORM 1 FROM helpdesk_ticket WHERE id = ticket FOR NO KEY UPDATE;
        INSERT INTO helpdesk_ticket_search (ticket_id, document)
    SELECT t.id, array_to_tsvector(ARRAY[lower(t.code)]) || strip(to_tsvector('simple',
    left(coalesce(t.subject, '') || ' ' || coalesce((
        SELECT string_agg(thread.body, ' ' ORDER BY thread.id) FROM (
            SELECT m.id, m.body, sum(octet_length(m.body) + 1) OVER (ORDER BY m.id) AS upto
            FROM helpdesk_message AS m WHERE m.ticket_id = t.id) AS thread
        WHERE thread.upto - octet_length(thread.body) <= 200000), ''),
    200000))) FROM helpdesk_ticket AS t WHERE t.id = ticket
    ON CONFLICT (ticket_id) DO UPDATE SET document = excluded.document;
    END $$"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in [*REBUILD, REFRESH, *KEYS]:
        op.execute(statement)
    op.execute("ANALYZE helpdesk_ticket_search")  # the planner needs word frequencies at once


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION helpdesk_search_keys_trigger() CASCADE")  # and its trigger
    op.execute(REFRESH_0008)
    op.execute(
        "ALTER TABLE helpdesk_ticket_search DROP COLUMN updated_at, DROP COLUMN created_at,"
        " DROP COLUMN priority, RESET (fillfactor)"
    )
