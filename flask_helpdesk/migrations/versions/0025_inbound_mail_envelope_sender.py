"""Inbound mail: the SMTP envelope sender the mail server handed over.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06 05:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("helpdesk_inbound_mail", schema=None) as batch_op:
        batch_op.add_column(sa.Column("envelope_sender", sa.String(length=254), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("helpdesk_inbound_mail", schema=None) as batch_op:
        batch_op.drop_column("envelope_sender")
