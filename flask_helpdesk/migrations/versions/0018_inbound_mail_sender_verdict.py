"""Inbound mail: SPF, DKIM and DMARC verdicts and whether the sender was verified.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 03:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("helpdesk_inbound_mail", schema=None) as batch_op:
        batch_op.add_column(sa.Column("auth_spf", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("auth_dkim", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("auth_dmarc", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("sender_verified", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("auth_reason", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("helpdesk_inbound_mail", schema=None) as batch_op:
        batch_op.drop_column("auth_reason")
        batch_op.drop_column("sender_verified")
        batch_op.drop_column("auth_dmarc")
        batch_op.drop_column("auth_dkim")
        batch_op.drop_column("auth_spf")
