"""Weekly rows in the reports' roll-up: a ``span`` key column (1: a day, 7: the week from
Monday to Sunday starting on ``day``), the rows so far being days, and each week's row made as
the sum of its days' rows (statements frozen here, as services.facts builds them at this
revision: migrations import no app code). From now on services/facts.py counts every fact in
its day's row and its week's, and a report reads whole weeks where it can.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-06 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "helpdesk_report_day"
GROUP = ("department_id", "agent_id", "assignee_id", "channel", "priority")
# The counts and histograms as they are at this revision (0031's columns).
COUNTS = (
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
MEASURES = COUNTS + tuple(
    f"{prefix}_{b:02d}" for prefix in ("fr", "frw", "rs", "rsw") for b in range(78)
)


def _table(span: str | None) -> sa.Table:
    """The roll-up as it stands (for SQLite's batch copy, which ``--sql`` cannot reflect):
    without ``span`` (None), with it defaulting to 1 ("default") or without default ("")."""
    zero = sa.text("0")
    spans = []
    if span is not None:
        default = sa.text("1") if span == "default" else None
        spans = [sa.Column("span", sa.SmallInteger(), nullable=False, server_default=default)]
    return sa.Table(
        TABLE,
        sa.MetaData(),
        *spans,
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("priority", sa.SmallInteger(), nullable=False),
        *[sa.Column(m, sa.Integer(), server_default=zero, nullable=False) for m in MEASURES],
        sa.PrimaryKeyConstraint(*[c.name for c in spans], "day", *GROUP, name=f"pk_{TABLE}"),
    )


def upgrade() -> None:
    with op.batch_alter_table(TABLE, copy_from=_table(None)) as batch_op:
        batch_op.add_column(
            sa.Column("span", sa.SmallInteger(), nullable=False, server_default=sa.text("1"))
        )
        batch_op.drop_constraint("pk_helpdesk_report_day", type_="primary")
        batch_op.create_primary_key("pk_helpdesk_report_day", ["span", "day", *GROUP])
    with op.batch_alter_table(TABLE, copy_from=_table("default")) as batch_op:
        batch_op.alter_column("span", server_default=None)
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        monday = "CAST(date_trunc('week', day) AS DATE)"
    else:
        monday = "date(day, 'weekday 0', '-6 days')"  # the next Sunday (or the day) less six
    group = ", ".join(GROUP)
    op.execute(
        f"INSERT INTO {TABLE} (span, day, {group}, {', '.join(MEASURES)})"
        f" SELECT 7, {monday}, {group}, {', '.join(f'SUM({m})' for m in MEASURES)}"
        f" FROM {TABLE} WHERE span = 1 GROUP BY {monday}, {group}"
    )


def downgrade() -> None:
    op.execute(f"DELETE FROM {TABLE} WHERE span <> 1")
    with op.batch_alter_table(TABLE, copy_from=_table("")) as batch_op:
        batch_op.drop_constraint("pk_helpdesk_report_day", type_="primary")
        batch_op.create_primary_key("pk_helpdesk_report_day", ["day", *GROUP])
        batch_op.drop_column("span")
