"""Agents: host admin is decided by the host on every request, never stored in the agent row.

Until now a host admin's first desk visit created (or upgraded) their agent row with the admin
role, and nothing ever took it back: the host removing ``is_admin`` left them a helpdesk admin.
``via_host_admin`` marks a row that exists only because the host said "admin"; the role column
keeps only what a helpdesk admin or the CLI decided.

Existing admin rows that no helpdesk admin or CLI ever saved (no ``agent.created``,
``agent.saved`` or ``agent.updated`` audit event names them) were made by that sync: they become
such rows (role agent), so they follow the host from now on. Downgrading cannot tell the two
apart any more and turns those rows back into plain admin rows, as the old code had them.
``--sql`` mode prints the new column only (the conversion reads the data).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 02:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

agent = sa.table(
    "helpdesk_agent",
    sa.column("id", sa.Integer),
    sa.column("role", sa.String),
    sa.column("via_host_admin", sa.Boolean),
)
audit_event = sa.table(
    "helpdesk_audit_event",
    sa.column("action", sa.String),
    sa.column("data", sa.JSON),
)
SAVED_BY_A_PERSON = ("agent.created", "agent.saved", "agent.updated")


def upgrade() -> None:
    # A plain ADD COLUMN (with a default) works on SQLite too, also in --sql mode.
    op.add_column(
        "helpdesk_agent",
        sa.Column("via_host_admin", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    if context.is_offline_mode():
        return  # which rows the sync made is read from the data: run this revision online
    bind = op.get_bind()
    admins = set(bind.scalars(sa.select(agent.c.id).where(agent.c.role == "admin")))
    if not admins:
        return
    saved = {
        (data or {}).get("agent_id")
        for data in bind.scalars(
            sa.select(audit_event.c.data).where(audit_event.c.action.in_(SAVED_BY_A_PERSON))
        )
        if isinstance(data, dict)
    }
    synced = sorted(admins - saved)
    if synced:
        bind.execute(
            agent.update()
            .where(agent.c.id.in_(synced))
            .values(role="agent", via_host_admin=True)
        )


def downgrade() -> None:
    op.execute(agent.update().where(agent.c.via_host_admin.is_(True)).values(role="admin"))
    with op.batch_alter_table("helpdesk_agent", schema=None) as batch_op:
        batch_op.drop_column("via_host_admin")
