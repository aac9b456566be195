"""Reports: plain aggregate queries over the daily roll-up of the facts (services/facts.py
writes both in the same transaction as the change).

Every figure of a period comes from a handful of queries over one row per day or week and group
(``helpdesk_report_day``; whole weeks where a period has them, see :func:`covering`), whatever
the number of tickets: counts, rates and the durations'
histograms in one grouped query, the backlog at the end of the period in one more, the daily
flow in one and the backlog before it in one.

Median and 90th percentile: when the period and the one before hold few timed facts (at most
``EXACT_UP_TO``), they are exact, from the facts themselves in one more query bounded by that
number through the facts' indexes (``percentile_cont`` on PostgreSQL; on SQLite the two rows
around each percentile picked by window functions and interpolated the same way). Above that,
they are read from the roll-up's log-scale histograms: the ranks around the percentile are
placed evenly within their buckets and interpolated like ``percentile_cont``, so the answer is
off by less than one bucket's width: under 20 % of the value (under 60 s below a minute; a
year or more is shown as its bucket's lower edge, about 364 days).
Times are working seconds of each ticket's SLA calendar unless a name says wall.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Integer,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
    select,
)

from ..i18n import department_name
from ..i18n import gettext as _
from ..models import (
    Agent,
    Channel,
    Department,
    FactKind,
    Priority,
    Ticket,
    TicketFact,
    report_day,
)
from ..models.reports import (
    BUCKET_EDGES,
    BUCKETS,
    DAY,
    ROLLUP_COUNTS,
    ROLLUP_MEASURES,
    WEEK,
    bucket_column,
)
from ..state import current_helpdesk
from .base import ValidationError, session
from .identity import Actor
from .permissions import visible_backlog, visible_facts

# Up to this many first responses and resolutions in a report's two periods, percentiles are
# exact (read from the facts); above, from the roll-up's histograms.
EXACT_UP_TO = 5000

DIMENSIONS = ("department", "agent", "channel", "priority")
PERCENTILES = (0.5, 0.9)
# What each measure is: the fact kind and the column whose percentiles it reports.
MEASURES = {
    "first_response": (FactKind.FIRST_RESPONSE, "work_seconds"),
    "first_response_wall": (FactKind.FIRST_RESPONSE, "wall_seconds"),
    "resolution": (FactKind.RESOLVED, "work_seconds"),
    "resolution_wall": (FactKind.RESOLVED, "wall_seconds"),
}
COUNTED = (
    FactKind.CREATED,
    FactKind.RESOLVED,
    FactKind.REOPENED,
    FactKind.FIRST_RESPONSE,
    FactKind.BREACHED,
    FactKind.RATED,
)


# -- who sees what ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    where: ColumnElement[bool]  # on the facts
    rollup: ColumnElement[bool]  # the same on the roll-up
    backlog: ColumnElement[bool]  # the backlog's roll-up rows (an agent's: assigned to them)
    own_only: bool  # an agent's own figures: no daily backlog (it belongs to departments)


def scope_for(actor: Actor) -> Scope:
    """The facts *actor*'s reports cover (services.permissions decides; Forbidden if none)."""
    where, own_only = visible_facts(actor)
    rollup, _own = visible_facts(actor, report_day.c)
    return Scope(where, rollup, visible_backlog(actor, report_day.c), own_only)


# -- periods --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Whole local days, first to last inclusive, in the reports' time zone."""

    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def previous(self) -> Period:
        return Period(self.first - timedelta(days=self.days), self.first - timedelta(days=1))

    def dates(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range(self.days)]


def zone() -> ZoneInfo:
    return ZoneInfo(current_helpdesk.config["HELPDESK_REPORTS_TIMEZONE"])


def local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone()).astimezone(UTC)


