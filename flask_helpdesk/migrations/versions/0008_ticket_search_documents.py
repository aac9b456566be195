"""Search: one full-text document per ticket on PostgreSQL, instead of one index entry per message.

Measured at 1,000,000 tickets (docs/performance.rst): with GIN indexes on each message's text,
a search for a common word had to collect every matching message before the first page of
tickets was known (seconds). A per-ticket document lets PostgreSQL walk the queue's order and
test each ticket, or read a rare word's few tickets from the index. What the objects are, and
why, is explained in the package's models/search.py; the statements are copied here, not
imported, so this revision keeps meaning what it meant (a test checks that both still build the
same objects). SQLite keeps its FTS5 tables (0004).

The documents of existing tickets are written here in one statement, before the GIN index is
built (much faster than entry by entry); see docs/migrations.rst for how long that takes.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CREATE_TABLE = """CREATE TABLE helpdesk_ticket_search (
        ticket_id INTEGER NOT NULL
            CONSTRAINT pk_helpdesk_ticket_search PRIMARY KEY
            CONSTRAINT fk_helpdesk_ticket_search_ticket_id_helpdesk_ticket
                REFERENCES helpdesk_ticket (id) ON DELETE CASCADE,
        document TSVECTOR NOT NULL)"""

# The queue chooses its plan from PostgreSQL's estimates, which need detailed word statistics.
SET_STATISTICS = "ALTER TABLE helpdesk_ticket_search ALTER COLUMN document SET STATISTICS 10000"

CREATE_FUNCTIONS = [
    """CREATE FUNCTION helpdesk_refresh_search_document(ticket INTEGER) RETURNS void
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
    END $$""",
    """CREATE FUNCTION helpdesk_search_document_trigger() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_TABLE_NAME = 'helpdesk_ticket' THEN
            PERFORM helpdesk_refresh_search_document(NEW.id);
        ELSE
            IF TG_OP <> 'INSERT' THEN
                PERFORM helpdesk_refresh_search_document(OLD.ticket_id);
            END IF;
            IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.ticket_id <> OLD.ticket_id) THEN
                PERFORM helpdesk_refresh_search_document(NEW.ticket_id);
            END IF;
        END IF;
        RETURN NULL;
    END $$""",
]

CREATE_TRIGGERS = [
    """CREATE TRIGGER helpdesk_ticket_search_insert AFTER INSERT ON helpdesk_ticket
    FOR EACH ROW EXECUTE FUNCTION helpdesk_search_document_trigger()""",
    """CREATE TRIGGER helpdesk_ticket_search_update AFTER UPDATE OF subject ON helpdesk_ticket
    FOR EACH ROW WHEN (OLD.subject IS DISTINCT FROM NEW.subject)
    EXECUTE FUNCTION helpdesk_search_document_trigger()""",
    """CREATE TRIGGER helpdesk_message_search AFTER INSERT OR DELETE OR UPDATE OF body, ticket_id
    ON helpdesk_message FOR EACH ROW EXECUTE FUNCTION helpdesk_search_document_trigger()""",
]

WRITE_ALL_DOCUMENTS = """INSERT INTO helpdesk_ticket_search (ticket_id, document)
    SELECT t.id, array_to_tsvector(ARRAY[lower(t.code)]) || strip(to_tsvector('simple',
    left(coalesce(t.subject, '') || ' ' || coalesce((
        SELECT string_agg(thread.body, ' ' ORDER BY thread.id) FROM (
            SELECT m.id, m.body, sum(octet_length(m.body) + 1) OVER (ORDER BY m.id) AS upto
            FROM helpdesk_message AS m WHERE m.ticket_id = t.id) AS thread
        WHERE thread.upto - octet_length(thread.body) <= 200000), ''),
    200000))) FROM helpdesk_ticket AS t WHERE TRUE
    ON CONFLICT (ticket_id) DO UPDATE SET document = excluded.document"""

CREATE_INDEX = (
    "CREATE INDEX ix_helpdesk_ticket_search_fts ON helpdesk_ticket_search USING gin (document)"
)

DROP = [
    "DROP TABLE IF EXISTS helpdesk_ticket_search",
    "DROP FUNCTION IF EXISTS helpdesk_search_document_trigger() CASCADE",
    "DROP FUNCTION IF EXISTS helpdesk_refresh_search_document(INTEGER)",
]

# Revision 0004's per-message and per-subject expression indexes, which the documents replace.
OLD_INDEXES = {
    "ix_helpdesk_message_body_fts": ("helpdesk_message", "body"),
    "ix_helpdesk_ticket_subject_fts": ("helpdesk_ticket", "subject"),
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in [CREATE_TABLE, SET_STATISTICS, *CREATE_FUNCTIONS, *CREATE_TRIGGERS]:
        op.execute(statement)
    op.execute(WRITE_ALL_DOCUMENTS)
    op.execute(CREATE_INDEX)
    op.execute("ANALYZE helpdesk_ticket_search")  # the planner needs word frequencies at once
    for name, (table, _column) in OLD_INDEXES.items():
        op.drop_index(name, table_name=table)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, (table, column) in OLD_INDEXES.items():
        op.create_index(
            name,
            table,
            [sa.text(f"to_tsvector('simple'::regconfig, {column})")],
            postgresql_using="gin",
        )
    for statement in DROP:
        op.execute(statement)
