"""Account access with consent: access grants and the log of requests made as the customer.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 09:21:09.751960
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "helpdesk_access_grant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("duration_seconds", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["helpdesk_agent.id"],
            name=op.f("fk_helpdesk_access_grant_agent_id_helpdesk_agent"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["helpdesk_contact.id"],
            name=op.f("fk_helpdesk_access_grant_contact_id_helpdesk_contact"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["helpdesk_ticket.id"],
            name=op.f("fk_helpdesk_access_grant_ticket_id_helpdesk_ticket"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_access_grant")),
    )
    with op.batch_alter_table("helpdesk_access_grant", schema=None) as batch_op:
        batch_op.create_index(
            "ix_helpdesk_access_grant_agent_status", ["agent_id", "status"], unique=False
        )
        batch_op.create_index(
            "ix_helpdesk_access_grant_contact_status", ["contact_id", "status"], unique=False
        )
        batch_op.create_index(
            "ix_helpdesk_access_grant_ticket_requested", ["ticket_id", "requested_at"], unique=False
        )

    op.create_table(
        "helpdesk_impersonation_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("grant_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("path", sa.String(length=2048), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("endpoint", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["grant_id"],
            ["helpdesk_access_grant.id"],
            name=op.f("fk_helpdesk_impersonation_log_grant_id_helpdesk_access_grant"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_impersonation_log")),
    )
    with op.batch_alter_table("helpdesk_impersonation_log", schema=None) as batch_op:
        batch_op.create_index(
            "ix_helpdesk_impersonation_log_grant_created", ["grant_id", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("helpdesk_impersonation_log", schema=None) as batch_op:
        batch_op.drop_index("ix_helpdesk_impersonation_log_grant_created")

    op.drop_table("helpdesk_impersonation_log")
    with op.batch_alter_table("helpdesk_access_grant", schema=None) as batch_op:
        batch_op.drop_index("ix_helpdesk_access_grant_ticket_requested")
        batch_op.drop_index("ix_helpdesk_access_grant_contact_status")
        batch_op.drop_index("ix_helpdesk_access_grant_agent_status")

    op.drop_table("helpdesk_access_grant")