def parse_period(first: str | None, last: str | None, today: date | None = None) -> Period:
    """The period a form asked for; the default is the last ``HELPDESK_REPORTS_DEFAULT_DAYS``
    days up to today. Bad dates, a reversed range or one longer than the maximum are refused."""
    config = current_helpdesk.config
    today = today or datetime.now(zone()).date()
    if not first and not last:
        days = config["HELPDESK_REPORTS_DEFAULT_DAYS"]
        return Period(today - timedelta(days=days - 1), today)
    try:
        start = date.fromisoformat((first or "").strip())
        end = date.fromisoformat((last or "").strip()) if last else today
    except ValueError:
        message = _("Please enter dates as YYYY-MM-DD.")
        raise ValidationError(message, {"first": [message]}) from None
    if end < start:
        message = _("The period ends before it starts.")
        raise ValidationError(message, {"last": [message]})
    if (end - start).days + 1 > config["HELPDESK_REPORTS_MAX_DAYS"]:
        message = _(
            "A report covers at most %(days)d days.", days=config["HELPDESK_REPORTS_MAX_DAYS"]
        )
        raise ValidationError(message, {"first": [message]})
    return Period(start, end)


# -- figures --------------------------------------------------------------------------------


@dataclass
class Figures:
    """The figures of one group (a period, or a period and a department, agent, ...)."""

    created: int = 0
    solved: int = 0
    reopened: int = 0
    first_responses: int = 0
    breaches: int = 0
    met: int = 0
    with_target: int = 0
    good: int = 0
    rated: int = 0
    # open at the end of the period (an agent's: assigned to them); None if not reported
    backlog: int | None = None
    # measure -> (median, 90th percentile) in seconds, None without data
    times: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    # measure -> the roll-up's histogram of the period (BUCKETS counts)
    histograms: dict[str, list[int]] = field(default_factory=dict)

    @property
    def sla_compliance(self) -> float | None:
        """Share of first responses and resolutions within their target, in percent."""
        return 100.0 * self.met / self.with_target if self.with_target else None

    @property
    def csat(self) -> float | None:
        """good / (good + bad) in percent (1–5 ratings of 4 and 5 are good)."""
        return 100.0 * self.good / self.rated if self.rated else None

    def time(self, measure: str, percentile: float) -> float | None:
        pair = self.times.get(measure, (None, None))
        return pair[PERCENTILES.index(percentile)]


def _check(name: str | None) -> None:
    if name is not None and name not in DIMENSIONS:
        raise ValidationError(_("Unknown breakdown."), {"by": [_("Unknown breakdown.")]})


def _dimension(name: str | None) -> ColumnElement[Any] | None:
    """The facts' column of the dimension *name* (the exact percentiles group by it)."""
    _check(name)
    if name is None:
        return None
    return {
        "department": TicketFact.department_id,
        "agent": func.coalesce(TicketFact.agent_id, TicketFact.assignee_id),
        "channel": TicketFact.channel,
        "priority": TicketFact.priority,
    }[name]


R = report_day.c


def _rollup_dimension(name: str | None, backlog: bool = False) -> ColumnElement[Any] | None:
    """The roll-up's column of *name*; a backlog per agent is per assignee."""
    _check(name)
    if name is None:
        return None
    if name == "agent":
        return R.assignee_id if backlog else R.agent_id
    return {"department": R.department_id, "channel": R.channel, "priority": R.priority}[name]


def _group(name: str | None, value: Any) -> Any:
    """A roll-up group value as the facts' query gives it (agent 0 is nobody)."""
    if name == "agent" and value == 0:
        return None
    if name == "priority" and value is not None:
        return Priority(value)
    if name == "channel" and value is not None:
        return Channel(value)
    return value


def covering(first: date | None, last: date) -> ColumnElement[bool]:
    """The roll-up rows that count each day from *first* (None: since the beginning) to *last*
    exactly once: the weeks lying wholly inside, and the days before and after them (a day
    is in its day's row and in its week's; only whole weeks may stand for their days)."""
    sunday = last - timedelta(days=(last.weekday() + 1) % 7)  # the last whole week's end
    monday = sunday - timedelta(days=6)  # ... and start
    if first is None:
        return or_(
            and_(R.span == WEEK, R.day <= monday),
            and_(R.span == DAY, R.day > sunday, R.day <= last),
        )
    start = first + timedelta(days=-first.weekday() % 7)  # the first whole week's start
    if start > monday:
        return and_(R.span == DAY, R.day >= first, R.day <= last)
    return or_(
        and_(R.span == DAY, R.day >= first, R.day < start),
        and_(R.span == WEEK, R.day >= start, R.day <= monday),
        and_(R.span == DAY, R.day > sunday, R.day <= last),
    )


