"""Canned replies, per department or personal to an agent.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 10:45:16.429042
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "helpdesk_canned_reply",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("owner_agent_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["helpdesk_department.id"],
            name=op.f("fk_helpdesk_canned_reply_department_id_helpdesk_department"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_agent_id"],
            ["helpdesk_agent.id"],
            name=op.f("fk_helpdesk_canned_reply_owner_agent_id_helpdesk_agent"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_canned_reply")),
    )
    with op.batch_alter_table("helpdesk_canned_reply", schema=None) as batch_op:
        batch_op.create_index(
            "ix_helpdesk_canned_reply_department_title", ["department_id", "title"], unique=False
        )
        batch_op.create_index(
            "ix_helpdesk_canned_reply_owner_title", ["owner_agent_id", "title"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("helpdesk_canned_reply", schema=None) as batch_op:
        batch_op.drop_index("ix_helpdesk_canned_reply_owner_title")
        batch_op.drop_index("ix_helpdesk_canned_reply_department_title")

    op.drop_table("helpdesk_canned_reply")
