"""Facts for reports, written by the services in the same transaction as the change.

Each function adds one or two :class:`~flask_helpdesk.models.TicketFact` rows and never
commits: the caller's commit makes the change and its fact one unit, so a report can never
count something that did not happen (or miss something that did). Working times are readings
of the ticket's SLA clock (services/sla.py over businesstime.py), so reports and SLA agree on
what a working minute is. The backlog is the running sum of ``backlog_delta``: a ticket is in
it from creation until it closes or is marked spam, and again when reopened or restored, and
it is counted under the ticket's department, assignee and priority: a change of any of them
while the ticket is in the backlog moves it (``moved_out`` / ``moved_in``, from attribute
events, so every path that assigns, transfers or re-prioritises is covered).

Every fact also lands in the daily roll-up (``helpdesk_report_day``) by an upsert in the same
transaction (:func:`roll_up`, the only writer besides the rebuild), so reports read one row per
day and group instead of every fact; the same upsert counts it in its week's row too (reports
read whole weeks where a period has them). The roll-up's day is the local day in
``HELPDESK_REPORTS_TIMEZONE``; changing that setting needs ``flask helpdesk reports backfill``,
which rebuilds the roll-up from the facts (:func:`rebuild_rollup`).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Connection,
    Date,
    Integer,
    and_,
    bindparam,
    case,
    cast,
    delete,
    event,
    func,
    insert,
    literal,
    literal_column,
    select,
    true,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, SessionTransaction, attributes, selectinload
from sqlalchemy.orm import object_session as _object_session

from ..models import (
    FactKind,
    Message,
    MessageKind,
    Rating,
    ReplyRating,
    Ticket,
    TicketFact,
    TicketStatus,
    report_day,
    utcnow,
)
from ..models.base import PG_HOT_SLOT
from ..models.reports import (
    BUCKET_EDGES,
    BUCKETS,
    DAY,
    ROLLUP_KEY,
    ROLLUP_MEASURES,
    ROLLUP_SLOT,
    WEEK,
    bucket_column,
)
from ..state import current_helpdesk
from .base import commit, session
from .identity import Actor
from .prepared import Prepared

OUT_OF_BACKLOG = frozenset({TicketStatus.CLOSED, TicketStatus.SPAM})
GOOD_STARS = 4  # 1–5 ratings of 4 and 5 count as good in CSAT


def _current_id(ticket: Ticket, relation: str, column: str) -> int | None:
    """The id of *relation* as the ticket holds it now: a relationship set since the last flush
    has not reached its foreign-key column yet."""
    state = attributes.instance_state(ticket)
    if relation in state.dict:
        related = state.dict[relation]
        return None if related is None else related.id
    return getattr(ticket, column)


def _dimensions(ticket: Ticket) -> dict[str, Any]:
    return {
        "department_id": _current_id(ticket, "department", "department_id"),
        "assignee_id": _current_id(ticket, "assignee", "assignee_id"),
        "channel": ticket.channel,
        "priority": ticket.priority,
    }


def _values(ticket: Ticket, kind: FactKind, at: datetime, **values: Any) -> dict[str, Any]:
    return {
        "ticket_id": ticket.id,
        "kind": kind,
        "at": at,
        **_dimensions(ticket),
        "backlog_delta": 0,
        **values,
    }


# Facts are written, not read back by the transaction that writes them: one INSERT compiled
# once per set of columns, no ORM object to build and flush (issue 17: ticket creation speed).
_INSERT_FACT = insert(TicketFact.__table__)


def _fact(ticket: Ticket, kind: FactKind, at: datetime, **values: Any) -> None:
    row = _values(ticket, kind, at, **values)
    session().execute(_INSERT_FACT, row)
    roll_up([row])


def _seconds(start: datetime | None, end: datetime) -> int | None:
    return None if start is None else max(0, int((end - start).total_seconds()))


def _agent_id(actor: Actor) -> int | None:
    return actor.agent.id if actor.is_agent and actor.agent is not None else None


def created(ticket: Ticket, actor: Actor) -> None:
    """A new ticket (flushed, SLA clock started); opened by support it is answered already."""
    rows = created_rows(ticket, actor)
    for row in rows:
        session().execute(_INSERT_FACT, row)
    roll_up(rows)


def created_rows(ticket: Ticket, actor: Actor) -> list[dict[str, Any]]:
    """The facts :func:`created` writes, for the statement that writes the new ticket with
    them (``services.base.insert_loaded_with``, which gives them its id); then :func:`roll_up`
    them."""
    rows = [
        _values(
            ticket,
            FactKind.CREATED,
            ticket.created_at,
            backlog_delta=1,
            agent_id=_agent_id(actor),
        )
    ]
    if ticket.first_response_at is not None:
        rows.append(
            _values(
                ticket,
                FactKind.FIRST_RESPONSE,
                ticket.created_at,
                agent_id=_agent_id(actor),
                wall_seconds=0,
                work_seconds=0,
                met=True if ticket.first_response_due_at is not None else None,
            )
        )
    return rows


class Before:
    """What a status change is about to overwrite, taken before the SLA clock moves."""

    def __init__(self, ticket: Ticket) -> None:
        self.status = ticket.status
        self.first_response_seconds = ticket.first_response_seconds
        self.first_response_target = (
            ticket.first_response_due_at is not None or ticket.first_response_breached
        )
        self.resolution_target = ticket.resolution_due_at is not None or ticket.resolution_breached
        self.next_from = ticket.sla_next_from
        self.answered_at = ticket.last_agent_reply_at


def _waiting_since(ticket: Ticket, answered_at: datetime | None) -> datetime | None:
    """When the customer's oldest message since the last agent reply was written."""
    query = select(func.min(Message.created_at)).where(
        Message.ticket_id == ticket.id,
        Message.kind == MessageKind.REPLY,
        Message.author_contact_id.is_not(None),
    )
    if answered_at is not None:
        query = query.where(Message.created_at > answered_at)
    return session().scalar(query)


