"""SQLite's planner statistics, kept by the helpdesk (the ``statistics`` sweep).

SQLite keeps no statistics by itself: until someone runs ``ANALYZE``, it guesses, and for an
agent's queue it guesses wrong. It plans the page from the departments' and the assignee's
indexes and sorts every ticket they hold: 137 to 157 ms of CPU a page at 100,000 tickets,
2.7 ms once the tables are analyzed (``bench/queue_bench.py``, docs/performance.rst). Hosts
rarely run ``ANALYZE`` from cron, so the sweep does it: when the tickets have never been
analyzed, or have doubled since, it analyzes the helpdesk's tables (not the host's). Growth by
doubling keeps the work small over a desk's life (a full pass took 0.3 s of CPU at 100,000
tickets, 2.8 s at 1,000,000); the statistics need the shape of the data, not its exact size.

PostgreSQL analyzes by itself (autovacuum): nothing to do there.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from ..models import HelpdeskModel, Ticket
from .base import commit, session

# Below this many tickets any plan is fast, and statistics of a nearly empty desk would only
# mislead the planner as it fills.
MIN_TICKETS = 1_000
# Analyzed again once the tickets are this many times what they were at the last analysis.
GROWTH = 2


def _analyzed_tickets() -> int | None:
    """How many tickets SQLite counted at the last ``ANALYZE`` (None: never analyzed)."""
    try:
        stats = (
            session()
            .execute(text("SELECT stat FROM sqlite_stat1 WHERE tbl = 'helpdesk_ticket'"))
            .scalars()
        )
        # Each index's row begins with its entries: the table's rows for a whole index, fewer
        # for a partial one (the unread tickets' index, say).
        counted = [int(str(stat).split()[0]) for stat in stats if stat]
    except OperationalError:  # no sqlite_stat1 yet: nothing was ever analyzed
        session().rollback()
        return None
    return max(counted, default=None)


def refresh_sqlite_statistics(force: bool = False) -> str:
    """Analyze the helpdesk's tables on SQLite when the tickets were never analyzed or have
    grown *GROWTH* times since (always with *force*); returns what it did."""
    db = session()
    if db.get_bind(mapper=Ticket).dialect.name != "sqlite":
        return "nothing to do: the database keeps its own statistics"
    tickets = db.execute(text("SELECT count(*) FROM helpdesk_ticket")).scalar() or 0
    analyzed = _analyzed_tickets()
    if not force:
        if tickets < MIN_TICKETS:
            return f"{tickets} tickets: too few to analyze"
        if analyzed is not None and tickets < GROWTH * analyzed:
            return f"statistics up to date ({analyzed} tickets then, {tickets} now)"
    # One table a transaction: ANALYZE holds SQLite's write lock while it reads, and writers
    # wait for it (the whole pass took 2.8 s of CPU at 1,000,000 tickets; per table, a writer
    # waits for one table's share, under the driver's 5 s busy timeout).
    for table in sorted(HelpdeskModel.metadata.tables):
        db.execute(text(f'ANALYZE "{table}"'))
        commit()
    return f"analyzed the helpdesk's tables ({tickets} tickets, {analyzed or 0} before)"


__all__ = ["GROWTH", "MIN_TICKETS", "refresh_sqlite_statistics"]
