"""Automatic distribution: which agent gets a department's new ticket.

Each department has a mode (:class:`~flask_helpdesk.models.DistributionMode`): off, round
robin (the turn passes to the next agent after the one who got the last ticket, remembered on
the department row so every process shares it) or least loaded (fewest live tickets, ties broken
by the turn). An agent qualifies when they are an active member of the department, set
themselves *available*, are on shift (their own shift calendar, else the calendar of the
ticket's SLA policy) and hold fewer live tickets than their capacity. When nobody qualifies the
ticket stays unassigned and is offered again when an agent becomes available, when an agent's
ticket closes or goes to someone else, and by the periodic ``distribution`` sweep.

Concurrency: the ticket's row, the department's, then the candidate agents' rows in id order
are locked (PostgreSQL: one ``SELECT ... FOR NO KEY UPDATE OF`` all three; on SQLite a no-op UPDATE
takes the database's write lock), so two workers distributing at once, in one department or in
two that share agents, count each other's assignments and never exceed a capacity, and never
hand one ticket out twice. Manual assignment stays free: a person may overrule.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import Select, bindparam, func, insert, select, update
from sqlalchemy.orm.attributes import set_committed_value

from .. import jobs, signals
from ..businesstime import WorkCalendar
from ..i18n import gettext as _
from ..i18n import lazy_gettext as _l
from ..models import (
    Agent,
    AuditEvent,
    Availability,
    BusinessCalendar,
    Department,
    DistributionMode,
    Message,
    SlaPolicy,
    Ticket,
    TicketCount,
    TicketFact,
    TicketStatus,
    agent_department,
    utcnow,
)
from . import audit, facts, rule_events
from .base import (
    ValidationError,
    cached_for_app,
    commit,
    forget_cached_for_app,
    send_after_commit,
    session,
)
from .calendars import work_calendar
from .events import event_values, write_event
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
    department = ticket.department
    dialect = session().get_bind(mapper=Department).dialect.name
    candidates = _lock_candidates(ticket, department, dialect)
    if not candidates:
        return None
    if mode is None:
        wanted = department.distribution  # as stored now, under the lock
        if wanted == DistributionMode.OFF:
            return None
    loads = _loads(department.id) if dialect != "sqlite" else {a.id: a.load for a in candidates}
    eligible = _on_shift(
        [a for a in candidates if loads.get(a.id, 0) < a.capacity], ticket, utcnow()
    )
    pick = _pick(wanted, eligible, loads, department.distribution_last_agent_id)
    if pick is None:
        return None
    if dialect == "postgresql":
        chosen = _write_in_one_statement(ticket, department, pick, actor, wanted)
    else:
        chosen = _write(ticket, department, pick.id, actor, wanted)
    rule_events.record(ticket, "assignee_changed", assignee=chosen.id)
    send_after_commit(
        signals.ticket_assigned, ticket=ticket, actor=actor, assignee=chosen, previous=None
    )
    return chosen


def _write(
    ticket: Ticket, department: Department, agent_id: int, actor: Actor, mode: DistributionMode
) -> Agent:
    """The assignment of *ticket* to *agent_id* and what records it, statement by statement
    (SQLite: no round trips to save)."""
    # The one agent chosen as an object (the candidates were read as plain rows: cheap with
    # fifty of them); usually in the session already, else read by primary key.
    chosen = session().get(Agent, agent_id)
    assert chosen is not None  # its row is locked
    # The assignment, the turn and the thread line by Core statements compiled once, not by the
    # unit of work: a flush of the one changed ticket cost a quarter of a distribution's CPU.
    # The ticket takes its new assignee as loaded state; the reports' backlog move, which an
    # attribute set would have triggered, is asked for by name. The turn as a dirty department
    # in a flush also made every process forget its cached mail routing (services/mail_routing:
    # any department change may be a new address).
    facts.assignee_written(ticket, chosen.id)
    session().execute(_ASSIGN, {"ticket_id": ticket.id, "agent_id": chosen.id})
    session().execute(_SET_TURN, {"department_id": department.id, "agent_id": chosen.id})
    _assigned(ticket, department, chosen)
    write_event(ticket, actor, "assigned", assignee_name=chosen.display_name, distribution=mode)
    # The same audit action, webhook event and rule trigger as an assignment by hand.
    audit.record(actor, "ticket.assigned", ticket, old=None, new=chosen.id, distribution=mode)
    return chosen


def _write_in_one_statement(
    ticket: Ticket, department: Department, pick: _Candidate, actor: Actor, mode: DistributionMode
) -> Agent:
    """:func:`_write` on PostgreSQL in one round trip: the report facts of the ticket's backlog
    move, their roll-up (unless held for the end of a ticket's creation), the assignment, the
    turn, the thread line and the audit event as data-modifying ``WITH`` parts of the one
    ``SELECT`` that reads the chosen agent's row (6 statements sent one by one before, each a
    round trip to the server and back). The same rows are stored, written in the same order
    (PostgreSQL runs the parts nobody reads in the order they are listed), so the locks are taken
    in the order the statements took them: the roll-up's rows, then the ticket's count slot row
    (its trigger), then the department's row (held already)."""
    agent_id = pick.id
    moved = facts.assignee_rows(ticket, agent_id)
    rollup = facts.rollup_rows(moved) if moved else None
    # The agent's name as Agent.display_name gives it, from the candidates' row.
    name = pick.name or pick.email or f"#{agent_id}"
    thread_line = event_values(ticket, actor, "assigned", assignee_name=name, distribution=mode)
    audit_row = audit.values(
        actor, "ticket.assigned", ticket, old=None, new=agent_id, distribution=mode
    )
    # No parameter is named as a column of a table written: SQLAlchemy would take it as that
    # column's value in the INSERTs and UPDATEs of the WITH.
    parameters: dict[str, Any] = {
        "w_ticket": ticket.id,
        "w_department": department.id,
        "w_agent": agent_id,
        **{f"f{n}_{name}": value for n, row in enumerate(moved) for name, value in row.items()},
        **{f"m_{name}": value for name, value in thread_line.items()},
        **{f"a_{name}": value for name, value in audit_row.items()},
    }
    if rollup is not None:
        parameters.update(facts.rollup_parameters(rollup[1]))
    statement = _one_statement(
        tuple(moved[0]) if moved else (),
        len(moved),
        rollup[0] if rollup is not None else (),
        len(rollup[1]) if rollup is not None else 0,
        tuple(thread_line),
        tuple(audit_row),
    )
    chosen = session().scalars(statement, parameters).one()
    _assigned(ticket, department, chosen)
    audit.written(audit_row, ticket)
    return chosen


