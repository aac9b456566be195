"""Outgoing webhooks: endpoints and the outbox of their deliveries.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 02:32:40.504336
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "helpdesk_webhook_endpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("events", sa.String(length=1000), nullable=False),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("disabled_reason", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_webhook_endpoint")),
    )
    op.create_table(
        "helpdesk_webhook_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("endpoint_id", sa.Integer(), nullable=False),
        sa.Column("msg_id", sa.String(length=40), nullable=False),
        sa.Column("event", sa.String(length=60), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.String(length=2000), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["helpdesk_webhook_endpoint.id"],
            name=op.f("fk_helpdesk_webhook_delivery_endpoint_id_helpdesk_webhook_endpoint"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_webhook_delivery")),
    )
    with op.batch_alter_table("helpdesk_webhook_delivery", schema=None) as batch_op:
        batch_op.create_index(
            "ix_helpdesk_webhook_delivery_due", ["status", "next_attempt_at"], unique=False
        )
        batch_op.create_index(
            "ix_helpdesk_webhook_delivery_endpoint", ["endpoint_id", "id"], unique=False
        )



def downgrade() -> None:
    with op.batch_alter_table("helpdesk_webhook_delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_helpdesk_webhook_delivery_endpoint")
        batch_op.drop_index("ix_helpdesk_webhook_delivery_due")

    op.drop_table("helpdesk_webhook_delivery")
    op.drop_table("helpdesk_webhook_endpoint")
