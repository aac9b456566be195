"""The reports' daily roll-up, back-filled from the facts; an index for an agent's own facts.

One row per local day (``HELPDESK_REPORTS_TIMEZONE`` at the time of the upgrade), department,
agent, assignee, channel and priority: counts, and the durations as log-scale histograms
(78 buckets each for first response and resolution, working and wall time).

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-06 09:00:00.000000
"""

from bisect import bisect_right
from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import context, op
from flask import current_app, has_app_context

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here as they were at this revision (the models may grow later).
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
PREFIXES = ("fr", "frw", "rs", "rsw")
BUCKETS = 78


def _zone() -> str:
    """The host's HELPDESK_REPORTS_TIMEZONE (the upgrade runs in its app context)."""
    if has_app_context():
        return current_app.config.get("HELPDESK_REPORTS_TIMEZONE") or "UTC"
    return "UTC"  # the setting's default


def upgrade() -> None:
    counted = [
        sa.Column(name, sa.Integer(), server_default=sa.text("0"), nullable=False)
        for name in COUNTS
    ]
    histograms = [
        sa.Column(f"{prefix}_{b:02d}", sa.Integer(), server_default=sa.text("0"), nullable=False)
        for prefix in PREFIXES
        for b in range(BUCKETS)
    ]
    op.create_table(
        "helpdesk_report_day",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("priority", sa.SmallInteger(), nullable=False),
        *counted,
        *histograms,
        sa.PrimaryKeyConstraint(
            "day",
            "department_id",
            "agent_id",
            "assignee_id",
            "channel",
            "priority",
            name=op.f("pk_helpdesk_report_day"),
        ),
    )
    with op.batch_alter_table("helpdesk_ticket_fact", schema=None) as batch_op:
        batch_op.create_index("ix_helpdesk_ticket_fact_agent", ["agent_id", "kind", "at"])
    if context.is_offline_mode():
        # ``--sql`` prints DDL only: after applying it, ``flask helpdesk reports backfill``
        # fills the roll-up.
        return
    _backfill(op.get_bind(), _zone())


def _backfill(connection: sa.Connection, zone_name: str) -> None:
    """The facts so far, rolled up in one INSERT ... SELECT ... GROUP BY (a frozen copy of
    services.facts.rebuild_rollup as it was at this revision: migrations import no app code).
    From now on services/facts.py keeps the roll-up."""
    edges = [round(60 * 2 ** (k / 4)) for k in range(BUCKETS - 1)]
    if connection.dialect.name == "postgresql":
        day = "date(timezone(:zone, timezone('UTC', at)))"
        bucket = "width_bucket({}, '{{" + ",".join(map(str, edges)) + "}}'::integer[])"
    else:
        zone = ZoneInfo(zone_name)

        def local_day(at: str) -> str:
            moment = datetime.fromisoformat(at).replace(tzinfo=UTC)
            return moment.astimezone(zone).date().isoformat()

        raw = connection.connection.driver_connection
        raw.create_function("helpdesk_0031_day", 1, local_day, deterministic=True)
        raw.create_function(
            "helpdesk_0031_bucket",
            1,
            lambda v: None if v is None else bisect_right(edges, v),
            deterministic=True,
        )
        day, bucket = "helpdesk_0031_day(at)", "helpdesk_0031_bucket({})"
    measures = {
        "fr": ("first_response", "work_seconds"),
        "frw": ("first_response", "wall_seconds"),
        "rs": ("resolved", "work_seconds"),
        "rsw": ("resolved", "wall_seconds"),
    }
    timed = ", ".join(
        f"CASE WHEN kind = '{kind}' THEN {bucket.format(column)} END AS b_{prefix}"
        for prefix, (kind, column) in measures.items()
    )
    judged = "kind IN ('first_response', 'resolved')"
    sums = {
        "created": "kind = 'created'",
        "solved": "kind = 'resolved'",
        "reopened": "kind = 'reopened'",
        "first_responses": "kind = 'first_response'",
        "breaches": "kind = 'breached'",
        "met": f"{judged} AND met",
        "with_target": f"{judged} AND met IS NOT NULL",
        "good": "kind = 'rated' AND good",
        "rated": "kind = 'rated' AND good IS NOT NULL",
    }
    for prefix in measures:
        for b in range(BUCKETS):
            sums[f"{prefix}_{b:02d}"] = f"b_{prefix} = {b}"
    selected = {name: f"SUM(CASE WHEN {where} THEN 1 ELSE 0 END)" for name, where in sums.items()}
    selected["solved_out"] = "SUM(CASE WHEN kind = 'resolved' THEN -backlog_delta ELSE 0 END)"
    selected["backlog"] = "SUM(backlog_delta)"
    key = "day, department_id, agent_id, assignee_id, channel, priority"
    connection.execute(
        sa.text(
            f"INSERT INTO helpdesk_report_day ({key}, {', '.join(selected)})"
            f" SELECT {key}, {', '.join(selected.values())} FROM ("
            f" SELECT {day} AS day, department_id,"
            " COALESCE(agent_id, assignee_id, 0) AS agent_id,"
            " COALESCE(assignee_id, 0) AS assignee_id, channel, priority, kind,"
            f" backlog_delta, met, good, {timed} FROM helpdesk_ticket_fact) AS f"
            f" GROUP BY {key}"
        ).bindparams(**({"zone": zone_name} if ":zone" in day else {}))
    )


def downgrade() -> None:
    with op.batch_alter_table("helpdesk_ticket_fact", schema=None) as batch_op:
        batch_op.drop_index("ix_helpdesk_ticket_fact_agent")
    op.drop_table("helpdesk_report_day")