def _period_label(period: Period) -> ColumnElement[str]:
    return case((TicketFact.at >= local_midnight(period.first), "current"), else_="previous")


def _window(period: Period) -> ColumnElement[bool]:
    """Facts of *period* and of the previous one of the same length."""
    return and_(
        TicketFact.at >= local_midnight(period.previous.first),
        TicketFact.at < local_midnight(period.last + timedelta(days=1)),
    )


HISTOGRAM_COLUMNS = {
    measure: [bucket_column(prefix, b) for b in range(BUCKETS)]
    for measure, (prefix, _kind, _column) in ROLLUP_MEASURES.items()
}


# Built once: 323 labelled sums cost about 10 ms of CPU to build per request.
SUMS = [func.sum(R[name]).label(name) for name in ROLLUP_COUNTS] + [
    func.sum(R[name]).label(name) for names in HISTOGRAM_COLUMNS.values() for name in names
]


def compare(actor: Actor, period: Period, by: str | None = None) -> dict[tuple[str, Any], Figures]:
    """(``"current"``/``"previous"``, group value or None) -> figures, for *period* and the
    previous period of the same length, grouped by the dimension *by* (none: totals)."""
    return overview(actor, period, by)[1 if by is not None else 0]


Compared = dict[tuple[str, Any], Figures]


def overview(actor: Actor, period: Period, by: str | None) -> tuple[Compared, Compared]:
    """The totals (keys ``(period, None)``) and the breakdown by *by* (``(period, group)``)
    of *period* and the one before, from one grouped query over the roll-up and one for the
    backlog (plus the exact percentiles' queries for a small period): the totals are the sums
    of the groups, every roll-up row being in exactly one group."""
    scope = scope_for(actor)
    dim = _rollup_dimension(by)
    label = case((R.day >= period.first, "current"), else_="previous").label("period")
    keys: list[ColumnElement[Any]] = [label] + ([dim.label("grp")] if dim is not None else [])
    query = (
        select(*keys, *SUMS)
        .where(
            or_(
                covering(period.previous.first, period.previous.last),
                covering(period.first, period.last),
            ),
            scope.rollup,
        )
        .group_by(*keys)
    )
    groups: Compared = defaultdict(Figures)
    totals: Compared = defaultdict(Figures)
    timed = 0
    for row in session().execute(query).mappings():
        group = _group(by, row["grp"]) if dim is not None else None
        for figures in {
            id(f): f for f in (groups[(row["period"], group)], totals[(row["period"], None)])
        }.values():
            figures.created += row["created"]
            figures.solved += row["solved"]
            figures.reopened += row["reopened"]
            figures.first_responses += row["first_responses"]
            figures.breaches += row["breaches"]
            figures.met += row["met"]
            figures.with_target += row["with_target"]
            figures.good += row["good"]
            figures.rated += row["rated"]
            for measure, names in HISTOGRAM_COLUMNS.items():
                counts = figures.histograms.setdefault(measure, [0] * BUCKETS)
                for b, name in enumerate(names):
                    counts[b] += row[name]
        timed += row["first_responses"] + row["solved"]
    if dim is None:
        groups = totals
    targets = [(totals, None)] + ([(groups, by)] if dim is not None else [])
    if timed <= EXACT_UP_TO:
        for results, name in targets:
            facts_keys: list[ColumnElement[Any]] = [_period_label(period).label("period")]
            facts_dim = _dimension(name)
            if facts_dim is not None:
                facts_keys.append(facts_dim.label("grp"))
            found = _percentiles(period, scope, facts_keys, facts_dim is not None)
            for group, times in found.items():
                results[group].times.update(times)
    else:
        for results, _name in targets:
            for figures in results.values():
                for measure, counts in figures.histograms.items():
                    figures.times[measure] = (
                        histogram_percentile(counts, PERCENTILES[0]),
                        histogram_percentile(counts, PERCENTILES[1]),
                    )
    _add_backlog(groups, totals, scope, period, by)
    return dict(totals), dict(groups)


