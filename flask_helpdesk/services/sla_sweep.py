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
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, Select, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from .. import jobs, signals
from ..models import Channel, Message, MessageKind, SlaEvent, SlaPolicy, Ticket, utcnow
from ..state import current_helpdesk
from . import facts, rule_events
from .base import commit, send_signal, session
from .identity import SYSTEM
from .sla import Target, _calendar, targets
from .sla_notify import staff_of_sla_event

logger = logging.getLogger("flask_helpdesk.sla")

MAX_BATCHES = 1000  # one run handles at most this many batches; the next run goes on
# INSERT ... ON CONFLICT DO NOTHING RETURNING: a batch's events in one statement.
UPSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


@dataclass
class SweepResult:
    warned: int = 0
    breached: int = 0
    notifications: int = 0
    tickets: int = 0

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


def _event_row(
    ticket: Ticket, target: Target, kind: str, now: datetime, notify_after: datetime | None
) -> dict[str, Any]:
    return {
        "ticket_id": ticket.id,
        "target": target.name,
        "kind": kind,
        "cycle": target.cycle,
        "due_at": target.due_at,
        "created_at": now,
        "notify_after": notify_after,
    }


def _plan(
    ticket: Ticket,
    policy: SlaPolicy | None,
    now: datetime,
    raised_before: set[tuple],
    planned: list[dict[str, Any]],
) -> None:
    """Add the events *ticket* is due for to *planned* and move its ``sla_check_at`` on."""
    calendar = _calendar(policy)
    pending = targets(ticket, policy, calendar) if ticket.sla_running_since else []
    notify_after = None
    if policy is not None:
        open_now = policy.notify_outside_hours or calendar.is_open(now)
        notify_after = now if open_now else calendar.next_open(now)
    upcoming: list[datetime] = []
    for target in pending:
        key = (ticket.id, target.name)
        breached = (*key, "breached", target.cycle) in raised_before
        warned = breached or (*key, "warned", target.cycle) in raised_before
        if target.due_at <= now:
            if not breached:
                planned.append(_event_row(ticket, target, "breached", now, notify_after))
            continue
        upcoming.append(target.due_at)
        if target.warn_at is None or warned:
            continue
        if target.warn_at > now:
            upcoming.append(target.warn_at)
        else:
            planned.append(_event_row(ticket, target, "warned", now, notify_after))
    ticket.sla_check_at = min(upcoming) if upcoming else None


def _insert_events(planned: list[dict[str, Any]]) -> list[Row]:
    """Insert the batch's events in one statement; the rows it inserted (id, ticket_id, target,
    kind, due_at). A row whose key exists (raised by another sweep a moment ago) is left out:
    the unique key, not this process, decides what is raised once."""
    if not planned:
        return []
    columns = (SlaEvent.id, SlaEvent.ticket_id, SlaEvent.target, SlaEvent.kind, SlaEvent.due_at)
    dialect = session().get_bind().dialect.name
    if dialect in UPSERTS:
        statement = UPSERTS[dialect](SlaEvent).on_conflict_do_nothing().returning(*columns)
        return list(session().execute(statement, planned))
    rows = []  # another database: one savepoint per event
    for values in planned:
        try:
            with session().begin_nested():
                rows.extend(session().execute(insert(SlaEvent).returning(*columns), [values]))
        except IntegrityError:
            continue
    return rows


def _record(rows: list[Row], now: datetime) -> None:
    """The breach flags (one UPDATE per target) and the internal notes (one INSERT)."""
    breached: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        if row.kind == "breached":
            breached[row.target].append(row.ticket_id)
    for target, ids in breached.items():
        session().execute(
            update(Ticket).where(Ticket.id.in_(ids)).values({f"{target}_breached": True}),
            execution_options={"synchronize_session": False},
        )
    if rows:
        session().execute(
            insert(Message),
            [
                {
                    "ticket_id": row.ticket_id,
                    "kind": MessageKind.NOTE,
                    "channel": Channel.WEB,
                    "body": "",
                    "data": {
                        "event": f"sla_{row.kind}",
                        "target": row.target,
                        "due": _aware(row.due_at).isoformat(),
                    },
                    "created_at": now,
                }
                for row in rows
            ],
        )