def on_transition(
    ticket: Ticket, actor: Actor, before: Before, replied: bool, now: datetime
) -> None:
    """The facts of one status change (the SLA clock has moved already): a reply (*replied*:
    a public agent reply), the first response, a resolution, a reopen, spam in or out."""
    agent_id = _agent_id(actor)
    clock = ticket.sla_clock_seconds or 0
    first = before.first_response_seconds is None and ticket.first_response_seconds is not None
    if replied:
        # The wait this reply ended: since creation for the first, since the customer's oldest
        # unanswered message for the next ones; None for a follow-up nobody was waiting for.
        if first:
            wall, work = _seconds(ticket.created_at, now), ticket.first_response_seconds
        elif before.next_from is not None:
            wall = _seconds(_waiting_since(ticket, before.answered_at), now)
            work = max(0, clock - before.next_from)
        else:
            wall = work = None
        _fact(ticket, FactKind.REPLY, now, agent_id=agent_id, wall_seconds=wall, work_seconds=work)
    if first:
        _fact(
            ticket,
            FactKind.FIRST_RESPONSE,
            now,
            agent_id=agent_id,
            wall_seconds=_seconds(ticket.created_at, now),
            work_seconds=ticket.first_response_seconds,
            met=(not ticket.first_response_breached) if before.first_response_target else None,
        )
    was_in, is_in = before.status not in OUT_OF_BACKLOG, ticket.status not in OUT_OF_BACKLOG
    if ticket.status == TicketStatus.CLOSED and before.status != TicketStatus.CLOSED:
        _fact(
            ticket,
            FactKind.RESOLVED,
            now,
            agent_id=agent_id,
            wall_seconds=_seconds(ticket.created_at, now),
            work_seconds=ticket.resolution_seconds,
            met=(not ticket.resolution_breached) if before.resolution_target else None,
            backlog_delta=-1 if was_in else 0,
        )
    elif ticket.status == TicketStatus.SPAM and was_in:
        _fact(ticket, FactKind.SPAM, now, agent_id=agent_id, backlog_delta=-1)
    elif is_in and not was_in:
        kind = FactKind.RESTORED if before.status == TicketStatus.SPAM else FactKind.REOPENED
        _fact(ticket, kind, now, agent_id=agent_id, backlog_delta=1)


def _moved(ticket: Ticket, change: dict[str, Any]) -> None:
    """*ticket*'s department, assignee or priority is changing (*change*: the new value of
    one): if it is in the backlog, it leaves the old group's backlog and joins the new one's."""
    rows = _moved_rows(ticket, change)
    if not rows:
        return
    db = _object_session(ticket)
    # An attribute is being set: nothing may be flushed half-way through (no autoflush). The two
    # rows go in as one Core INSERT (executemany): nothing reads them back as objects, and the
    # unit of work's bookkeeping for two more objects was a third of a distribution's flush.
    with db.no_autoflush:
        db.execute(_INSERT_FACT, rows)
        roll_up(rows, db=db)