def _add_backlog(
    groups: Compared, totals: Compared, scope: Scope, period: Period, by: str | None
) -> None:
    """The backlog at the end of each period, per group and in total: the sum of every delta
    up to then (an agent's backlog is the tickets assigned to them)."""
    dim = _rollup_dimension(by, backlog=True)
    keys = [dim.label("grp")] if dim is not None else []
    query = select(
        *keys,
        func.sum(case((R.day <= period.previous.last, R.backlog), else_=0)).label("previous"),
        func.sum(R.backlog).label("current"),
    ).where(
        or_(covering(None, period.previous.last), covering(period.first, period.last)),
        scope.backlog,
    )
    for figures in [*groups.values(), *totals.values()]:
        figures.backlog = 0
    for name in ("current", "previous"):
        totals[(name, None)].backlog = 0
    for row in session().execute(query.group_by(*keys) if keys else query):
        group = _group(by, row.grp) if dim is not None else None
        for name in ("current", "previous"):
            value = getattr(row, name) or 0
            if dim is not None and (value or (name, group) in groups):
                groups[(name, group)].backlog = value
            if dim is not None:
                totals[(name, None)].backlog += value  # type: ignore[operator]
            else:
                totals[(name, None)].backlog = value


def histogram_percentile(counts: list[int], p: float) -> float | None:
    """The *p* percentile (``percentile_cont``'s definition) of the values counted in the
    log-scale *counts*: each of the two ranks around it is placed evenly within its bucket,
    then they are interpolated. Off by less than one bucket's width."""
    n = sum(counts)
    if n == 0:
        return None
    position = (n - 1) * p
    low = math.floor(position)
    below = _rank_value(counts, low)
    above = _rank_value(counts, min(low + 1, n - 1))
    return below + (above - below) * (position - low)


def _rank_value(counts: list[int], rank: int) -> float:
    """Where the value of 0-based *rank* lies, spreading each bucket's values evenly."""
    seen = 0
    for b, count in enumerate(counts):
        if rank < seen + count:
            lower = 0 if b == 0 else BUCKET_EDGES[b - 1]
            if b == len(BUCKET_EDGES):
                return float(lower)  # the open last bucket: a year or more
            upper = BUCKET_EDGES[b]
            return lower + (upper - lower) * (rank - seen + 0.5) / count
        seen += count
    raise ValueError("rank beyond the histogram")


def _percentiles(
    period: Period, scope: Scope, keys: list[ColumnElement[Any]], grouped: bool
) -> dict[tuple[str, Any], dict[str, tuple[float | None, float | None]]]:
    found: dict[tuple[str, Any], dict[str, tuple[float | None, float | None]]] = defaultdict(dict)
    where = [_window(period), scope.where]
    if session().get_bind(mapper=Ticket).dialect.name == "postgresql":
        columns = []
        for name, (kind, column_name) in MEASURES.items():
            column = getattr(TicketFact, column_name)
            for n, p in enumerate(PERCENTILES):
                columns.append(
                    func.percentile_cont(p)
                    .within_group(column)
                    .filter(TicketFact.kind == kind)
                    .label(f"{name}_{n}")
                )
        kinds = {kind for kind, _column in MEASURES.values()}
        query = select(*keys, *columns).where(*where, TicketFact.kind.in_(kinds))
        for row in session().execute(query.group_by(*keys)):
            group = (row.period, row.grp if grouped else None)
            for name in MEASURES:
                found[group][name] = tuple(  # type: ignore[assignment]
                    _float(getattr(row, f"{name}_{n}")) for n in range(len(PERCENTILES))
                )
        return found
    for name, (kind, column_name) in MEASURES.items():
        column = getattr(TicketFact, column_name)
        for group, values in _percentiles_by_window(
            keys, column, [*where, TicketFact.kind == kind], grouped
        ).items():
            found[group][name] = values
    return found


