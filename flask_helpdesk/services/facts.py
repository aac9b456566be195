"""Facts for reports, written by the services in the same transaction as the change.

Each function adds one or two :class:`~flask_helpdesk.models.TicketFact` rows and never
commits: the caller's commit makes the change and its fact one unit, so a report can never
count something that did not happen (or miss something that did). Working times are readings
of the ticket's SLA clock (services/sla.py over businesstime.py), so reports and SLA agree on
what a working minute is. The backlog is the running sum of ``backlog_delta``: a ticket is in
it from creation until it closes or is marked spam, and again when reopened or restored.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import selectinload

from ..models import (
    FactKind,
    Message,
    MessageKind,
    Rating,
    ReplyRating,
    Ticket,
    TicketFact,
    TicketStatus,
)
from .base import commit, session
from .identity import Actor

OUT_OF_BACKLOG = frozenset({TicketStatus.CLOSED, TicketStatus.SPAM})
GOOD_STARS = 4  # 1–5 ratings of 4 and 5 count as good in CSAT


def _values(ticket: Ticket, kind: FactKind, at: datetime, **values: Any) -> dict[str, Any]:
    return {
        "ticket_id": ticket.id,
        "kind": kind,
        "at": at,
        "department_id": ticket.department_id,
        "assignee_id": ticket.assignee_id,
        "channel": ticket.channel,
        "priority": ticket.priority,
        "backlog_delta": 0,
        **values,
    }


def _fact(ticket: Ticket, kind: FactKind, at: datetime, **values: Any) -> TicketFact:
    fact = TicketFact(**_values(ticket, kind, at, **values))
    session().add(fact)
    return fact


def _seconds(start: datetime | None, end: datetime) -> int | None:
    return None if start is None else max(0, int((end - start).total_seconds()))


def _agent_id(actor: Actor) -> int | None:
    return actor.agent.id if actor.is_agent and actor.agent is not None else None


def created(ticket: Ticket, actor: Actor) -> None:
    """A new ticket (flushed, SLA clock started); opened by support it is answered already."""
    _fact(ticket, FactKind.CREATED, ticket.created_at, backlog_delta=1, agent_id=_agent_id(actor))
    if ticket.first_response_at is not None:
        _fact(
            ticket,
            FactKind.FIRST_RESPONSE,
            ticket.created_at,
            agent_id=_agent_id(actor),
            wall_seconds=0,
            work_seconds=0,
            met=True if ticket.first_response_due_at is not None else None,
        )


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


def transferred(ticket: Ticket, old_department_id: int, actor: Actor, now: datetime) -> None:
    """A ticket in the backlog moved department: it leaves the old one's backlog and joins the
    new one's (call after the ticket's department changed)."""
    if ticket.status in OUT_OF_BACKLOG:
        return
    moved_out = _fact(ticket, FactKind.MOVED_OUT, now, agent_id=_agent_id(actor), backlog_delta=-1)
    moved_out.department_id = old_department_id
    _fact(ticket, FactKind.MOVED_IN, now, agent_id=_agent_id(actor), backlog_delta=1)


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
        session().execute(insert(TicketFact), values)


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
        fact = _fact(
            ticket,
            FactKind.RATED,
            rating.updated_at,
            message_id=rating.message_id,
            good=rating.good,
        )
        fact.agent_id = agent_id
    fact.good = rating.good
    fact.at = rating.updated_at


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
