"""Automatic distribution: which agent gets a department's new ticket.

Each department has a mode (:class:`~flask_helpdesk.models.DistributionMode`): off, round
robin (the turn passes to the next agent after the one who got the last ticket, remembered on
the department row so every process shares it) or least loaded (fewest live tickets, ties broken
by the turn). An agent qualifies when they are an active member of the department, set
themselves *available*, are on shift (their own shift calendar, else the calendar of the
ticket's SLA policy) and hold fewer live tickets than their capacity. When nobody qualifies the
ticket stays unassigned and is offered again when an agent becomes available, when an agent's
ticket closes or goes to someone else, and by the periodic ``distribution`` sweep.

Concurrency: the department row is locked first (PostgreSQL ``FOR UPDATE``; on SQLite a no-op
UPDATE takes the database's write lock), then the candidate agents' rows in id order, so two
workers distributing at once, in one department or in two that share agents, count each other's
assignments and never exceed a capacity. Manual assignment stays free: a person may overrule.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Select, func, null, select, update
from sqlalchemy.orm.attributes import set_committed_value

from .. import jobs, signals
from ..businesstime import WorkCalendar
from ..i18n import gettext as _
from ..i18n import lazy_gettext as _l
from ..models import (
    Agent,
    Availability,
    BusinessCalendar,
    Department,
    DistributionMode,
    SlaPolicy,
    Ticket,
    TicketCount,
    TicketStatus,
    agent_department,
    utcnow,
)
from . import audit, rule_events
from .base import (
    ValidationError,
    cached_for_app,
    commit,
    forget_cached_for_app,
    send_after_commit,
    session,
)
from .calendars import work_calendar
from .events import add_event
from .identity import SYSTEM, Actor
from .permissions import ensure

# Statuses that count against an agent's capacity: work that is still theirs to do. The same
# statuses make an unassigned ticket wait for distribution.
ACTIVE_STATUSES = (
    TicketStatus.OPEN,
    TicketStatus.ANSWERED,
    TicketStatus.PROCESSING,
    TicketStatus.CUSTOMER_REPLIED,
)
_ACTIVE_VALUES = [status.value for status in ACTIVE_STATUSES]  # as the ticket counts store them
# What lists show for an available agent outside their working hours (never stored).
OFF_SHIFT_LABEL = _l("Off shift")
# Waiting tickets one offer (an event or one department's share of a sweep) tries, oldest first.
OFFER_BATCH = 100
# "Does any department distribute?" is asked whenever an assigned ticket closes; it may lag this
# long in other processes after an admin switches a mode (the sweep catches up meanwhile).
MODES_CACHE_TTL = 30
_MODES_KEY = ("helpdesk-distribution-on",)


def distribute_ticket(
    ticket: Ticket, mode: DistributionMode | str | None = None, actor: Actor = SYSTEM
) -> Agent | None:
    """Assign *ticket* to the agent its department's distribution picks; that agent, or None.

    None means the ticket was left as it was: already assigned, not live (closed, spam), the
    mode is off, or no agent qualifies now (it waits and is offered again later). *mode*
    overrides the department's (a rule's "distribute" action); ``None`` uses the department's.
    Runs in the caller's transaction and does not commit: the assignment is stored with the
    change that caused it. Records what an assignment by hand records (an "assigned" event in
    the thread, the ``ticket.assigned`` audit event and webhook, the rules' ``assignee_changed``
    trigger) and sends ``ticket-assigned`` once the transaction commits.
    """
    if ticket.assignee_id is not None or ticket.status not in ACTIVE_STATUSES:
        return None
    wanted = DistributionMode(mode) if mode is not None else ticket.department.distribution
    if wanted == DistributionMode.OFF:
        return None  # no query at all for the departments that do not distribute
    department = _lock_department(ticket)
    if mode is None:
        wanted = department.distribution  # as stored now, under the lock
        if wanted == DistributionMode.OFF:
            return None
    # SQLite holds the database's write lock already: the loads are read with the candidates.
    # PostgreSQL reads them in a statement of its own, once the agents' rows are locked.
    on_sqlite = _on_sqlite()
    candidates = _candidates(department.id, with_loads=on_sqlite)
    if not candidates:
        return None
    loads = {a.id: a.load for a in candidates} if on_sqlite else _loads(department.id)
    eligible = _on_shift(
        [a for a in candidates if loads.get(a.id, 0) < a.capacity], ticket, utcnow()
    )
    pick = _pick(wanted, eligible, loads, department.distribution_last_agent_id)
    if pick is None:
        return None
    # The one agent chosen as an object (the candidates were read as plain rows: cheap with
    # fifty of them); usually in the session already, else read by primary key.
    chosen = session().get(Agent, pick.id)
    assert chosen is not None  # its row is locked
    ticket.assignee = chosen
    department.distribution_last_agent_id = chosen.id
    add_event(ticket, actor, "assigned", assignee_name=chosen.display_name, distribution=wanted)
    # The same audit action, webhook event and rule trigger as an assignment by hand.
    audit.record(actor, "ticket.assigned", ticket, old=None, new=chosen.id, distribution=wanted)
    rule_events.record(ticket, "assignee_changed", assignee=chosen.id)
    send_after_commit(
        signals.ticket_assigned, ticket=ticket, actor=actor, assignee=chosen, previous=None
    )
    return chosen


def _lock_department(ticket: Ticket) -> Department:
    """The ticket's department with its distribution settings read fresh and locked until the
    transaction ends.

    A plain-row read (no ORM entity loading with ``populate_existing``: a third of this
    function's CPU) whose values are set as the loaded state of the department object the
    session holds, so the turn written after the choice is compared with what is stored now."""
    department = ticket.department
    table = Department.__table__
    columns = (table.c.distribution, table.c.distribution_last_agent_id)
    if _on_sqlite():
        # SQLite has no row locks; a write takes the database's one write lock, so the reads
        # below cannot be overtaken by another distributor's write. The no-op UPDATE returns
        # the row it locked: one statement.
        locked = (
            update(table)
            .where(table.c.id == department.id)
            .values(distribution=table.c.distribution)
            .returning(*columns)
        )
    else:
        locked = select(*columns).where(table.c.id == department.id).with_for_update()
    mode, last_agent_id = session().execute(locked).one()
    set_committed_value(department, "distribution", DistributionMode(mode))
    set_committed_value(department, "distribution_last_agent_id", last_agent_id)
    return department


def _on_sqlite() -> bool:
    return session().get_bind(mapper=Department).dialect.name == "sqlite"


class _Candidate(NamedTuple):
    id: int
    capacity: int
    shift_calendar_id: int | None
    load: int | None  # read with the candidates on SQLite only


def _candidates(department_id: int, with_loads: bool) -> list[_Candidate]:
    """Active members who set themselves available and may hold a ticket at all, in id order
    (the round-robin order), their rows locked against another distributor. Only what the choice
    needs, as plain rows of a Core query (no ORM entity, no ORM compile step): read fresh under
    the lock, without building an object per agent. *with_loads*: each one's live tickets too
    (:func:`_loads`; right only where nobody can commit meanwhile, SQLite under its write lock:
    on PostgreSQL a statement that waited for a row lock still reads its own older snapshot)."""
    agent, member = Agent.__table__.c, agent_department.c
    source = Agent.__table__.join(agent_department, member.agent_id == agent.id)
    load: Any = null()
    if with_loads:
        loads = _loads_query(department_id).subquery()
        source = source.outerjoin(loads, loads.c.assignee_id == agent.id)
        load = func.coalesce(loads.c.n, 0)
    query = (
        select(agent.id, agent.capacity, agent.shift_calendar_id, load)
        .select_from(source)
        .where(
            member.department_id == department_id,
            agent.is_active.is_(True),
            # Staff only while the host says admin: their desk rights are not ours to know here.
            agent.via_host_admin.is_(False),
            agent.availability == Availability.AVAILABLE,
            agent.capacity > 0,
        )
        .order_by(agent.id)
        .with_for_update(of=Agent.__table__)
    )
    return [_Candidate(*row) for row in session().execute(query)]


def _loads(department_id: int) -> dict[int, int]:
    """Live tickets (in any department) held by each member of *department_id*, summed from the
    ticket counts the database keeps per department, assignee and status (models/counts.py): a
    few rows per member however many tickets they hold or held (a count on the assignee index
    walked every live ticket of the department's agents). Run after the agents' rows are
    locked, so that on PostgreSQL it reads what a distributor who held the lock before has
    committed (its counts change in the same transaction as its assignment)."""
    rows = session().execute(_loads_query(department_id))
    return {agent_id: int(n) for agent_id, n in rows}


def _loads_query(department_id: int) -> Select[tuple[int, int]]:
    count, member = TicketCount.__table__.c, agent_department.c
    return (
        select(count.assignee_id, func.sum(count.n).label("n"))
        .join_from(
            TicketCount.__table__,
            agent_department,
            (member.agent_id == count.assignee_id) & (member.department_id == department_id),
        )
        .where(count.status.in_(_ACTIVE_VALUES))
        .group_by(count.assignee_id)
    )


def _on_shift(agents: list[_Candidate], ticket: Ticket, now: datetime) -> list[_Candidate]:
    """*agents* inside their working hours: their own shift calendar, else the calendar of the
    ticket's SLA policy (each calendar asked once)."""
    shifts = _shift_calendars(agents)
    open_now: dict[int | None, bool] = {}
    kept = []
    for agent in agents:
        key = agent.shift_calendar_id if agent.shift_calendar_id in shifts else None
        if key not in open_now:
            hours = shifts[key] if key is not None else _ticket_calendar(ticket)
            open_now[key] = hours.is_open(now)
        if open_now[key]:
            kept.append(agent)
    return kept


def _shift_calendars(agents: Iterable[Agent | _Candidate]) -> dict[int, WorkCalendar]:
    ids = {a.shift_calendar_id for a in agents if a.shift_calendar_id is not None}
    if not ids:
        return {}
    rows = session().scalars(select(BusinessCalendar).where(BusinessCalendar.id.in_(ids)))
    return {c.id: work_calendar(c) for c in rows}


def _ticket_calendar(ticket: Ticket) -> WorkCalendar:
    """The working hours of the ticket's SLA policy (round the clock without one)."""
    policy = session().get(SlaPolicy, ticket.sla_policy_id) if ticket.sla_policy_id else None
    return work_calendar(policy.calendar if policy is not None else None)


def _pick(
    mode: DistributionMode, eligible: list[_Candidate], loads: dict[int, int], last_id: int | None
) -> _Candidate | None:
    """The next agent in turn after *last_id* (round robin), or the least loaded one, ties
    going to whoever is next in turn."""
    if not eligible:
        return None
    # The turn: agents after the last one first, then from the start again.
    turn = sorted(eligible, key=lambda a: (last_id is not None and a.id <= last_id, a.id))
    if mode == DistributionMode.LEAST_LOADED:
        return min(turn, key=lambda a: loads.get(a.id, 0))  # min keeps the first of equals
    return turn[0]


# -- offering waiting tickets again ---------------------------------------------------------------


def offer_waiting(department_id: int, limit: int = OFFER_BATCH) -> int:
    """Distribute the department's waiting tickets (live, unassigned), oldest first, until one
    finds nobody or *limit* is reached; commits. Returns how many were assigned.

    Tickets another worker is distributing right now are skipped (``SKIP LOCKED``), so a sweep
    and an event offering at once never hand one ticket out twice.
    """
    department = session().get(Department, department_id)
    if department is None or department.distribution == DistributionMode.OFF:
        return 0
    waiting = list(
        session().scalars(
            select(Ticket)
            .where(
                Ticket.department_id == department_id,
                Ticket.assignee_id.is_(None),
                Ticket.status.in_(ACTIVE_STATUSES),
            )
            .order_by(Ticket.created_at, Ticket.id)
            .limit(limit)
            .with_for_update(of=Ticket, skip_locked=True)
        )
    )
    assigned = 0
    for ticket in waiting:
        if distribute_ticket(ticket) is None:
            break
        assigned += 1
    commit()
    return assigned


def offer_for_agent(agent_id: int) -> int:
    """Job: *agent_id* may take tickets now (became available, a ticket of theirs closed or went
    to someone else, capacity raised): offer the waiting tickets of their departments."""
    department_ids = session().scalars(
        select(Department.id)
        .join(agent_department, agent_department.c.department_id == Department.id)
        .where(
            agent_department.c.agent_id == agent_id,
            Department.distribution != DistributionMode.OFF,
        )
        .order_by(Department.id)
    )
    return sum(offer_waiting(d) for d in list(department_ids))


def offer_department(department_id: int) -> int:
    """Job: the department started distributing; hand out what waits there."""
    return offer_waiting(department_id)


def offer_later(agent_id: int | None) -> None:
    """*agent_id* may take more now (became available, a live ticket of theirs closed or went
    to someone else, more capacity): after commit, offer the waiting tickets of their
    departments. Nothing (not even a query, mostly) while no department distributes."""
    if agent_id is None or not _any_department_distributes():
        return
    _enqueue_once(offer_for_agent, agent_id)


def _any_department_distributes() -> bool:
    def compute() -> bool:
        query = select(Department.id).where(Department.distribution != DistributionMode.OFF)
        return session().scalar(query.limit(1)) is not None

    return cached_for_app(_MODES_KEY, MODES_CACHE_TTL, compute)


def _enqueue_once(func, *args: int) -> None:
    pending = session().info.get(jobs.PENDING_KEY, [])
    if not any(f is func and a == args for f, a, _kw in pending):
        jobs.enqueue(func, *args)


def sweep(limit: int = OFFER_BATCH) -> str:
    """The periodic catch-up: offer the waiting tickets of every distributing department (an
    agent's shift began, an event's job was lost). Safe to run twice at once."""
    department_ids = list(
        session().scalars(
            select(Department.id)
            .where(Department.distribution != DistributionMode.OFF, Department.is_active)
            .order_by(Department.id)
        )
    )
    assigned = sum(offer_waiting(d, limit) for d in department_ids)
    return f"{assigned} ticket(s) distributed in {len(department_ids)} department(s)"


# -- settings -------------------------------------------------------------------------------------


def parse_mode(value: DistributionMode | str | None) -> DistributionMode:
    try:
        return DistributionMode(value or DistributionMode.OFF)
    except ValueError:
        message = _("Unknown distribution mode.")
        raise ValidationError(message, {"distribution": [message]}) from None


def set_mode(actor: Actor, department: Department, mode: DistributionMode | str) -> Department:
    """An admin sets how *department* hands out its tickets; switching it on offers what waits
    there (after commit)."""
    ensure(actor, "manage")
    new = parse_mode(mode)
    old = department.distribution
    if new == old:
        return department
    department.distribution = new
    audit.record(
        actor, "department.distribution_changed", department_id=department.id, old=old, new=new
    )
    mode_changed(department)
    commit()
    return department


def mode_changed(department: Department) -> None:
    """The department's mode was just changed (no commit): forget the cached "anyone
    distributes?" and, when it distributes now, offer what waits there after commit."""
    forget_cached_for_app(_MODES_KEY)
    if department.distribution != DistributionMode.OFF:
        _enqueue_once(offer_department, department.id)


def availability_label(agent: Agent, now: datetime | None = None) -> str:
    """What lists show for *agent*: their own setting, or "Off shift" when they are available
    but outside their shift calendar's hours."""
    return availability_labels([agent], now)[agent.id]


def availability_labels(agents: Sequence[Agent], now: datetime | None = None) -> dict[int, str]:
    """:func:`availability_label` of each of *agents* by id; one query for their shift
    calendars, none when nobody has one."""
    now = now or utcnow()
    available = [a for a in agents if a.availability == Availability.AVAILABLE]
    shifts = _shift_calendars(available)
    labels = {a.id: str(a.availability.label) for a in agents}
    for agent in available:
        hours = shifts.get(agent.shift_calendar_id) if agent.shift_calendar_id else None
        if hours is not None and not hours.is_open(now):
            labels[agent.id] = str(OFF_SHIFT_LABEL)
    return labels
