"""Queue: index tickets by assignee in activity order ("Unassigned", "My open", "assigned to").

Measured at 1,000,000 tickets on PostgreSQL (docs/performance.rst): without it the
"Unassigned" queue walked the activity index past tens of thousands of assigned tickets.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 12:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_helpdesk_ticket_assignee_updated", "helpdesk_ticket", ["assignee_id", "updated_at", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_helpdesk_ticket_assignee_updated", table_name="helpdesk_ticket")