def _assigned(ticket: Ticket, department: Department, chosen: Agent) -> None:
    """The assignment and the turn as written: the loaded state of the objects."""
    set_committed_value(ticket, "assignee", chosen)
    set_committed_value(ticket, "assignee_id", chosen.id)
    set_committed_value(department, "distribution_last_agent_id", chosen.id)


@cache
def _one_statement(
    fact_columns: tuple[str, ...],
    facts_count: int,
    rollup_columns: tuple[str, ...],
    rollup_count: int,
    message_columns: tuple[str, ...],
    audit_columns: tuple[str, ...],
) -> Any:
    """The statement of :func:`_write_in_one_statement`, built once per shape (its values are
    parameters, so SQLAlchemy compiles it once per shape too)."""

    parts: list[Any] = []
    if facts_count:
        fact_table = TicketFact.__table__
        rows = facts.parameter_rows(fact_table, "f", fact_columns, facts_count)
        parts.append(insert(fact_table).from_select(fact_columns, rows))
    if rollup_count:
        parts.append(facts.rollup_upsert_rows(rollup_columns, rollup_count))
    ticket_table = Ticket.__table__
    parts.append(
        update(ticket_table)
        .where(ticket_table.c.id == bindparam("w_ticket"))
        .values(assignee_id=bindparam("w_agent"))
    )
    parts.append(
        update(_DEPARTMENT)
        .where(_DEPARTMENT.c.id == bindparam("w_department"))
        .values(distribution_last_agent_id=bindparam("w_agent"))
    )
    message_table, audit_table = Message.__table__, AuditEvent.__table__
    message = {c: bindparam(f"m_{c}", type_=message_table.c[c].type) for c in message_columns}
    parts.append(insert(message_table).values(message))
    audit_row = {c: bindparam(f"a_{c}", type_=audit_table.c[c].type) for c in audit_columns}
    parts.append(insert(audit_table).values(audit_row))
    ctes = [part.cte(f"w{n}") for n, part in enumerate(parts)]
    return select(Agent).where(Agent.id == bindparam("w_agent")).add_cte(*ctes)


