"""Spam learning (token counts, totals, what each marked ticket taught) and house rules.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 05:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "helpdesk_spam_token",
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("spam_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("ham_count", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_helpdesk_spam_token")),
    )
    op.create_table(
        "helpdesk_spam_totals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("spam_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("ham_count", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_spam_totals")),
    )
    op.create_table(
        "helpdesk_spam_training",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=8), nullable=False),
        sa.Column("previous", sa.String(length=8), nullable=True),
        sa.Column("tokens", sa.JSON(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("trained_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["helpdesk_agent.id"],
            name=op.f("fk_helpdesk_spam_training_agent_id_helpdesk_agent"),
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["helpdesk_ticket.id"],
            name=op.f("fk_helpdesk_spam_training_ticket_id_helpdesk_ticket"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_helpdesk_spam_training")),
    )
    op.create_table(
        "helpdesk_house_rule",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_helpdesk_house_rule")),
    )


def downgrade() -> None:
    op.drop_table("helpdesk_house_rule")
    op.drop_table("helpdesk_spam_training")
    op.drop_table("helpdesk_spam_totals")
    op.drop_table("helpdesk_spam_token")
