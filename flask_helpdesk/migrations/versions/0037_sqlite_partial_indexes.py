"""SQLite: eight indexes hold only the rows whose column is set (issue 17, ticket creation).

Each index a commit writes to is a page or more of SQLite's write-ahead log (and later of the
checkpoint's copy back into the database): a ticket's commit wrote about 50 pages. These
indexes are read only by queries that compare their column or say ``IS NOT NULL`` (SQLite
knows either implies the index's condition), and their column is NULL for many rows: a
customer's new ticket without an SLA policy, its fact and its audit event are written to none
of them.

* ``helpdesk_ticket``: ``ix_helpdesk_ticket_sla_due`` (the queue's "due" sort and filters, the
  SLA overview), ``ix_helpdesk_ticket_sla_check`` (the escalation sweep),
  ``ix_helpdesk_ticket_status_last_agent`` and ``ix_helpdesk_ticket_status_last_customer``
  (time rules), ``ix_helpdesk_ticket_creator_agent_id`` (the queue's creator filter);
* ``helpdesk_ticket_fact``: ``ix_helpdesk_ticket_fact_assignee`` and
  ``ix_helpdesk_ticket_fact_agent`` (an agent's report scope);
* ``helpdesk_audit_event``: ``ix_helpdesk_audit_event_actor_agent_id``.

Why, and the figures: models/ticket.py, docs/performance.rst. PostgreSQL: nothing to do (its
indexes stay whole). The downgrade makes the whole indexes again.

Revision ID: 0037
Revises: 0036
Create Date: 2026-12-07 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0037"
down_revision: str | None = "0036"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (index, table, columns, the column that must be set): as models/ticket.py, reports.py and
# audit.py declare them at this revision.
PARTIAL = [
    ("ix_helpdesk_ticket_sla_due", "helpdesk_ticket", ["sla_due_at", "id"], "sla_due_at"),
    ("ix_helpdesk_ticket_sla_check", "helpdesk_ticket", ["sla_check_at", "id"], "sla_check_at"),
    (
        "ix_helpdesk_ticket_status_last_agent",
        "helpdesk_ticket",
        ["status", "last_agent_reply_at"],
        "last_agent_reply_at",
    ),
    (
        "ix_helpdesk_ticket_status_last_customer",
        "helpdesk_ticket",
        ["status", "last_customer_reply_at"],
        "last_customer_reply_at",
    ),
    (
        "ix_helpdesk_ticket_creator_agent_id",
        "helpdesk_ticket",
        ["creator_agent_id"],
        "creator_agent_id",
    ),
    (
        "ix_helpdesk_ticket_fact_assignee",
        "helpdesk_ticket_fact",
        ["assignee_id", "kind", "at"],
        "assignee_id",
    ),
    (
        "ix_helpdesk_ticket_fact_agent",
        "helpdesk_ticket_fact",
        ["agent_id", "kind", "at"],
        "agent_id",
    ),
    (
        "ix_helpdesk_audit_event_actor_agent_id",
        "helpdesk_audit_event",
        ["actor_agent_id"],
        "actor_agent_id",
    ),
]


def _rebuild(partial: bool) -> None:
    for name, table, columns, column in PARTIAL:
        op.drop_index(name, table_name=table)
        where = {"sqlite_where": sa.text(f"{column} IS NOT NULL")} if partial else {}
        op.create_index(name, table, columns, **where)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild(partial=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild(partial=False)
