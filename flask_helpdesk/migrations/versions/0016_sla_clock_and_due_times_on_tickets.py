"""SLA clock, due times and recorded facts on tickets (the due index serves the sweep).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 02:21:30.080589
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD/DROP COLUMNs, no batch copy (and so no foreign key): on SQLite a table copy would
    # drop the full-text triggers of revision 0004. On PostgreSQL each is instant (constant
    # defaults, no rewrite); the index build reads the table once (seconds per million rows).
    columns = [
        sa.Column("sla_policy_id", sa.Integer(), nullable=True),
        sa.Column("sla_clock_seconds", sa.Integer(), server_default="0", nullable=False),
        sa.Column("sla_running_since", sa.DateTime(), nullable=True),
        sa.Column("sla_next_from", sa.Integer(), nullable=True),
        sa.Column("sla_after_hours", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("first_response_due_at", sa.DateTime(), nullable=True),
        sa.Column("next_response_due_at", sa.DateTime(), nullable=True),
        sa.Column("resolution_due_at", sa.DateTime(), nullable=True),
        sa.Column("sla_due_at", sa.DateTime(), nullable=True),
        sa.Column("sla_check_at", sa.DateTime(), nullable=True),
        sa.Column("first_response_seconds", sa.Integer(), nullable=True),
        sa.Column("resolution_seconds", sa.Integer(), nullable=True),
        sa.Column(
            "first_response_breached", sa.Boolean(), server_default=sa.false(), nullable=False
        ),
        sa.Column(
            "next_response_breached", sa.Boolean(), server_default=sa.false(), nullable=False
        ),
        sa.Column("resolution_breached", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("reopen_count", sa.Integer(), server_default="0", nullable=False),
    ]
    for column in columns:
        op.add_column("helpdesk_ticket", column)
    op.create_index("ix_helpdesk_ticket_sla_due", "helpdesk_ticket", ["sla_due_at", "id"])
    op.create_index("ix_helpdesk_ticket_sla_check", "helpdesk_ticket", ["sla_check_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_helpdesk_ticket_sla_check", table_name="helpdesk_ticket")
    op.drop_index("ix_helpdesk_ticket_sla_due", table_name="helpdesk_ticket")
    for name in [
        "reopen_count",
        "resolution_breached",
        "next_response_breached",
        "first_response_breached",
        "resolution_seconds",
        "first_response_seconds",
        "sla_check_at",
        "sla_due_at",
        "resolution_due_at",
        "next_response_due_at",
        "first_response_due_at",
        "sla_after_hours",
        "sla_next_from",
        "sla_running_since",
        "sla_clock_seconds",
        "sla_policy_id",
    ]:
        op.drop_column("helpdesk_ticket", name)
