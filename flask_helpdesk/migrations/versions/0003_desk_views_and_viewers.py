"""Agent desk: saved queue views, who is viewing a ticket, queue sort indexes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 09:18:46.061284
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "helpdesk_saved_view",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["helpdesk_agent.id"],
            name=op.f("fk_helpdesk_saved_view_agent_id_helpdesk_agent"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_saved_view")),
    )
    op.create_index(
        "ix_helpdesk_saved_view_agent_position", "helpdesk_saved_view", ["agent_id", "position"]
    )

    op.create_table(
        "helpdesk_ticket_viewer",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["helpdesk_agent.id"],
            name=op.f("fk_helpdesk_ticket_viewer_agent_id_helpdesk_agent"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["helpdesk_ticket.id"],
            name=op.f("fk_helpdesk_ticket_viewer_ticket_id_helpdesk_ticket"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ticket_id", "agent_id", name=op.f("pk_helpdesk_ticket_viewer")),
    )
    op.create_index(
        "ix_helpdesk_ticket_viewer_seen", "helpdesk_ticket_viewer", ["ticket_id", "last_seen_at"]
    )

    op.create_index(
        "ix_helpdesk_ticket_priority_updated", "helpdesk_ticket", ["priority", "updated_at", "id"]
    )
    op.create_index("ix_helpdesk_ticket_updated", "helpdesk_ticket", ["updated_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_helpdesk_ticket_updated", table_name="helpdesk_ticket")
    op.drop_index("ix_helpdesk_ticket_priority_updated", table_name="helpdesk_ticket")
    op.drop_table("helpdesk_ticket_viewer")
    op.drop_table("helpdesk_saved_view")
