"""Facts for reports (one row per counted event) and the customer's good/bad on single replies.

Existing tickets get their facts from ``flask helpdesk reports backfill``.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 05:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "helpdesk_ticket_fact",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("priority", sa.SmallInteger(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("wall_seconds", sa.Integer(), nullable=True),
        sa.Column("work_seconds", sa.Integer(), nullable=True),
        sa.Column("met", sa.Boolean(), nullable=True),
        sa.Column("target", sa.String(length=20), nullable=True),
        sa.Column("backlog_delta", sa.SmallInteger(), nullable=False),
        sa.Column("good", sa.Boolean(), nullable=True),
        sa.Column("stars", sa.SmallInteger(), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["helpdesk_ticket.id"],
            name=op.f("fk_helpdesk_ticket_fact_ticket_id_helpdesk_ticket"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_ticket_fact")),
    )
    with op.batch_alter_table("helpdesk_ticket_fact", schema=None) as batch_op:
        batch_op.create_index("ix_helpdesk_ticket_fact_kind_at", ["kind", "at"])
        batch_op.create_index(
            "ix_helpdesk_ticket_fact_department", ["department_id", "kind", "at"]
        )
        batch_op.create_index("ix_helpdesk_ticket_fact_assignee", ["assignee_id", "kind", "at"])
        batch_op.create_index("ix_helpdesk_ticket_fact_backlog", ["at", "backlog_delta"])
        batch_op.create_index(
            batch_op.f("ix_helpdesk_ticket_fact_ticket_id"), ["ticket_id"], unique=False
        )
    op.create_table(
        "helpdesk_reply_rating",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("good", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["helpdesk_message.id"],
            name=op.f("fk_helpdesk_reply_rating_message_id_helpdesk_message"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["helpdesk_ticket.id"],
            name=op.f("fk_helpdesk_reply_rating_ticket_id_helpdesk_ticket"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_reply_rating")),
        sa.UniqueConstraint("message_id", name=op.f("uq_helpdesk_reply_rating_message_id")),
    )
    with op.batch_alter_table("helpdesk_reply_rating", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_helpdesk_reply_rating_ticket_id"), ["ticket_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("helpdesk_reply_rating")
    op.drop_table("helpdesk_ticket_fact")
