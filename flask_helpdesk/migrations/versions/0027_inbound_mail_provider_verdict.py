"""Inbound mail: the SPF/DKIM verdict a provider's signed webhook post gave with it.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-06 09:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("helpdesk_inbound_mail", schema=None) as batch_op:
        batch_op.add_column(sa.Column("provider_verdict", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("helpdesk_inbound_mail", schema=None) as batch_op:
        batch_op.drop_column("provider_verdict")
