"""Automatic distribution: a mode per department with the round-robin turn, and an agent's own
shift calendar.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06 05:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("helpdesk_department", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("distribution", sa.String(length=20), nullable=False, server_default="off")
        )
        batch_op.add_column(sa.Column("distribution_last_agent_id", sa.Integer(), nullable=True))
    with op.batch_alter_table("helpdesk_agent", schema=None) as batch_op:
        batch_op.add_column(sa.Column("shift_calendar_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("helpdesk_agent", schema=None) as batch_op:
        batch_op.drop_column("shift_calendar_id")
    with op.batch_alter_table("helpdesk_department", schema=None) as batch_op:
        batch_op.drop_column("distribution_last_agent_id")
        batch_op.drop_column("distribution")