def _aware(instant: datetime) -> datetime:
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)


def check_tickets(now: datetime, batch_size: int, result: SweepResult) -> int:
    """One batch: the tickets whose check instant has come, oldest first (index scan), in one
    transaction of a fixed number of statements: read the batch and its past events, insert its
    events, set its breach flags, insert its notes, move its check instants."""
    query = (
        select(Ticket)
        .where(Ticket.sla_check_at <= now)
        .order_by(Ticket.sla_check_at, Ticket.id)
        .limit(batch_size)
    )
    batch = list(session().scalars(_locked(query)))
    if not batch:
        commit()
        return 0
    raised_before = {
        tuple(row)
        for row in session().execute(
            select(SlaEvent.ticket_id, SlaEvent.target, SlaEvent.kind, SlaEvent.cycle).where(
                SlaEvent.ticket_id.in_([t.id for t in batch])
            )
        )
    }
    # The batch's policies in one query, held here: looked up one ticket at a time they were
    # read again for each (nothing else held them), each read flushing the previous ticket.
    policies = {
        policy.id: policy
        for policy in session().scalars(
            select(SlaPolicy)
            .where(SlaPolicy.id.in_({t.sla_policy_id for t in batch if t.sla_policy_id}))
            .options(selectinload(SlaPolicy.calendar))
        )
    }
    planned: list[dict[str, Any]] = []
    with session().no_autoflush:  # the new check instants go in one executemany, below
        for ticket in batch:
            _plan(ticket, policies.get(ticket.sla_policy_id), now, raised_before, planned)
    session().flush()
    rows = _insert_events(planned)
    _record(rows, now)
    by_id = {ticket.id: ticket for ticket in batch}
    for row in rows:  # the rules on "SLA warned/breached" run before this batch commits
        rule_events.record(by_id[row.ticket_id], f"sla_{row.kind}", sla_target=row.target)
    facts.breached(batch, rows, now)
    result.tickets += len(batch)
    result.warned += sum(1 for row in rows if row.kind == "warned")
    result.breached += sum(1 for row in rows if row.kind == "breached")
    commit()
    if rows and (signals.sla_warned.receivers or signals.sla_breached.receivers):
        events = session().scalars(fired_events_query([row.id for row in rows]))
        for event in events:
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
    """Queue a notification job for each event whose notification may go now (one UPDATE for
    the batch; each mail stays its own job, retried on its own)."""
    query = (
        select(SlaEvent.id)
        .where(SlaEvent.notify_after <= now)
        .order_by(SlaEvent.notify_after, SlaEvent.id)
        .limit(batch_size)
    )
    if session().get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(session().scalars(query))
    if ids:
        session().execute(
            update(SlaEvent).where(SlaEvent.id.in_(ids)).values(notify_after=None, notified_at=now),
            execution_options={"synchronize_session": False},
        )
    for event_id in ids:
        jobs.enqueue(staff_of_sla_event, event_id)
    commit()
    return len(ids)


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


def fired_events_query(event_ids: list[int]) -> Select[tuple[SlaEvent]]:
    """The SLA events *event_ids* with their tickets, for the signals. The ticket is joined with
    innerjoin (an event always has one): a LEFT OUTER JOIN of "ticket JOIN department" (the
    ticket's own joined department) makes SQLite materialize that join for every ticket."""
    return (
        select(SlaEvent)
        .where(SlaEvent.id.in_(event_ids))
        .options(joinedload(SlaEvent.ticket, innerjoin=True))
        .order_by(SlaEvent.id)
    )
