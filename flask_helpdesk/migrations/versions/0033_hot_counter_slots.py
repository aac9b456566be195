"""Slots for the hot counters: the department counts (0029) and the reports' roll-up (0031,
0032) get a ``slot`` key column, so that on PostgreSQL parallel writers add to different rows
of one cell (the backend pid modulo 16) instead of waiting for each other's commits on one row;
readers sum the slots. The rows there are become slot 0; SQLite keeps writing slot 0 only.
Why, and the figures: models/counts.py, models/reports.py, docs/performance.rst. Statements
frozen here as they are at this revision (migrations import no app code).

The downgrade adds each cell's slots into one row again before the column goes, so the counts
and the reports stay what they were.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-06 15:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTS = "helpdesk_ticket_count"
COUNT_KEY = ("department_id", "assignee_id", "status")
ROLLUP = "helpdesk_report_day"
ROLLUP_KEY = ("span", "day", "department_id", "agent_id", "assignee_id", "channel", "priority")
# The roll-up's measures as they are at this revision (0031's counts and histograms).
ROLLUP_COUNTS = (
    "created",
    "solved",
    "solved_out",
    "reopened",
    "backlog",
    "first_responses",
    "breaches",
    "met",
    "with_target",
    "good",
    "rated",
)
ROLLUP_MEASURES = ROLLUP_COUNTS + tuple(
    f"{prefix}_{b:02d}" for prefix in ("fr", "frw", "rs", "rsw") for b in range(78)
)
SLOT = "mod(pg_backend_pid(), 16)"


def _slot(with_slot: bool) -> list[sa.Column]:
    if not with_slot:
        return []
    return [sa.Column("slot", sa.SmallInteger(), nullable=False, server_default=sa.text("0"))]


def _counts_table(with_slot: bool) -> sa.Table:
    """The counts as they stand (SQLite's batch copy; ``--sql`` cannot reflect)."""
    slot = _slot(with_slot)
    return sa.Table(
        COUNTS,
        sa.MetaData(),
        sa.Column("department_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("assignee_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        *slot,
        sa.PrimaryKeyConstraint(*COUNT_KEY, *[c.name for c in slot], name=f"pk_{COUNTS}"),
    )


def _rollup_table(with_slot: bool) -> sa.Table:
    zero = sa.text("0")
    slot = _slot(with_slot)
    return sa.Table(
        ROLLUP,
        sa.MetaData(),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("priority", sa.SmallInteger(), nullable=False),
        *[sa.Column(m, sa.Integer(), server_default=zero, nullable=False) for m in ROLLUP_MEASURES],
        sa.Column("span", sa.SmallInteger(), nullable=False),
        *slot,
        sa.PrimaryKeyConstraint(*ROLLUP_KEY, *[c.name for c in slot], name=f"pk_{ROLLUP}"),
    )


def _sqlite_add(row: str, delta: int, with_slot: bool) -> str:
    target = ", ".join((*COUNT_KEY, "slot") if with_slot else COUNT_KEY)
    return (
        f"INSERT INTO {COUNTS} (department_id, assignee_id, status, n)"
        f" VALUES ({row}.department_id, coalesce({row}.assignee_id, 0), {row}.status, {delta})"
        f" ON CONFLICT ({target}) DO UPDATE SET n = n + {delta};"
    )


CHANGED = (
    "old.status IS NOT new.status OR old.department_id IS NOT new.department_id"
    " OR old.assignee_id IS NOT new.assignee_id"
)
SQLITE_DROP = [f"DROP TRIGGER IF EXISTS {COUNTS}_{suffix}" for suffix in ("ai", "ad", "au")]


def _sqlite_triggers(with_slot: bool) -> list[str]:
    return [
        f"CREATE TRIGGER IF NOT EXISTS {COUNTS}_ai AFTER INSERT ON helpdesk_ticket"
        f" BEGIN {_sqlite_add('new', 1, with_slot)} END",
        f"CREATE TRIGGER IF NOT EXISTS {COUNTS}_ad AFTER DELETE ON helpdesk_ticket"
        f" BEGIN {_sqlite_add('old', -1, with_slot)} END",
        f"CREATE TRIGGER IF NOT EXISTS {COUNTS}_au AFTER UPDATE OF status, department_id,"
        f" assignee_id ON helpdesk_ticket WHEN {CHANGED}"
        f" BEGIN {_sqlite_add('old', -1, with_slot)} {_sqlite_add('new', 1, with_slot)} END",
    ]


def _pg_add(with_slot: bool) -> str:
    slot_column, slot_value, slot_key = (", slot", f", {SLOT}", ", slot") if with_slot else ("",) * 3
    return f"""CREATE OR REPLACE FUNCTION helpdesk_ticket_count_add(
        department INTEGER, assignee INTEGER, state VARCHAR, delta INTEGER) RETURNS void
    LANGUAGE sql AS $$
        INSERT INTO {COUNTS} (department_id, assignee_id, status{slot_column}, n)
        VALUES (department, coalesce(assignee, 0), state{slot_value}, delta)
        ON CONFLICT (department_id, assignee_id, status{slot_key}) DO UPDATE
        SET n = {COUNTS}.n + delta
    $$"""


def _fold(table: str, key: Sequence[str], measures: Sequence[str]) -> None:
    """Each cell's rows summed into one row of slot 0 (slot -1 while both exist)."""
    columns = ", ".join(key)
    op.execute(
        f"INSERT INTO {table} ({columns}, slot, {', '.join(measures)})"
        f" SELECT {columns}, -1, {', '.join(f'SUM({m})' for m in measures)}"
        f" FROM {table} GROUP BY {columns}"
    )
    op.execute(f"DELETE FROM {table} WHERE slot <> -1")
    op.execute(f"UPDATE {table} SET slot = 0")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        # No ticket changes while the counts' key changes (SHARE: reads go on).
        op.execute("LOCK TABLE helpdesk_ticket IN SHARE MODE")
    elif dialect == "sqlite":
        # The triggers name the counts' key; SQLite's table copy below needs them gone first.
        for statement in SQLITE_DROP:
            op.execute(statement)
    for table, copy, key in (
        (COUNTS, _counts_table(False), COUNT_KEY),
        (ROLLUP, _rollup_table(False), ROLLUP_KEY),
    ):
        with op.batch_alter_table(table, copy_from=copy) as batch_op:
            batch_op.add_column(_slot(True)[0])
            batch_op.drop_constraint(f"pk_{table}", type_="primary")
            batch_op.create_primary_key(f"pk_{table}", [*key, "slot"])
    if dialect == "postgresql":
        op.execute(_pg_add(True))
    elif dialect == "sqlite":
        for statement in _sqlite_triggers(True):
            op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("LOCK TABLE helpdesk_ticket IN SHARE MODE")
        op.execute(f"LOCK TABLE {ROLLUP} IN EXCLUSIVE MODE")  # the live upserts wait
    elif dialect == "sqlite":
        for statement in SQLITE_DROP:
            op.execute(statement)
    _fold(COUNTS, COUNT_KEY, ("n",))
    _fold(ROLLUP, ROLLUP_KEY, ROLLUP_MEASURES)
    for table, copy, key in (
        (COUNTS, _counts_table(True), COUNT_KEY),
        (ROLLUP, _rollup_table(True), ROLLUP_KEY),
    ):
        with op.batch_alter_table(table, copy_from=copy) as batch_op:
            batch_op.drop_constraint(f"pk_{table}", type_="primary")
            batch_op.create_primary_key(f"pk_{table}", list(key))
            batch_op.drop_column("slot")
    if dialect == "postgresql":
        op.execute(_pg_add(False))
    elif dialect == "sqlite":
        for statement in _sqlite_triggers(False):
            op.execute(statement)
