"""PostgreSQL: two triggers of a new ticket cost the server less (issue 17 §2, issue 11 §3).

* The search document of a ticket created together with its first message (one statement,
  the services' data-modifying ``WITH``) is written once, by the message's trigger: the
  ticket's own trigger skips a ticket that has a message already (that message's trigger runs
  at the end of the same statement and sees the ticket). It wrote the same document first,
  then the message's trigger wrote it again. A ticket inserted alone is written as before.
* The department counters' ``helpdesk_ticket_count_add`` is PL/pgSQL instead of SQL, so its
  upsert is planned once a session instead of at each call.

Why, and the figures: models/search.py, models/counts.py, docs/performance.rst. Statements
frozen here as they are at this revision (migrations import no app code). The downgrade puts
back the functions of 0008 and 0033. SQLite: nothing to do.

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-06 23:45:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0036"
down_revision: str | None = "0035"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As 0008 made it.
DOCUMENT_TRIGGER_BEFORE = """CREATE OR REPLACE FUNCTION helpdesk_search_document_trigger()
    RETURNS trigger LANGUAGE plpgsql AS $$
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
    END $$"""

# 0036: the same with a new ticket that has a message already left to that message's trigger.
DOCUMENT_TRIGGER = DOCUMENT_TRIGGER_BEFORE.replace(
    """        IF TG_TABLE_NAME = 'helpdesk_ticket' THEN
""",
    """        IF TG_TABLE_NAME = 'helpdesk_ticket' THEN
            IF TG_OP = 'INSERT' AND EXISTS (
                SELECT FROM helpdesk_message AS m WHERE m.ticket_id = NEW.id
            ) THEN
                RETURN NULL;  -- the message's trigger writes the document
            END IF;
""",
    1,
)

COUNT_ADD = """CREATE OR REPLACE FUNCTION helpdesk_ticket_count_add(
        department INTEGER, assignee INTEGER, state VARCHAR, delta INTEGER) RETURNS void
    LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO helpdesk_ticket_count (department_id, assignee_id, status, slot, n)
        VALUES (department, coalesce(assignee, 0), state, mod(pg_backend_pid(), 16), delta)
        ON CONFLICT (department_id, assignee_id, status, slot) DO UPDATE
        SET n = helpdesk_ticket_count.n + delta;
    END $$"""

# As 0033 made it (CREATE OR REPLACE may change a function's language).
COUNT_ADD_BEFORE = """CREATE OR REPLACE FUNCTION helpdesk_ticket_count_add(
        department INTEGER, assignee INTEGER, state VARCHAR, delta INTEGER) RETURNS void
    LANGUAGE sql AS $$
        INSERT INTO helpdesk_ticket_count (department_id, assignee_id, status, slot, n)
        VALUES (department, coalesce(assignee, 0), state, mod(pg_backend_pid(), 16), delta)
        ON CONFLICT (department_id, assignee_id, status, slot) DO UPDATE
        SET n = helpdesk_ticket_count.n + delta
    $$"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(DOCUMENT_TRIGGER)
        op.execute(COUNT_ADD)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(DOCUMENT_TRIGGER_BEFORE)
        op.execute(COUNT_ADD_BEFORE)