def lock_department_first(department: Department) -> None:
    """Lock *department*'s row now, as :func:`distribute_ticket` will, when it distributes: for
    a writer about to change one of its tickets in a way that distributes it (a new ticket, a
    ticket live again, moved in). PostgreSQL only; no flush.

    The department's row before any row of the ticket counts: the counts' trigger
    (models/counts.py) adds to a slot row when the ticket's INSERT or UPDATE runs, and the
    offers and sweeps hold the department's row when they assign (so update the counts). A
    writer holding a count slot and then asking for the department waited in a circle with an
    offer holding the department and asking for the same slot; and two creators, each holding
    the department's row ``FOR KEY SHARE`` (the foreign key check of their ticket's INSERT),
    both asking for ``FOR UPDATE`` deadlocked every time they overlapped. Taken first, the
    department row queues them instead. Same strength as the candidates' ``FOR NO KEY UPDATE
    OF`` (which a key share does not block: a rule's distribution, which takes no lock first,
    queues too).
    SQLite: nothing (one writer at a time)."""
    if department.distribution == DistributionMode.OFF:
        return
    if session().get_bind(mapper=Department).dialect.name == "sqlite":
        return
    # On the driver: nothing to compile or map, one round trip (the lock is all it is for); the
    # session's connection, without a flush: the pending changes are written after the lock.
    with session().no_autoflush:
        connection = session().connection(bind_arguments={"mapper": Department})
    connection.exec_driver_sql(_LOCK_DEPARTMENT, (department.id,))


class _Candidate(NamedTuple):
    id: int
    capacity: int
    shift_calendar_id: int | None
    name: str | None
    email: str | None
    load: int | None  # read with the candidates on SQLite only


def _lock_candidates(ticket: Ticket, department: Department, dialect: str) -> list[_Candidate]:
    """The department's candidates (:func:`_candidates_query`), their rows and the department's
    locked until the transaction ends, the department's mode and turn read fresh under the lock
    and set as the loaded state of the department object the session holds (so the turn
    written after the choice is compared with what is stored now).

    PostgreSQL: one ``SELECT ... FOR NO KEY UPDATE OF`` the ticket, the department and the
    agents, in a defined order: the rows are locked as they come out of the sort, the ticket
    and the department with the first one, then the agents in id order. The ticket first, as the
    offers and sweeps lock their batch of tickets before they distribute them (and as a caller
    that changed the ticket holds its row already). Two distributors of one department queue on
    its row before they touch any agent; two in departments sharing agents take the shared rows
    in the same order; an agent setting a break locks only their own row: no wait can go round
    in a circle. A row that changed while this statement waited is read again as committed (a
    department's new turn; an agent now on a break no longer matches and is left out; a ticket
    another worker handed out meanwhile matches no more). No row: nothing will be written.

    SQLite has no row locks; a write takes the database's one write lock, so the reads after it
    cannot be overtaken by another distributor's write: a no-op ``UPDATE ... RETURNING`` of the
    department, then the candidates with their loads."""
    params = {"department_id": department.id, "ticket_id": ticket.id}
    if dialect == "sqlite":
        mode, last_agent_id = session().execute(_SQLITE_LOCK, params).one()
        rows = session().execute(_candidates_query(dialect), params)
        candidates = [_Candidate(*row) for row in rows]
    else:
        rows = session().execute(_candidates_query(dialect), params).all()
        if not rows:
            return []
        mode, last_agent_id = rows[0][:2]
        candidates = [_Candidate(*row[2:], load=None) for row in rows]
    set_committed_value(department, "distribution", DistributionMode(mode))
    set_committed_value(department, "distribution_last_agent_id", last_agent_id)
    return candidates


