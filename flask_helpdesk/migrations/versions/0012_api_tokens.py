"""API tokens: personal tokens of agents, service tokens of host systems (hashed).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 02:06:58.125273
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "helpdesk_api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.String(length=64), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("created_by_agent_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["helpdesk_agent.id"],
            name=op.f("fk_helpdesk_api_token_agent_id_helpdesk_agent"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_agent_id"],
            ["helpdesk_agent.id"],
            name=op.f("fk_helpdesk_api_token_created_by_agent_id_helpdesk_agent"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_api_token")),
        sa.UniqueConstraint("prefix", name=op.f("uq_helpdesk_api_token_prefix")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_helpdesk_api_token_secret_hash")),
    )
    with op.batch_alter_table("helpdesk_api_token", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_helpdesk_api_token_agent_id"), ["agent_id"], unique=False
        )



def downgrade() -> None:
    with op.batch_alter_table("helpdesk_api_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_helpdesk_api_token_agent_id"))

    op.drop_table("helpdesk_api_token")
