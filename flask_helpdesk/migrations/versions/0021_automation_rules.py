"""Automation rules, their time-window firings, automatic-mail log; status age on tickets.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 06:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "helpdesk_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("trigger", sa.String(length=40), nullable=False),
        sa.Column("schedule", sa.JSON(), nullable=False),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("preset", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_rule")),
        sa.UniqueConstraint("preset", name=op.f("uq_helpdesk_rule_preset")),
    )
    op.create_index(
        "ix_helpdesk_rule_active_trigger", "helpdesk_rule", ["is_active", "trigger", "position"]
    )
    op.create_table(
        "helpdesk_rule_firing",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("anchor_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["helpdesk_rule.id"],
            name=op.f("fk_helpdesk_rule_firing_rule_id_helpdesk_rule"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["helpdesk_ticket.id"],
            name=op.f("fk_helpdesk_rule_firing_ticket_id_helpdesk_ticket"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_rule_firing")),
        sa.UniqueConstraint(
            "rule_id", "ticket_id", "anchor_at", name=op.f("uq_helpdesk_rule_firing_rule_id")
        ),
    )
    op.create_index(
        "ix_helpdesk_rule_firing_ticket_id", "helpdesk_rule_firing", ["ticket_id"], unique=False
    )
    op.create_table(
        "helpdesk_auto_mail",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["helpdesk_rule.id"],
            name=op.f("fk_helpdesk_auto_mail_rule_id_helpdesk_rule"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["helpdesk_ticket.id"],
            name=op.f("fk_helpdesk_auto_mail_ticket_id_helpdesk_ticket"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_auto_mail")),
    )
    op.create_index(
        "ix_helpdesk_auto_mail_recipient_created", "helpdesk_auto_mail", ["recipient", "created_at"]
    )
    op.create_index("ix_helpdesk_auto_mail_ticket_id", "helpdesk_auto_mail", ["ticket_id"])
    # A plain ADD COLUMN (no batch copy, which on SQLite would drop the full-text triggers).
    op.add_column("helpdesk_ticket", sa.Column("status_changed_at", sa.DateTime(), nullable=True))
    # Existing tickets: their last activity is the best guess of their status's age.
    op.execute("UPDATE helpdesk_ticket SET status_changed_at = updated_at")
    op.create_index(
        "ix_helpdesk_ticket_status_last_agent", "helpdesk_ticket", ["status", "last_agent_reply_at"]
    )
    op.create_index(
        "ix_helpdesk_ticket_status_last_customer",
        "helpdesk_ticket",
        ["status", "last_customer_reply_at"],
    )
    op.create_index(
        "ix_helpdesk_ticket_status_changed", "helpdesk_ticket", ["status", "status_changed_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_helpdesk_ticket_status_changed", table_name="helpdesk_ticket")
    op.drop_index("ix_helpdesk_ticket_status_last_customer", table_name="helpdesk_ticket")
    op.drop_index("ix_helpdesk_ticket_status_last_agent", table_name="helpdesk_ticket")
    op.drop_column("helpdesk_ticket", "status_changed_at")
    op.drop_index("ix_helpdesk_auto_mail_ticket_id", table_name="helpdesk_auto_mail")
    op.drop_index("ix_helpdesk_auto_mail_recipient_created", table_name="helpdesk_auto_mail")
    op.drop_table("helpdesk_auto_mail")
    op.drop_index("ix_helpdesk_rule_firing_ticket_id", table_name="helpdesk_rule_firing")
    op.drop_table("helpdesk_rule_firing")
    op.drop_index("ix_helpdesk_rule_active_trigger", table_name="helpdesk_rule")
    op.drop_table("helpdesk_rule")