def _moved_rows(ticket: Ticket, change: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``moved_out`` and ``moved_in`` facts of :func:`_moved` (none: not in the backlog, not
    stored yet, nothing changes)."""
    state = attributes.instance_state(ticket)
    if not state.persistent or ticket.status in OUT_OF_BACKLOG:
        return []  # a new ticket's ``created`` fact carries whatever it ends up with
    if _object_session(ticket) is None:
        return []
    old = _dimensions(ticket)
    new = {**old, **change}
    if new == old:
        return []
    now = utcnow()
    return [
        {**_values(ticket, FactKind.MOVED_OUT, now, backlog_delta=-1), **old},
        {**_values(ticket, FactKind.MOVED_IN, now, backlog_delta=1), **new},
    ]


def assignee_rows(ticket: Ticket, agent_id: int | None) -> list[dict[str, Any]]:
    """The facts of :func:`assignee_written`, not written: for a service that inserts them in a
    statement of its own (automatic distribution on PostgreSQL) with their roll-up
    (:func:`rollup_rows`)."""
    return _moved_rows(ticket, {"assignee_id": agent_id})


def _related_id(value: Any) -> int | None:
    return None if value is None else value.id


@event.listens_for(Ticket.department, "set")
def _department_set(ticket: Ticket, value: Any, _old: Any, _initiator: Any) -> None:
    _moved(ticket, {"department_id": _related_id(value)})


@event.listens_for(Ticket.assignee, "set")
def _assignee_set(ticket: Ticket, value: Any, _old: Any, _initiator: Any) -> None:
    _moved(ticket, {"assignee_id": _related_id(value)})


def assignee_written(ticket: Ticket, agent_id: int | None) -> None:
    """What setting ``ticket.assignee`` does here, for a service that writes the assignment by
    a Core UPDATE and sets it as the ticket's loaded state (no attribute event): call before,
    while the ticket still holds the old assignee (automatic distribution)."""
    _moved(ticket, {"assignee_id": agent_id})


@event.listens_for(Ticket.priority, "set")
def _priority_set(ticket: Ticket, value: Any, _old: Any, _initiator: Any) -> None:
    _moved(ticket, {"priority": value})


def breached(batch: list[Ticket], rows: list[Any], now: datetime) -> None:
    """The escalation sweep raised *rows* (events, once per ticket, target and cycle) for the
    tickets of *batch*: one fact per breach, in one statement like the sweep's own writes."""
    by_id = {ticket.id: ticket for ticket in batch}
    values = [
        _values(by_id[row.ticket_id], FactKind.BREACHED, now, target=row.target)
        for row in rows
        if row.kind == "breached"
    ]
    if values:
        session().execute(_INSERT_FACT, values)
        roll_up(values)


def rated(ticket: Ticket, rating: Rating) -> None:
    """The customer's 1–5 stars after close."""
    _fact(
        ticket,
        FactKind.RATED,
        rating.created_at,
        stars=rating.stars,
        good=rating.stars >= GOOD_STARS,
    )


def reply_rated(ticket: Ticket, rating: ReplyRating, agent_id: int | None) -> None:
    """A good/bad on one reply; a changed rating changes its one fact (CSAT counts it once)."""
    fact = session().scalar(
        select(TicketFact).where(
            TicketFact.kind == FactKind.RATED, TicketFact.message_id == rating.message_id
        )
    )
    if fact is None:
        _fact(
            ticket,
            FactKind.RATED,
            rating.updated_at,
            message_id=rating.message_id,
            good=rating.good,
            agent_id=agent_id,
        )
        return
    before = _row_of(fact)
    fact.good = rating.good
    fact.at = rating.updated_at
    roll_up([before, _row_of(fact)], signs=[-1, 1])


def _row_of(fact: TicketFact) -> dict[str, Any]:
    return {column: getattr(fact, column) for column in _FACT_COLUMNS}


_FACT_COLUMNS = (
    "kind",
    "at",
    "department_id",
    "assignee_id",
    "channel",
    "priority",
    "agent_id",
    "wall_seconds",
    "work_seconds",
    "met",
    "backlog_delta",
    "good",
)


# -- the daily roll-up ------------------------------------------------------------------------


def reports_zone() -> ZoneInfo:
    """The zone whose local days the roll-up and the reports count in."""
    return ZoneInfo(current_helpdesk.config["HELPDESK_REPORTS_TIMEZONE"])


def local_day(at: datetime, zone: ZoneInfo) -> date:
    """The local day of *at* (stored in UTC; naive values are UTC) in *zone*."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(zone).date()


def bucket(seconds: int) -> int:
    """The histogram bucket of a duration (models.reports.BUCKET_EDGES)."""
    return bisect_right(BUCKET_EDGES, seconds)


def _increments(row: dict[str, Any]) -> dict[str, int]:
    """What one fact adds to its roll-up row."""
    kind = FactKind(row["kind"])
    add: dict[str, int] = defaultdict(int)
    delta = row.get("backlog_delta") or 0
    if delta:
        add["backlog"] += delta
    if kind == FactKind.CREATED:
        add["created"] += 1
    elif kind == FactKind.RESOLVED:
        add["solved"] += 1
        add["solved_out"] -= delta
    elif kind == FactKind.REOPENED:
        add["reopened"] += 1
    elif kind == FactKind.FIRST_RESPONSE:
        add["first_responses"] += 1
    elif kind == FactKind.BREACHED:
        add["breaches"] += 1
    elif kind == FactKind.RATED and row.get("good") is not None:
        add["rated"] += 1
        add["good"] += 1 if row["good"] else 0
    if kind in (FactKind.FIRST_RESPONSE, FactKind.RESOLVED) and row.get("met") is not None:
        add["with_target"] += 1
        add["met"] += 1 if row["met"] else 0
    for prefix, fact_kind, column in ROLLUP_MEASURES.values():
        if kind == fact_kind and row.get(column) is not None:
            add[bucket_column(prefix, bucket(row[column]))] += 1
    return add


def week_start(day: date) -> date:
    """The Monday of *day*'s week: the ``day`` of its week's roll-up row."""
    return day - timedelta(days=day.weekday())


def rollup_keys(row: dict[str, Any], zone: ZoneInfo) -> tuple[tuple[Any, ...], ...]:
    """The two roll-up rows of a fact, its day's and its week's (models.reports.ROLLUP_KEY)."""
    channel, priority = row["channel"], row["priority"]
    day = local_day(row["at"], zone)
    group = (
        row["department_id"],
        row.get("agent_id") or row.get("assignee_id") or 0,
        row.get("assignee_id") or 0,
        getattr(channel, "value", channel),
        int(priority),
    )
    return (DAY, day, *group), (WEEK, week_start(day), *group)


HELD_KEY = "helpdesk_rollup_held"  # Session.info: a _Held, the rows rollup_at_the_end holds


class _Held:
    """The roll-up rows one session holds back, and where each of its open savepoints began.

    Held rows are counted by facts already executed in the transaction, so they follow it: a
    commit (or a savepoint's release) writes them first, a rollback drops them, a savepoint
    rolled back drops those held since it began (rows are numbered; a savepoint remembers the
    next number when it began). Kept in ``Session.info`` for the session's life, so numbers
    only grow."""

    __slots__ = ("count", "holding", "marks", "rows")

    def __init__(self) -> None:
        self.holding = False  # inside a rollup_at_the_end block: roll_up holds its rows
        self.rows: list[tuple[int, dict[str, Any], int]] = []  # (number, fact row, sign)
        self.count = 0  # rows held so far in this session: the next row's number
        self.marks: dict[Any, int] = {}  # an open savepoint -> the count when it began

    def hold(self, rows: list[dict[str, Any]], signs: list[int]) -> None:
        for row, sign in zip(rows, signs, strict=True):
            self.rows.append((self.count, row, sign))
            self.count += 1

    def write(self, db: Any) -> None:
        """Upsert the held rows, merged, in *db*'s transaction; nothing is held afterwards."""
        held, self.rows = self.rows, []
        if held:
            _write(db, [row for _n, row, _sign in held], [sign for _n, _row, sign in held])


@contextmanager
def rollup_at_the_end() -> Iterator[None]:
    """Hold back the roll-up upserts of the facts written in the block; send them, merged, as
    its last statement.

    On PostgreSQL an upserted roll-up row stays locked until the commit, and every creator of
    a ticket counts into the same few rows (today's day and week of its department, channel
    and priority): with eight creating processes the others waited on that lock most of the
    time (issue 17). Written last, the row is held for the few statements left before the
    commit. The facts themselves are inserted at once. Blocks nest (the outer one writes).

    The held rows follow the transaction of their facts (session events below): a commit
    inside the block writes those held so far just before it, a rollback drops them, a
    savepoint rolled back drops those held since it began. An exception leaving the block
    leaves them held for the transaction: written if the caller still commits (the facts are
    stored then too), dropped if it rolls back."""
    db = session()
    held = db.info.get(HELD_KEY)
    if held is None:
        held = db.info[HELD_KEY] = _Held()
    if held.holding:
        yield
        return
    held.holding = True
    try:
        yield
    finally:
        held.holding = False
    held.write(db)


@event.listens_for(Session, "before_commit")
def _write_held_before_commit(db: Session) -> None:
    # Also before a savepoint's release: harmless (the rows land in the enclosing transaction
    # with their facts), and a commit of the whole transaction releases its savepoints first.
    # Not inside a rollup_at_the_end block: the rows of its released savepoints stay held,
    # merged, for its end (a worker's batch of mails, a savepoint a mail: one upsert for the
    # batch's new tickets instead of one each; a savepoint rolled back drops its own).
    held = db.info.get(HELD_KEY)
    if held is not None and held.rows and not (held.holding and db.in_nested_transaction()):
        held.write(db)


@event.listens_for(Session, "after_transaction_create")
def _mark_savepoint(db: Session, transaction: SessionTransaction) -> None:
    held = db.info.get(HELD_KEY)
    if held is not None and transaction.nested:
        held.marks[transaction] = held.count


@event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(db: Session, previous_transaction: SessionTransaction) -> None:
    held = db.info.get(HELD_KEY)
    if held is not None and previous_transaction.nested:
        # No mark: the savepoint began before this session held anything (count 0).
        mark = held.marks.pop(previous_transaction, 0)
        held.rows = [entry for entry in held.rows if entry[0] < mark]


@event.listens_for(Session, "after_transaction_end")
def _drop_at_the_end(db: Session, transaction: SessionTransaction) -> None:
    # The transaction is over: committed (the rows were written before), rolled back or
    # closed (their facts are gone). Either way nothing held belongs to the next one.
    held = db.info.get(HELD_KEY)
    if held is not None and transaction.parent is None:
        held.rows.clear()
        held.marks.clear()


def roll_up(rows: Iterable[dict[str, Any]], signs: Iterable[int] | None = None, db=None) -> None:
    """Add facts (*rows*, as inserted; a sign of -1 takes one back) to the roll-up rows of
    their days and weeks, in one upsert in the caller's transaction (held back to the end of
    a :func:`rollup_at_the_end` block). PostgreSQL's ``ON CONFLICT DO UPDATE`` adds to the row
    atomically, so two transactions counting into the same row both count (the second waits
    for the first); SQLite serializes writers anyway. Rows are sent in key order so two
    transactions touching the same rows lock them in the same order."""
    rows = list(rows)
    signs = list(signs) if signs is not None else [1] * len(rows)
    db = db if db is not None else session()
    held = db.info.get(HELD_KEY)
    if held is not None and held.holding:
        held.hold(rows, signs)
        return
    _write(db, rows, signs)


def _write(db: Any, rows: list[dict[str, Any]], signs: list[int]) -> None:
    connection = db.connection(bind_arguments={"mapper": Ticket})
    dialect = connection.dialect
    merged = _merged(rows, signs)
    if merged is None:
        return
    columns, values = merged
    # Two rows for a fact (its day's and its week's), more for the SLA sweep or the demo's
    # history: the driver's executemany, in key order; compiled once a process
    # (services/prepared.py: a third of a ticket creation's upsert on SQLite; on PostgreSQL,
    # where a mail's new ticket writes its roll-up here, 0.1 ms of the worker's CPU a mail).
    prepared = _prepared_upsert(dialect, columns)
    if len(values) == 1 and dialect.name == "postgresql":
        prepared.run(connection, values[0])  # one row: no pipeline for an executemany of one
        return
    prepared.run_many(connection, values)


# (dialect, driver, columns added to) -> the roll-up upsert, compiled
_PREPARED_UPSERTS: dict[tuple[str, str, tuple[str, ...]], Prepared] = {}


def _prepared_upsert(dialect: Any, columns: tuple[str, ...]) -> Prepared:
    key = (dialect.name, dialect.driver, columns)
    prepared = _PREPARED_UPSERTS.get(key)
    if prepared is None:
        # inline(): no RETURNING of the key's ``slot`` (its server default) that SQLAlchemy
        # adds otherwise and nobody reads; on SQLite that cost each row of the upsert.
        prepared = _PREPARED_UPSERTS[key] = Prepared(
            _upsert(dialect.name, columns).inline(), dialect, (*ROLLUP_KEY, *columns)
        )
    return prepared


def _upsert_values(
    dialect: str, rows: list[dict[str, Any]], signs: list[int]
) -> tuple[Any, list[dict[str, Any]]] | None:
    """The upsert adding *rows* (times *signs*) to their roll-up rows, and its parameters in
    key order; None when they add nothing."""
    merged = _merged(rows, signs)
    if merged is None:
        return None
    columns, values = merged
    return _upsert(dialect, columns), values


def _merged(
    rows: list[dict[str, Any]], signs: list[int]
) -> tuple[tuple[str, ...], list[dict[str, Any]]] | None:
    """The roll-up rows *rows* add to, merged, in key order, and the columns they add to (None:
    nothing to add)."""
    zone = reports_zone()
    merged: dict[tuple[Any, ...], dict[str, int]] = {}
    for row, sign in zip(rows, signs, strict=True):
        add = _increments(row)
        if not add:
            continue
        for key in rollup_keys(row, zone):
            target = merged.setdefault(key, defaultdict(int))
            for name, value in add.items():
                target[name] += sign * value
    if not merged:
        return None
    columns = tuple(sorted({name for add in merged.values() for name in add}))
    values = [
        {**dict(zip(ROLLUP_KEY, key, strict=True)), **{c: merged[key].get(c, 0) for c in columns}}
        for key in sorted(merged)
    ]
    return columns, values


def rollup_rows(
    rows: list[dict[str, Any]],
) -> tuple[tuple[str, ...], list[dict[str, Any]]] | None:
    """:func:`roll_up` of the facts *rows* for a caller that sends the upsert inside a statement
    of its own (PostgreSQL, :func:`rollup_upsert_rows`): the columns and the merged rows to
    upsert now, or None when there is nothing to upsert now (held back to the end of a
    :func:`rollup_at_the_end` block, which writes them as usual)."""
    held = session().info.get(HELD_KEY)
    if held is not None and held.holding:
        held.hold(rows, [1] * len(rows))
        return None
    return _merged(rows, [1] * len(rows))


@cache
def rollup_upsert_rows(columns: tuple[str, ...], count: int) -> Any:
    """The PostgreSQL roll-up upsert of :func:`_upsert` as one statement of *count* rows (their
    values as parameters ``r<n>_<column>``, :func:`rollup_parameters`), to be sent inside
    another statement (a data-modifying ``WITH``); built once per column set and row count.
    Its rows are a ``SELECT`` of parameters each, in order (``UNION ALL``): an INSERT of several
    ``VALUES`` rows has no cache key, SQLAlchemy would compile it again every time."""
    names = (*ROLLUP_KEY, *columns)
    rows = parameter_rows(report_day, "r", names, count, literal_column(PG_HOT_SLOT, Integer))
    return (
        postgresql.insert(report_day)
        .from_select([*names, ROLLUP_SLOT], rows)
        .on_conflict_do_update(
            index_elements=[*ROLLUP_KEY, ROLLUP_SLOT],
            set_={c: report_day.c[c] + _excluded(c) for c in columns},
        )
    )


def parameter_rows(table: Any, prefix: str, names: tuple[str, ...], count: int, *extra: Any) -> Any:
    """*count* rows of parameters ``<prefix><n>_<name>`` typed as *table*'s columns *names*
    (then *extra*), in order: the rows of an ``INSERT ... SELECT`` whose statement SQLAlchemy
    compiles once (see :func:`rollup_upsert_rows`)."""
    selects = [
        select(
            *(bindparam(f"{prefix}{n}_{name}", type_=table.c[name].type) for name in names),
            *extra,
        )
        for n in range(count)
    ]
    return selects[0] if count == 1 else union_all(*selects)


def rollup_parameters(values: list[dict[str, Any]]) -> dict[str, Any]:
    """The parameters of :func:`rollup_upsert_rows` for the merged rows *values*."""
    return {f"r{n}_{name}": value for n, row in enumerate(values) for name, value in row.items()}


@cache
def _upsert(dialect: str, columns: tuple[str, ...]) -> Any:
    """The roll-up upsert adding to *columns*, built once per dialect and column set.

    Its values come as parameters, not as ``.values(...)``: a statement carrying its values
    has no cache key, so SQLAlchemy compiled it again for every fact (coercing each of its
    values), 1.1 ms of CPU per fact on SQLite. Built without values it is compiled once per
    column set and reused from the engine's statement cache."""
    if dialect == "postgresql":
        # Into the row of this connection's slot (models/reports.py): parallel creators count
        # into different rows of the same group instead of queueing for one until its commit.
        upsert = postgresql.insert(report_day).values(
            {
                **{name: bindparam(name) for name in (*ROLLUP_KEY, *columns)},
                ROLLUP_SLOT: literal_column(PG_HOT_SLOT, type_=Integer),
            }
        )
    else:
        upsert = sqlite.insert(report_day)  # slot 0, its default: SQLite has one writer
    return upsert.on_conflict_do_update(
        index_elements=[*ROLLUP_KEY, ROLLUP_SLOT],
        set_={c: report_day.c[c] + _excluded(c) for c in columns},
    )


@cache
def _excluded(column: str) -> Any:
    """``excluded.<column>`` of an upsert (the same words on PostgreSQL and SQLite).

    Not ``upsert.excluded[column]``: that builds a proxy of each of the roll-up's ~330 columns
    on every statement, 12 ms of CPU per fact written (most of a ticket's distribution)."""
    return literal_column(f"excluded.{report_day.c[column].name}", type_=Integer)


# -- deleted tickets --------------------------------------------------------------------------
#
# A deleted ticket takes its facts with it (the foreign key's ON DELETE CASCADE on PostgreSQL;
# SQLite, whose foreign keys a host's engine usually leaves off, would keep them as orphans)
# and must take its counts out of the roll-up too, or the reports keep counting a ticket a
# rebuild no longer finds. The department counts need nothing: the database's trigger counts
# a deleted ticket out (models/counts.py). No service deletes tickets (spam and merges keep
# them); a host's admin code or script does, through the session: ``session.delete(ticket)``
# (below, per ticket, in the flush) or ``session.execute(delete(Ticket).where(...))`` (once per
# statement). A DELETE in plain SQL outside the session is not seen: ``flask helpdesk reports
# backfill`` rebuilds the roll-up from the facts then.

_FACTS = TicketFact.__table__
_TICKET_IDS = select(Ticket.__table__.c.id)


def _take_back(connection: Connection, tickets: Any) -> None:
    """Delete the facts of the tickets matching *tickets* (a condition on the ticket table) and
    subtract them from the roll-up, in *connection*'s transaction, before the tickets' own
    DELETE. The tickets are locked first: a fact another transaction is adding to one of them
    (its foreign key check shares the ticket's key) is either committed before, then deleted
    and subtracted here, or refused afterwards (the ticket is gone); the facts subtracted are
    exactly the ones deleted (``RETURNING``)."""
    ids = connection.execute(_TICKET_IDS.where(tickets).with_for_update()).scalars().all()
    if not ids:
        return
    deleted = (
        delete(_FACTS)
        .where(_FACTS.c.ticket_id.in_(ids))
        .returning(*(_FACTS.c[name] for name in _FACT_COLUMNS))
    )
    rows = [dict(row) for row in connection.execute(deleted).mappings()]
    upserted = _upsert_values(connection.dialect.name, rows, [-1] * len(rows)) if rows else None
    if upserted is not None:
        upsert, values = upserted
        connection.execute(upsert, values)


@event.listens_for(Ticket, "before_delete")
def _deleted_ticket(mapper: Any, connection: Connection, ticket: Ticket) -> None:
    # Inside the flush, after the changes of the ticket's children (a rating changed in the
    # same flush is already in its fact row).
    _take_back(connection, Ticket.__table__.c.id == ticket.id)


@event.listens_for(Session, "do_orm_execute")
def _deleted_tickets(state: Any) -> None:
    # By name: delete(Ticket) carries an annotated copy of the table, not the table itself.
    table = getattr(state.statement, "table", None) if state.is_delete else None
    if getattr(table, "name", None) != Ticket.__tablename__:
        return
    where = state.statement.whereclause
    _take_back(state.session.connection(), true() if where is None else where)


def rebuild_rollup(connection: Connection, zone_name: str) -> int:
    """Recompute the whole roll-up from the facts in set-based SQL (one DELETE, one INSERT ...
    SELECT ... GROUP BY for the days, one more for the weeks from the days), in *connection*'s
    transaction; returns the number of rows. On
    PostgreSQL the roll-up is locked against the live upserts meanwhile (they wait, then add
    to the rebuilt rows). Used by the migration that created the roll-up and by ``flask
    helpdesk reports backfill``, also after ``HELPDESK_REPORTS_TIMEZONE`` changed."""
    zone = ZoneInfo(zone_name)
    f = TicketFact.__table__.c
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("LOCK TABLE helpdesk_report_day IN EXCLUSIVE MODE")
        day: Any = func.date(func.timezone(zone_name, func.timezone("UTC", f.at)))
        edges = literal_column("'{" + ",".join(map(str, BUCKET_EDGES)) + "}'::integer[]")

        def bucket_of(column: Any) -> Any:
            return func.width_bucket(column, edges)

    else:
        raw = connection.connection.driver_connection
        raw.create_function(  # type: ignore[union-attr]
            "helpdesk_local_day",
            1,
            lambda at: local_day(datetime.fromisoformat(at), zone).isoformat(),
            deterministic=True,
        )
        raw.create_function(  # type: ignore[union-attr]
            "helpdesk_bucket",
            1,
            lambda value: None if value is None else bucket(value),
            deterministic=True,
        )
        day = func.helpdesk_local_day(f.at)

        def bucket_of(column: Any) -> Any:
            return func.helpdesk_bucket(column)

    timed = [
        case((f.kind == kind, bucket_of(f[column])), else_=None).label(f"b_{prefix}")
        for prefix, kind, column in ROLLUP_MEASURES.values()
    ]
    inner = select(
        literal(DAY).label("span"),
        day.label("day"),
        f.department_id,
        func.coalesce(f.agent_id, f.assignee_id, 0).label("agent_id"),
        func.coalesce(f.assignee_id, 0).label("assignee_id"),
        f.channel,
        f.priority,
        f.kind,
        f.backlog_delta,
        f.met,
        f.good,
        *timed,
    ).subquery()
    kind, c = inner.c.kind, inner.c
    judged = kind.in_([FactKind.FIRST_RESPONSE, FactKind.RESOLVED])

    def count_if(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    sums = {
        "created": count_if(kind == FactKind.CREATED),
        "solved": count_if(kind == FactKind.RESOLVED),
        "solved_out": func.sum(case((kind == FactKind.RESOLVED, -c.backlog_delta), else_=0)),
        "reopened": count_if(kind == FactKind.REOPENED),
        "backlog": func.sum(c.backlog_delta),
        "first_responses": count_if(kind == FactKind.FIRST_RESPONSE),
        "breaches": count_if(kind == FactKind.BREACHED),
        "met": count_if(and_(judged, c.met.is_(true()))),
        "with_target": count_if(and_(judged, c.met.is_not(None))),
        "good": count_if(and_(kind == FactKind.RATED, c.good.is_(true()))),
        "rated": count_if(and_(kind == FactKind.RATED, c.good.is_not(None))),
    }
    for prefix, _kind, _column in ROLLUP_MEASURES.values():
        for b in range(BUCKETS):
            sums[bucket_column(prefix, b)] = count_if(c[f"b_{prefix}"] == b)
    keys = [c[name] for name in ROLLUP_KEY]
    query = select(*keys, *sums.values()).group_by(*keys)
    connection.execute(delete(report_day))
    connection.execute(insert(report_day).from_select([*ROLLUP_KEY, *sums], query))
    _weeks_from_days(connection)
    return connection.execute(select(func.count()).select_from(report_day)).scalar_one()


def _weeks_from_days(connection: Connection) -> None:
    """The week rows as the sums of their days' rows (one INSERT ... SELECT ... GROUP BY)."""
    r = report_day.c
    if connection.dialect.name == "postgresql":
        monday: Any = cast(func.date_trunc("week", r.day), Date)
    else:
        monday = func.date(r.day, "weekday 0", "-6 days")  # the next Sunday (or itself) - 6
    group = [monday.label("day"), *(r[name] for name in ROLLUP_KEY[2:])]
    added = measures()
    weeks = (
        select(literal(WEEK), *group, *(func.sum(r[name]) for name in added))
        .where(r.span == DAY)
        .group_by(*group)
    )
    connection.execute(insert(report_day).from_select([*ROLLUP_KEY, *added], weeks))


@cache
def measures() -> tuple[str, ...]:
    """The roll-up's counts and histogram buckets: every column but the key and the slot."""
    return tuple(
        column.name
        for column in report_day.columns
        if column.name not in ROLLUP_KEY and column.name != ROLLUP_SLOT
    )


def rebuild() -> int:
    """Rebuild the roll-up from every fact in one transaction (``reports backfill``)."""
    rows = rebuild_rollup(
        session().connection(), current_helpdesk.config["HELPDESK_REPORTS_TIMEZONE"]
    )
    commit()
    return rows


# -- existing installs ------------------------------------------------------------------------

BACKFILL_BATCH = 1000


def backfill(
    batch_size: int = BACKFILL_BATCH, progress: Callable[[int], None] | None = None
) -> int:
    """Facts for tickets that have none (made before reports existed), from what the tickets
    kept: creation, first response, the latest close, spam and the 1–5 rating. Earlier replies,
    reopens and moves were not kept and are not invented. Batches of *batch_size* tickets, each
    its own transaction; running it again adds nothing. Returns how many tickets got facts."""
    done, last_id = 0, 0
    has_facts = select(TicketFact.id).where(TicketFact.ticket_id == Ticket.id).exists()
    while True:
        batch = list(
            session().scalars(
                select(Ticket)
                .where(Ticket.id > last_id, ~has_facts)
                .options(selectinload(Ticket.rating))
                .order_by(Ticket.id)
                .limit(batch_size)
            )
        )
        if not batch:
            return done
        for ticket in batch:
            _backfill_ticket(ticket)
        last_id = batch[-1].id
        done += len(batch)
        commit()
        if progress is not None:
            progress(done)


def _backfill_ticket(ticket: Ticket) -> None:
    _fact(ticket, FactKind.CREATED, ticket.created_at, backlog_delta=1)
    if ticket.first_response_at is not None:
        _fact(
            ticket,
            FactKind.FIRST_RESPONSE,
            ticket.first_response_at,
            wall_seconds=_seconds(ticket.created_at, ticket.first_response_at),
            work_seconds=ticket.first_response_seconds,
            # Whether a target applied was not kept; a recorded breach says one did.
            met=False if ticket.first_response_breached else None,
        )
    if ticket.status == TicketStatus.CLOSED and ticket.closed_at is not None:
        _fact(
            ticket,
            FactKind.RESOLVED,
            ticket.closed_at,
            wall_seconds=_seconds(ticket.created_at, ticket.closed_at),
            work_seconds=ticket.resolution_seconds,
            met=False if ticket.resolution_breached else None,
            backlog_delta=-1,
        )
    elif ticket.status == TicketStatus.SPAM:
        _fact(ticket, FactKind.SPAM, ticket.updated_at, backlog_delta=-1)
    if ticket.rating is not None:
        rated(ticket, ticket.rating)
