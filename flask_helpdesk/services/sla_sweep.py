"""Escalation: the sweep that raises SLA warnings and breaches, once per ticket and target.

A ticket's ``sla_check_at`` is the next instant something may happen to it (a warning window
opens, a target passes); the sweep reads the tickets whose instant has come through its index, in
bounded batches, and never queues a job per ticket. For each it records an :class:`SlaEvent` —
the unique key (ticket, target, kind, cycle) is what makes each warning and breach happen once,
even with two sweeps running at once — adds an internal note to the thread, sends the
``sla-warned``/``sla-breached`` signal after commit, and moves ``sla_check_at`` on.

Notifications to agents wait for the policy's calendar to open ("not at 3 a.m.") unless the
policy says otherwise: each event carries the instant its notification may go
(``notify_after``), and the sweep's second phase queues the ones whose instant has come. All the
state is in the database, so a Redis flush loses nothing and cron can run the sweep
(``flask helpdesk sla-sweep``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .. import jobs, signals
from ..models import Channel, Message, MessageKind, SlaEvent, Ticket, utcnow
from ..state import current_helpdesk
from .base import commit, send_signal, session
from .identity import SYSTEM
from .sla import Target, _calendar, _policy, targets
from .sla_notify import staff_of_sla_event

logger = logging.getLogger("flask_helpdesk.sla")

MAX_BATCHES = 1000  # one run handles at most this many batches; the next run goes on


@dataclass
class SweepResult:
    warned: int = 0
    breached: int = 0
    notifications: int = 0
    tickets: int = 0
    raised: list[SlaEvent] = field(default_factory=list, repr=False)

    def __str__(self) -> str:
        return (
            f"{self.tickets} ticket(s) checked, {self.warned} warning(s), "
            f"{self.breached} breach(es), {self.notifications} notification(s) queued"
        )


def _locked(query):
    """Rows another sweep is working on are skipped, not waited for (PostgreSQL)."""
    if session().get_bind().dialect.name == "postgresql":
        return query.with_for_update(skip_locked=True, of=Ticket)
    return query


def _raise(
    ticket: Ticket, target: Target, kind: str, now: datetime, notify_after: datetime | None
) -> SlaEvent | None:
    """Record one event unless it already exists; the event when this call raised it."""
    event = SlaEvent(
        ticket_id=ticket.id,
        target=target.name,
        kind=kind,
        cycle=target.cycle,
        due_at=target.due_at,
        created_at=now,
        notify_after=notify_after,
    )
    try:
        with session().begin_nested():
            session().add(event)
            session().flush()
    except IntegrityError:  # raised before, by this sweep's past or by another one right now
        return None
    if kind == "breached":
        setattr(ticket, f"{target.name}_breached", True)
    session().add(
        Message(
            ticket_id=ticket.id,
            kind=MessageKind.NOTE,
            channel=Channel.WEB,
            body="",
            data={"event": f"sla_{kind}", "target": target.name, "due": target.due_at.isoformat()},
            created_at=now,
        )
    )
    return event


def _check_ticket(ticket: Ticket, now: datetime, result: SweepResult) -> None:
    policy = _policy(ticket)
    calendar = _calendar(policy)
    pending = targets(ticket, policy, calendar) if ticket.sla_running_since else []
    notify_after = None
    if policy is not None:
        open_now = policy.notify_outside_hours or calendar.is_open(now)
        notify_after = now if open_now else calendar.next_open(now)
    raised_before = {
        (e.target, e.kind, e.cycle)
        for e in session().execute(
            select(SlaEvent.target, SlaEvent.kind, SlaEvent.cycle).where(
                SlaEvent.ticket_id == ticket.id
            )
        )
    }
    upcoming: list[datetime] = []
    for target in pending:
        breached = (target.name, "breached", target.cycle) in raised_before
        warned = breached or (target.name, "warned", target.cycle) in raised_before
        if target.due_at <= now:
            event = None if breached else _raise(ticket, target, "breached", now, notify_after)
            if event is not None:
                result.breached += 1
                result.raised.append(event)
            continue
        upcoming.append(target.due_at)
        if target.warn_at is None or warned:
            continue
        if target.warn_at > now:
            upcoming.append(target.warn_at)
        elif (event := _raise(ticket, target, "warned", now, notify_after)) is not None:
            result.warned += 1
            result.raised.append(event)
    ticket.sla_check_at = min(upcoming) if upcoming else None


def check_tickets(now: datetime, batch_size: int, result: SweepResult) -> int:
    """One batch: the tickets whose check instant has come, oldest first (index scan)."""
    query = (
        select(Ticket)
        .where(Ticket.sla_check_at <= now)
        .order_by(Ticket.sla_check_at, Ticket.id)
        .limit(batch_size)
    )
    batch = list(session().scalars(_locked(query)))
    for ticket in batch:
        _check_ticket(ticket, now, result)
    result.tickets += len(batch)
    raised, result.raised = result.raised, []
    commit()
    for event in raised:
        signal = signals.sla_breached if event.kind == "breached" else signals.sla_warned
        send_signal(
            signal,
            ticket=event.ticket,
            actor=SYSTEM,
            target=event.target,
            due_at=event.due_at,
            event=event,
        )
    return len(batch)


def queue_notifications(now: datetime, batch_size: int) -> int:
    """Queue a notification job for each event whose notification may go now."""
    query = (
        select(SlaEvent)
        .where(SlaEvent.notify_after <= now)
        .order_by(SlaEvent.notify_after, SlaEvent.id)
        .limit(batch_size)
    )
    if session().get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    events = list(session().scalars(query))
    for event in events:
        event.notify_after = None
        event.notified_at = now
        jobs.enqueue(staff_of_sla_event, event.id)
    commit()
    return len(events)


def sweep(
    now: datetime | None = None, batch_size: int | None = None, max_batches: int = MAX_BATCHES
) -> SweepResult:
    """Raise every warning and breach that is due, then queue the notifications that may go.

    At most *max_batches* batches of *batch_size* tickets (``HELPDESK_SLA_SWEEP_BATCH``), each
    its own transaction; what is left waits for the next run."""
    now = now or utcnow()
    batch_size = batch_size or current_helpdesk.config["HELPDESK_SLA_SWEEP_BATCH"]
    result = SweepResult()
    for _ in range(max_batches):
        if check_tickets(now, batch_size, result) < batch_size:
            break
    for _ in range(max_batches):
        queued = queue_notifications(now, batch_size)
        result.notifications += queued
        if queued < batch_size:
            break
    if result.warned or result.breached or result.notifications:
        logger.info("SLA sweep: %s", result)
    return result
