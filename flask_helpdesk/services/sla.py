"""The SLA clock of a ticket: which policy applies, when each target is due, and the facts
recorded for reports.

One clock per ticket counts the working time (of its policy's calendar) during which support
owes the customer something: it runs while the ticket is open, processing or customer_replied,
pauses while answered (waiting on the customer) and stops while closed or spam. Each target is a
reading of that clock: first response at N, resolution at M, next response at the reading when
the customer wrote plus K. Because the reading is kept across every pause and stop, no status
path loses or restarts time (answered → closed → reopened included), and a changed policy only
moves the targets: time already used stays used.

Services call :func:`start` when a ticket is opened, :func:`on_transition` from the one status
change path (``transitions.transition``), and :func:`recompute` when what selects the policy
(department, priority) changes. Nothing here commits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from .. import jobs
from ..businesstime import NoWorkingTime, WorkCalendar
from ..models import SlaPolicy, Ticket, TicketStatus, utcnow
from ..workflow import Trigger
from .base import commit, session
from .calendars import work_calendar
from .sla_policies import ActivePolicy, active_policies, ordered_policies, policy_for

logger = logging.getLogger("flask_helpdesk.sla")

RUNNING = frozenset({TicketStatus.OPEN, TicketStatus.PROCESSING, TicketStatus.CUSTOMER_REPLIED})
STOPPED = frozenset({TicketStatus.CLOSED, TicketStatus.SPAM})
RESPONSE_TRIGGERS = frozenset({Trigger.AGENT_REPLY, Trigger.ANSWER})
TARGETS = ("first_response", "next_response", "resolution")
RECOMPUTE_BATCH = 500


def _calendar(policy: SlaPolicy | None) -> WorkCalendar:
    return work_calendar(policy.calendar if policy is not None else None)


def _policy(ticket: Ticket) -> SlaPolicy | None:
    if ticket.sla_policy_id is None:
        return None
    return session().get(SlaPolicy, ticket.sla_policy_id)


def reading(ticket: Ticket, calendar: WorkCalendar, now: datetime) -> int:
    """Working seconds on the ticket's clock at *now*."""
    seconds = ticket.sla_clock_seconds or 0
    if ticket.sla_running_since is not None:
        seconds += int(calendar.between(ticket.sla_running_since, now).total_seconds())
    return seconds


def _checkpoint(ticket: Ticket, calendar: WorkCalendar, now: datetime) -> int:
    """Bank the time run so far, so that what follows starts from *now*; returns the reading."""
    ticket.sla_clock_seconds = reading(ticket, calendar, now)
    if ticket.sla_running_since is not None:
        ticket.sla_running_since = now
    return ticket.sla_clock_seconds


def start(ticket: Ticket, now: datetime | None = None) -> None:
    """Choose the policy of a new ticket and start its clock (requester and department set; the
    ticket need not be flushed yet: :func:`tickets.open_ticket_with_message` calls this before
    its INSERT, so that the new row is written once)."""
    now = now or ticket.created_at or utcnow()
    # The process's copy of the policies (no query while fresh): a ticket is created often,
    # a policy changed rarely.
    policy = policy_for(ticket, active_policies())
    calendar = policy.work if policy is not None else _calendar(None)
    ticket.sla_policy_id = policy.id if policy is not None else None
    ticket.sla_clock_seconds = 0
    ticket.sla_running_since = now if ticket.status in RUNNING else None
    ticket.sla_after_hours = bool(
        policy is not None
        and policy.after_hours_first_response_minutes
        and policy.calendar_id is not None
        and not calendar.is_open(now)
    )
    if ticket.first_response_at is not None:  # opened by support, already answered
        ticket.first_response_seconds = 0
    _update_dues(ticket, policy, calendar)


def on_transition(
    ticket: Ticket, old: TicketStatus, new: TicketStatus, trigger: Trigger, now: datetime
) -> None:
    """Move the clock and targets for a status change (called before the ticket is saved)."""
    policy = _policy(ticket)
    calendar = _calendar(policy)
    clock = _checkpoint(ticket, calendar, now)
    if trigger in RESPONSE_TRIGGERS:
        if ticket.first_response_seconds is None:
            ticket.first_response_seconds = clock
            ticket.first_response_breached |= _late(ticket.first_response_due_at, now)
        if ticket.sla_next_from is not None:
            ticket.next_response_breached |= _late(ticket.next_response_due_at, now)
            ticket.sla_next_from = None
    elif (
        trigger == Trigger.CUSTOMER_REPLY
        and ticket.first_response_seconds is not None
        and ticket.sla_next_from is None
    ):
        # A next response is owed once the first was given; the clock of a customer who writes
        # twice runs from their first unanswered message.
        ticket.sla_next_from = clock
    if new == TicketStatus.CLOSED and old != TicketStatus.CLOSED:
        ticket.resolution_seconds = clock
        ticket.resolution_breached |= _late(ticket.resolution_due_at, now)
        ticket.sla_next_from = None
    if old == TicketStatus.CLOSED and new != TicketStatus.CLOSED:
        ticket.reopen_count = (ticket.reopen_count or 0) + 1
    ticket.sla_running_since = now if new in RUNNING else None
    _update_dues(ticket, policy, calendar)


