"""Folding the slots of the hot counters (PostgreSQL).

The department counts (models/counts.py) and the reports' roll-up (models/reports.py) spread
each cell over up to ``HOT_SLOTS`` rows, one per writing connection's slot, so parallel
writers do not queue for one row until each other's commit (issue 17). Readers sum the rows,
so the figures never depend on how a cell is spread; but each cell may grow to 16 rows (the
counters' statement read 12,300 cells spread over all 16 slots in 99 ms, 13 ms folded, at a
load average of 8). The ``fold-slots`` sweep adds them back into slot 0 every ten minutes:
every count, and the roll-up's rows of the days before today and the weeks before this one (a
past period is then read as one row per group again). Today's roll-up rows are left to the
writers.

A fold is one transaction: the rows it takes are first locked in key order (the order the
writers lock theirs in: a transaction writes in one slot, in key order), then deleted and
added to slot 0 in one statement. A writer of a cell being folded waits for that transaction
only, then adds to a new row of its slot. A worker's batch of mails (services/intake.py)
writes several tickets' counts in the order of its mails: a fold that meets it in a deadlock
tries again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from ..models import Ticket, TicketCount, report_day, utcnow
from ..models.reports import DAY, ROLLUP_KEY, WEEK
from .base import commit, session
from .facts import local_day, measures, reports_zone, week_start

_COUNT_KEY = ("department_id", "assignee_id", "status")
# PostgreSQL's "deadlock detected", and how many times a fold meets it before it gives up.
DEADLOCK = "40P01"
FOLD_ATTEMPTS = 3

logger = logging.getLogger("flask_helpdesk.hot_rows")


def _statements(table: str, key: Sequence[str], added: Sequence[str], where: str) -> tuple:
    """The lock and the fold of *table*'s rows matching *where* (besides slot 0): each group of
    *key* summed into its slot 0 row, column by column of *added*."""
    columns = ", ".join(key)
    taken = f"slot <> 0 AND ({where})"
    lock = text(f"SELECT 1 FROM {table} WHERE {taken} ORDER BY {columns}, slot FOR UPDATE")
    fold = text(
        f"WITH folded AS (DELETE FROM {table} WHERE {taken} RETURNING *)"
        f" INSERT INTO {table} ({columns}, slot, {', '.join(added)})"
        f" SELECT {columns}, 0, {', '.join(f'SUM({m})' for m in added)}"
        f" FROM folded GROUP BY {columns} ORDER BY {columns}"
        f" ON CONFLICT ({columns}, slot) DO UPDATE SET "
        + ", ".join(f"{m} = {table}.{m} + excluded.{m}" for m in added)
    )
    return lock, fold


@cache
def _folds() -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    counts = _statements(TicketCount.__tablename__, _COUNT_KEY, ("n",), "true")
    past = f"(span = {DAY} AND day < :day) OR (span = {WEEK} AND day < :week)"
    rollup = _statements(report_day.name, ROLLUP_KEY, measures(), past)
    return counts, rollup


def fold_slots(now: datetime | None = None) -> int:
    """Fold the counts' slots and the roll-up's past slots into slot 0 (see the module's
    docstring), in one transaction; returns the rows folded into (0 on SQLite, which writes
    slot 0 only)."""
    db = session()
    if db.get_bind(mapper=Ticket).dialect.name != "postgresql":
        return 0
    today = local_day(now or utcnow(), reports_zone())
    period = {"day": today, "week": week_start(today)}
    for attempt in range(1, FOLD_ATTEMPTS + 1):
        try:
            folded = 0
            for lock, fold in _folds():
                db.execute(lock, period)
                folded += db.execute(fold, period).rowcount
            commit()
            return folded
        except OperationalError as error:
            # A transaction of several mails (services/intake.py's batch) writes the counts of
            # its tickets in the order of its mails, not in key order: it and a fold can each
            # hold a row the other waits for. PostgreSQL ends one of them after a second; when
            # it is the fold, the fold tries again (the batch's own commit lets it through).
            db.rollback()
            if getattr(error.orig, "sqlstate", None) != DEADLOCK or attempt == FOLD_ATTEMPTS:
                raise
            logger.info(
                "fold-slots: deadlock with a writer, attempt %d of %d", attempt, FOLD_ATTEMPTS
            )
    raise AssertionError("unreachable")