def _percentiles_by_window(
    keys: list[ColumnElement[Any]],
    column: ColumnElement[Any],
    where: list[ColumnElement[bool]],
    grouped: bool,
) -> dict[tuple[str, Any], tuple[float | None, float | None]]:
    """``percentile_cont`` where the database has none: number the values of each group in
    order, keep only the two rows around each percentile's position, interpolate here."""
    partition = [k for k in keys]
    inner = (
        select(
            *keys,
            column.label("value"),
            func.row_number().over(partition_by=partition, order_by=column).label("rn"),
            func.count().over(partition_by=partition).label("n"),
        )
        .where(*where, column.is_not(None))
        .subquery()
    )
    wanted = []
    for p in PERCENTILES:
        low = cast((inner.c.n - 1) * literal(p), Integer) + 1
        wanted += [inner.c.rn == low, inner.c.rn == low + 1]
    names = [inner.c.period] + ([inner.c.grp] if grouped else [])
    query = select(*names, inner.c.value, inner.c.rn, inner.c.n).where(or_(*wanted))
    rows: dict[tuple[str, Any], dict[int, float]] = defaultdict(dict)
    sizes: dict[tuple[str, Any], int] = {}
    for row in session().execute(query):
        group = (row.period, row.grp if grouped else None)
        rows[group][row.rn] = float(row.value)
        sizes[group] = row.n
    return {
        group: tuple(_interpolate(values, sizes[group], p) for p in PERCENTILES)  # type: ignore[misc]
        for group, values in rows.items()
    }


def _interpolate(ranked: dict[int, float], n: int, p: float) -> float:
    """percentile_cont over *n* ordered values of which *ranked* holds the needed ones."""
    position = (n - 1) * p
    low = math.floor(position)
    below = ranked[low + 1]
    above = ranked.get(low + 2, below)
    return below + (above - below) * (position - low)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def group_labels(by: str | None, values: list[Any]) -> dict[Any, str]:
    """What each group value of the dimension *by* is called (one query for departments and
    agents, whatever the number of groups)."""
    present = [v for v in values if v is not None]
    if by == "department":
        rows = session().execute(
            select(Department.id, Department.name).where(Department.id.in_(present))
        )
        return {id_: department_name(name) for id_, name in rows}
    if by == "agent":
        agents = session().scalars(select(Agent).where(Agent.id.in_(present)))
        return {agent.id: agent.display_name for agent in agents}
    if by == "channel":
        return {v: Channel(v).label for v in present}
    if by == "priority":
        return {v: Priority(v).label for v in present}
    return {}


# -- created, solved and backlog per day ----------------------------------------------------


@dataclass(frozen=True)
class Day:
    day: date
    created: int
    solved: int
    reopened: int  # and restored from spam, moved in; see ``other``
    other: int  # spam (-), restored (+), moved between departments (+/-)
    backlog: int | None  # open at the end of the day; None for an agent's own figures


def daily(actor: Actor, period: Period) -> tuple[int | None, list[Day]]:
    """The backlog at the start of *period* and each day's changes: for every day,
    backlog = previous backlog + created - solved + reopened + other (a test holds us to it)."""
    scope = scope_for(actor)
    query = (
        select(
            R.day,
            func.sum(R.created).label("created"),
            func.sum(R.solved_out).label("solved"),
            func.sum(R.reopened).label("reopened"),
            func.sum(R.backlog).label("delta"),
        )
        .where(R.span == DAY, R.day >= period.first, R.day <= period.last, scope.rollup)
        .group_by(R.day)
    )
    per_day: dict[date, dict[str, int]] = {}
    for row in session().execute(query):
        day = row.day if isinstance(row.day, date) else date.fromisoformat(str(row.day))
        per_day[day] = {
            "created": row.created,
            "solved": row.solved,
            "reopened": row.reopened,
            # spam (-), restored (+), moved between groups (+/-): the rest of the change
            "other": row.delta - row.created + row.solved - row.reopened,
        }
    backlog = None
    if not scope.own_only:
        backlog = session().scalar(
            select(func.coalesce(func.sum(R.backlog), 0)).where(
                covering(None, period.first - timedelta(days=1)), scope.rollup
            )
        )
    opening, days = backlog, []
    for day in period.dates():
        c = per_day.get(day, {})
        if backlog is not None:
            backlog += c.get("created", 0) - c.get("solved", 0)
            backlog += c.get("reopened", 0) + c.get("other", 0)
        days.append(
            Day(
                day,
                c.get("created", 0),
                c.get("solved", 0),
                c.get("reopened", 0),
                c.get("other", 0),
                backlog,
            )
        )
    return opening, days


__all__ = [
    "DIMENSIONS",
    "Day",
    "Figures",
    "Period",
    "compare",
    "daily",
    "group_labels",
    "parse_period",
]