def recompute(
    ticket: Ticket, now: datetime | None = None, policies: list[SlaPolicy] | None = None
) -> None:
    """Choose the policy again and move the targets; the clock's reading is kept."""
    now = now or utcnow()
    old_policy = _policy(ticket)
    _checkpoint(ticket, _calendar(old_policy), now)
    policy = policy_for(ticket, policies)
    ticket.sla_policy_id = policy.id if policy is not None else None
    _update_dues(ticket, policy, _calendar(policy))


def _late(due: datetime | None, now: datetime) -> bool:
    return due is not None and now > due


@dataclass(frozen=True)
class Target:
    """One target the clock is running towards: when it is due and when to warn."""

    name: str
    cycle: int  # tells a next response apart from the previous ones (its starting reading)
    due_at: datetime
    warn_at: datetime | None


def targets(
    ticket: Ticket, policy: SlaPolicy | ActivePolicy | None, calendar: WorkCalendar
) -> list[Target]:
    """The targets still open on a running clock (none while paused or stopped)."""
    base = ticket.sla_running_since
    if policy is None or base is None:
        return []
    clock = ticket.sla_clock_seconds or 0
    warn = (policy.warn_before_minutes or 0) * 60

    def at(reading: int, known: datetime | None = None) -> datetime | None:
        left = reading - clock
        if left <= 0:  # already passed: keep the instant it passed if known
            return known if known is not None and known <= base else base
        try:
            return calendar.add(base, timedelta(seconds=left))
        except NoWorkingTime:
            logger.warning("SLA policy %s: its calendar has no opening hours", policy.id)
            return None

    found: list[Target] = []

    def add(name: str, cycle: int, reading: int) -> None:
        due = at(reading, getattr(ticket, f"{name}_due_at"))
        if due is not None:
            found.append(Target(name, cycle, due, at(reading - warn) if warn else None))

    if ticket.first_response_seconds is None and policy.first_response_minutes:
        if ticket.sla_after_hours and policy.after_hours_first_response_minutes:
            due = ticket.created_at + timedelta(minutes=policy.after_hours_first_response_minutes)
            found.append(Target("first_response", 0, due, due - timedelta(seconds=warn)))
        else:
            add("first_response", 0, policy.first_response_minutes * 60)
    if ticket.sla_next_from is not None and policy.next_response_minutes:
        add(
            "next_response",
            ticket.sla_next_from,
            ticket.sla_next_from + policy.next_response_minutes * 60,
        )
    if policy.resolution_minutes:
        add("resolution", 0, policy.resolution_minutes * 60)
    return found


def _update_dues(
    ticket: Ticket, policy: SlaPolicy | ActivePolicy | None, calendar: WorkCalendar
) -> None:
    """Store the due instants, their earliest, and when the sweep should look next."""
    found = targets(ticket, policy, calendar)
    for name in TARGETS:
        setattr(ticket, f"{name}_due_at", None)
    for target in found:
        setattr(ticket, f"{target.name}_due_at", target.due_at)
    ticket.sla_due_at = min((t.due_at for t in found), default=None)
    checks = [t.due_at for t in found] + [t.warn_at for t in found if t.warn_at is not None]
    ticket.sla_check_at = min(checks, default=None)


def recompute_due_times() -> None:
    """Job: move every unclosed ticket's SLA targets after a policy or calendar change, in
    batches (progress in ``job.meta["progress"]`` on RQ)."""
    recompute_open_tickets(progress=jobs.report_progress)


def recompute_open_tickets(
    batch_size: int = RECOMPUTE_BATCH, progress: Callable[[int], None] | None = None
) -> int:
    """Recompute every unclosed ticket's targets (after a policy or calendar change), in
    batches of *batch_size* by id, each its own short transaction; returns how many."""
    done, last_id = 0, 0
    while True:
        tickets = list(
            session().scalars(
                select(Ticket)
                .where(Ticket.id > last_id, Ticket.status.not_in(STOPPED))
                .options(selectinload(Ticket.requester))
                .order_by(Ticket.id)
                .limit(batch_size)
            )
        )
        if not tickets:
            return done
        policies = ordered_policies()
        now = utcnow()
        for ticket in tickets:
            recompute(ticket, now, policies)
        last_id = tickets[-1].id
        done += len(tickets)
        # The identity map holds committed rows weakly: memory stays flat without expunging
        # (which would detach objects of a request that runs this job inline).
        commit()
        if progress is not None:
            progress(done)
        logger.info("SLA due times recomputed for %d ticket(s)", done)
