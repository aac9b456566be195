"""SLA events: each warning and breach the escalation sweep raised, once per ticket and target.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 02:35:20.191744
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "helpdesk_sla_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("cycle", sa.BigInteger(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("notify_after", sa.DateTime(), nullable=True),
        sa.Column("notified_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["helpdesk_ticket.id"],
            name=op.f("fk_helpdesk_sla_event_ticket_id_helpdesk_ticket"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_sla_event")),
        sa.UniqueConstraint(
            "ticket_id", "target", "kind", "cycle", name=op.f("uq_helpdesk_sla_event_ticket_id")
        ),
    )
    with op.batch_alter_table("helpdesk_sla_event", schema=None) as batch_op:
        batch_op.create_index("ix_helpdesk_sla_event_notify_after", ["notify_after"], unique=False)



def downgrade() -> None:
    with op.batch_alter_table("helpdesk_sla_event", schema=None) as batch_op:
        batch_op.drop_index("ix_helpdesk_sla_event_notify_after")

    op.drop_table("helpdesk_sla_event")
