"""One inbound mail per posted message: ``helpdesk_inbound_mail.posted_message_id`` becomes
unique, as ``Message.inbound_mail`` (one row, the sender verdict the desk shows) assumes.

Intake links each processed mail to the message it just created, so two rows naming one message
come only from a bug or a hand edit. If there are any, the message keeps the row its own data
names (``inbound_mail_id``), else the oldest; the others lose the link, keep their ticket and
status, and say in ``reason`` which message they had posted. The downgrade drops the uniqueness
only (links cleared stay cleared).

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-06 18:10:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0034"
down_revision: str | None = "0033"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INBOUND = "helpdesk_inbound_mail"
INDEX = "ix_helpdesk_inbound_mail_posted_message_id"

inbound = sa.table(
    INBOUND, sa.column("id"), sa.column("posted_message_id"), sa.column("reason", sa.Text)
)
message = sa.table("helpdesk_message", sa.column("id"), sa.column("data"))


def _named_row(data) -> int | None:
    if isinstance(data, str | bytes):
        try:
            data = json.loads(data)
        except ValueError:
            return None
    value = data.get("inbound_mail_id") if isinstance(data, dict) else None
    return value if isinstance(value, int) else None


def _unlink_duplicates(bind) -> None:
    duplicated = bind.execute(
        sa.select(inbound.c.posted_message_id)
        .where(inbound.c.posted_message_id.is_not(None))
        .group_by(inbound.c.posted_message_id)
        .having(sa.func.count() > 1)
    ).scalars()
    for message_id in list(duplicated):
        rows = bind.execute(
            sa.select(inbound.c.id, inbound.c.reason)
            .where(inbound.c.posted_message_id == message_id)
            .order_by(inbound.c.id)
        ).all()
        named = _named_row(bind.scalar(sa.select(message.c.data).where(message.c.id == message_id)))
        keep = named if named in {row.id for row in rows} else rows[0].id
        for row in rows:
            if row.id == keep:
                continue
            note = f"Posted message {message_id}, which inbound mail {keep} posted too (0034)."
            reason = f"{row.reason}\n{note}" if row.reason else note
            bind.execute(
                inbound.update()
                .where(inbound.c.id == row.id)
                .values(posted_message_id=None, reason=reason)
            )


def upgrade() -> None:
    if not context.is_offline_mode():  # the check reads the data: run this revision online
        _unlink_duplicates(op.get_bind())
    op.drop_index(INDEX, table_name=INBOUND)
    op.create_index(INDEX, INBOUND, ["posted_message_id"], unique=True)


def downgrade() -> None:
    op.drop_index(INDEX, table_name=INBOUND)
    op.create_index(INDEX, INBOUND, ["posted_message_id"], unique=False)
