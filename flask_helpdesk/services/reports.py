"""Reports: plain aggregate queries over the facts (services/facts.py writes them).

Every figure of a period comes from a handful of queries whatever the period's length or the
number of tickets: counts and rates in one grouped query, the percentiles in one more on
PostgreSQL (``percentile_cont``) and in one per measure on SQLite (the two rows around each
percentile picked by window functions, interpolated exactly like ``percentile_cont``), the
backlog from the sum of deltas before the period plus one grouped query of its changes.
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
    true,
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
)
from ..state import current_helpdesk
from .base import ValidationError, session
from .identity import Actor
from .permissions import visible_facts

BUCKET_SECONDS = 900  # every zone's offset is a multiple of 15 minutes
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
    where: ColumnElement[bool]
    own_only: bool  # an agent's own figures: no backlog (it belongs to departments)


def scope_for(actor: Actor) -> Scope:
    """The facts *actor*'s reports cover (services.permissions decides; Forbidden if none)."""
    where, own_only = visible_facts(actor)
    return Scope(where, own_only)


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
    # measure -> (median, 90th percentile) in seconds, None without data
    times: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)

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


def _dimension(name: str | None) -> ColumnElement[Any] | None:
    if name is None:
        return None
    if name not in DIMENSIONS:
        raise ValidationError(_("Unknown breakdown."), {"by": [_("Unknown breakdown.")]})
    return {
        "department": TicketFact.department_id,
        "agent": func.coalesce(TicketFact.agent_id, TicketFact.assignee_id),
        "channel": TicketFact.channel,
        "priority": TicketFact.priority,
    }[name]


def _period_label(period: Period) -> ColumnElement[str]:
    return case((TicketFact.at >= local_midnight(period.first), "current"), else_="previous")


def _window(period: Period) -> ColumnElement[bool]:
    """Facts of *period* and of the previous one of the same length."""
    return and_(
        TicketFact.at >= local_midnight(period.previous.first),
        TicketFact.at < local_midnight(period.last + timedelta(days=1)),
    )


def compare(actor: Actor, period: Period, by: str | None = None) -> dict[tuple[str, Any], Figures]:
    """(``"current"``/``"previous"``, group value or None) -> figures, for *period* and the
    previous period of the same length, grouped by the dimension *by* (none: totals)."""
    scope = scope_for(actor)
    dim = _dimension(by)
    label = _period_label(period)
    keys: list[ColumnElement[Any]] = [label.label("period")]
    if dim is not None:
        keys.append(dim.label("grp"))
    results: dict[tuple[str, Any], Figures] = defaultdict(Figures)

    def key(row: Any) -> tuple[str, Any]:
        return (row.period, row.grp if dim is not None else None)

    counted = select(
        *keys,
        TicketFact.kind,
        func.count().label("n"),
        func.sum(case((TicketFact.met.is_(true()), 1), else_=0)).label("met"),
        func.count(TicketFact.met).label("with_target"),
        func.sum(case((TicketFact.good.is_(true()), 1), else_=0)).label("good"),
        func.count(TicketFact.good).label("rated"),
    ).where(_window(period), scope.where, TicketFact.kind.in_(COUNTED))
    for row in session().execute(counted.group_by(*keys, TicketFact.kind)):
        figures = results[key(row)]
        kind = FactKind(row.kind)
        if kind == FactKind.CREATED:
            figures.created += row.n
        elif kind == FactKind.RESOLVED:
            figures.solved += row.n
        elif kind == FactKind.REOPENED:
            figures.reopened += row.n
        elif kind == FactKind.FIRST_RESPONSE:
            figures.first_responses += row.n
        elif kind == FactKind.BREACHED:
            figures.breaches += row.n
        if kind in (FactKind.FIRST_RESPONSE, FactKind.RESOLVED):
            figures.met += row.met or 0
            figures.with_target += row.with_target or 0
        if kind == FactKind.RATED:
            figures.good += row.good or 0
            figures.rated += row.rated or 0
    for group, times in _percentiles(period, scope, keys, dim is not None).items():
        results[group].times.update(times)
    return dict(results)


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
    start, end = local_midnight(period.first), local_midnight(period.last + timedelta(days=1))
    bucket = _bucket(TicketFact.at)
    query = (
        select(
            bucket.label("bucket"),
            TicketFact.kind,
            func.count().label("n"),
            func.sum(TicketFact.backlog_delta).label("delta"),
        )
        .where(
            TicketFact.at >= start,
            TicketFact.at < end,
            scope.where,
            or_(TicketFact.backlog_delta != 0, TicketFact.kind == FactKind.RESOLVED),
        )
        .group_by(bucket, TicketFact.kind)
    )
    per_day: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    local = zone()
    for row in session().execute(query):
        moment = datetime.fromtimestamp(int(row.bucket) * BUCKET_SECONDS, UTC).astimezone(local)
        counts = per_day[moment.date()]
        kind = FactKind(row.kind)
        if kind == FactKind.CREATED:
            counts["created"] += row.n
        elif kind == FactKind.RESOLVED:
            # A close of a ticket that was out of the backlog (spam) solved nothing new.
            counts["solved"] -= row.delta or 0
        elif kind == FactKind.REOPENED:
            counts["reopened"] += row.n
        else:
            counts["other"] += row.delta or 0
    backlog = None
    if not scope.own_only:
        backlog = session().scalar(
            select(func.coalesce(func.sum(TicketFact.backlog_delta), 0)).where(
                TicketFact.at < start, scope.where
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


def _bucket(column: ColumnElement[datetime]) -> ColumnElement[int]:
    """The quarter hour (since the epoch, UTC) of *column*, computed by the database."""
    if session().get_bind(mapper=Ticket).dialect.name == "postgresql":
        return cast(func.floor(func.extract("epoch", column) / BUCKET_SECONDS), Integer)
    return cast(func.strftime("%s", column), Integer) // BUCKET_SECONDS


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
