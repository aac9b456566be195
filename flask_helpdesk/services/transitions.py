"""The one way a ticket's status changes: the state machine, the timestamps and the signals.

Every service that moves a ticket (a reply, the status control, closing, merging, bulk actions,
rules) calls :func:`transition`; it asks :mod:`flask_helpdesk.workflow` for the next status
and queues ``ticket-status-changed`` (and ``ticket-closed`` when the ticket closes) to be sent
once the caller commits, so no path can change a status silently. The facts reports count
(a reply, a first response, a resolution, a reopen) are written here too, in the caller's
transaction.
"""

from __future__ import annotations

from sqlalchemy import select

from .. import signals
from ..i18n import gettext as _
from ..models import Ticket, TicketStatus, utcnow
from ..workflow import InvalidTransition, Trigger, next_status
from . import distribution, facts, rule_events, sla
from .base import ValidationError, send_after_commit, session
from .identity import Actor


def lock_ticket(ticket: Ticket) -> None:
    """Lock *ticket*'s row until this transaction ends (PostgreSQL) and read it again.

    For a decision taken from what the ticket is now (which status it may move to, whether
    anyone wrote since): two agents acting at once are then taken one after the other, the
    second one deciding from what the first one left, not from the page it loaded. Pending
    changes are flushed before the read (autoflush), so none is lost.
    """
    session().scalars(
        select(Ticket)
        .where(Ticket.id == ticket.id)
        .with_for_update(of=Ticket)
        .execution_options(populate_existing=True)
    ).one()  # the rows must be read for the object to be refreshed


def transition(actor: Actor, ticket: Ticket, trigger: Trigger) -> TicketStatus:
    """Move *ticket* by *trigger* (no commit); returns the old status.

    Refused with :class:`ValidationError` when the state machine does not allow *trigger* now.
    """
    old = ticket.status
    try:
        new = next_status(old, trigger)
    except InvalidTransition:
        raise ValidationError(
            _("This ticket cannot be changed that way now."),
            {"status": [_("Not allowed from status %(status)s.", status=old.label)]},
        ) from None
    if ticket.assignee_id is None and new in distribution.ACTIVE_STATUSES and new != old:
        # The department's row before the status change takes a count slot: distributed below
        # when live again, and a rule may distribute it (its "distribute" action runs after
        # this change; an offer of the department holding the row and waiting for the slot
        # would wait for it in a circle). A ticket waiting in a distributing department only.
        with session().no_autoflush:
            distribution.lock_department_first(ticket.department)
    now = utcnow()
    before = facts.Before(ticket)
    sla.on_transition(ticket, old, new, Trigger(trigger), now)  # the SLA clock follows
    ticket.status = new
    ticket.updated_at = now
    if new == TicketStatus.CLOSED and old != TicketStatus.CLOSED:
        ticket.closed_at = now
    elif new != TicketStatus.CLOSED:
        ticket.closed_at = None
    if new != old:
        # Set with the status, before the facts' query flushes the row: one UPDATE, not two.
        ticket.status_changed_at = now
    facts.on_transition(ticket, actor, before, trigger == Trigger.AGENT_REPLY, now)
    if new != old:
        rule_events.record(ticket, "status_changed", status=new.value)
        send_after_commit(
            signals.ticket_status_changed,
            ticket=ticket,
            actor=actor,
            old_status=old,
            new_status=new,
        )
    if new == TicketStatus.CLOSED and old != TicketStatus.CLOSED:
        send_after_commit(signals.ticket_closed, ticket=ticket, actor=actor)
    live_before = old in distribution.ACTIVE_STATUSES
    if live_before and new not in distribution.ACTIVE_STATUSES:
        distribution.offer_later(ticket.assignee_id)  # no longer counts against their capacity
    elif not live_before and new in distribution.ACTIVE_STATUSES:
        distribution.distribute_ticket(ticket)  # live again: needs an owner if it has none
    return old