_DEPARTMENT = Department.__table__
_SQLITE_LOCK = (
    update(_DEPARTMENT)
    .where(_DEPARTMENT.c.id == bindparam("department_id"))
    .values(distribution=_DEPARTMENT.c.distribution)
    .returning(_DEPARTMENT.c.distribution, _DEPARTMENT.c.distribution_last_agent_id)
)
_LOCK_DEPARTMENT = "SELECT 1 FROM helpdesk_department WHERE id = %s FOR NO KEY UPDATE"
_ASSIGN = (
    update(Ticket.__table__)
    .where(Ticket.__table__.c.id == bindparam("ticket_id"))
    .values(assignee_id=bindparam("agent_id"))
)
_SET_TURN = (
    update(_DEPARTMENT)
    .where(_DEPARTMENT.c.id == bindparam("department_id"))
    .values(distribution_last_agent_id=bindparam("agent_id"))
)


@cache
def _candidates_query(dialect: str) -> Select[Any]:
    """Active members who set themselves available and may hold a ticket at all, in id order
    (the round-robin order). Only what the choice needs, as plain rows of a Core query (no ORM
    entity, no ORM compile step), built once per dialect (its values are parameters, so
    SQLAlchemy's statement cache compiles it once too).

    PostgreSQL: with the department's mode and turn in front, every row locked
    (:func:`_lock_candidates`). SQLite: with each one's live tickets (:func:`_loads`), right only
    where nobody can commit meanwhile, as under SQLite's write lock: on PostgreSQL a statement
    that waited for a row lock still reads its own older snapshot of the counts."""
    agent, member = Agent.__table__.c, agent_department.c
    source = Agent.__table__.join(agent_department, member.agent_id == agent.id)
    qualifies = (
        member.department_id == bindparam("department_id"),
        agent.is_active.is_(True),
        # Staff only while the host says admin: their desk rights are not ours to know here.
        agent.via_host_admin.is_(False),
        agent.availability == Availability.AVAILABLE,
        agent.capacity > 0,
    )
    columns = (agent.id, agent.capacity, agent.shift_calendar_id, agent.name, agent.email)
    if dialect == "sqlite":
        loads = _loads_query().subquery()
        source = source.outerjoin(loads, loads.c.assignee_id == agent.id)
        return (
            select(*columns, func.coalesce(loads.c.n, 0))
            .select_from(source)
            .where(*qualifies)
            .order_by(agent.id)
        )
    # The ticket, then the department, then the agent in FROM and in OF: each row locks them
    # in that order (the ticket and the department with the first row only).
    ticket, department = Ticket.__table__, _DEPARTMENT.c
    return (
        select(department.distribution, department.distribution_last_agent_id, *columns)
        .select_from(
            ticket.join(_DEPARTMENT, ticket.c.department_id == department.id).join(
                source, member.department_id == department.id
            )
        )
        .where(
            ticket.c.id == bindparam("ticket_id"),
            # Still waiting, as committed: another worker may have handed it out meanwhile.
            ticket.c.assignee_id.is_(None),
            ticket.c.status.in_(ACTIVE_STATUSES),
            department.id == bindparam("department_id"),
            *qualifies,
        )
        .order_by(agent.id)
        # NO KEY UPDATE: the rows' keys stay as they are, and a key share (the foreign key check
        # of a ticket INSERTed in the department, or of one assigned to the agent) must not wait
        # for it nor it for them: two creators each holding their new ticket's key share on the
        # department and then asking for the row deadlocked under FOR UPDATE. Distributors
        # still queue on each other (NO KEY UPDATE conflicts with itself and with UPDATE).
        .with_for_update(of=[ticket, _DEPARTMENT, Agent.__table__], key_share=True)
    )


def _loads(department_id: int) -> dict[int, int]:
    """Live tickets (in any department) held by each member of *department_id*, summed from the
    ticket counts the database keeps per department, assignee and status (models/counts.py): a
    few rows per member however many tickets they hold or held (a count on the assignee index
    walked every live ticket of the department's agents). Run after the agents' rows are
    locked, so that on PostgreSQL it reads what a distributor who held the lock before has
    committed (its counts change in the same transaction as its assignment)."""
    rows = session().execute(_loads_query(), {"department_id": department_id})
    return {agent_id: int(n) for agent_id, n in rows}


@cache
def _loads_query() -> Select[tuple[int, int]]:
    count, member = TicketCount.__table__.c, agent_department.c
    return (
        select(count.assignee_id, func.sum(count.n).label("n"))
        .join_from(
            TicketCount.__table__,
            agent_department,
            (member.agent_id == count.assignee_id)
            & (member.department_id == bindparam("department_id")),
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
