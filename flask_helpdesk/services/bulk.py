"""Bulk actions on the queue: assign, set status, add tags, close, mark spam.

Each ticket goes through the same service as the single action in the workspace (permission,
state machine, audit event, signal, follow-up jobs), in its own unit of work: the service
commits a ticket's change whole, and a ticket whose service refuses is rolled back whole,
before the next ticket starts. One ticket's failure never undoes or blocks the others, and the
report says for every selected ticket whether it changed and, if not, why.

Per-ticket transactions rather than one transaction with a savepoint per ticket: the services
commit (and then send signals and enqueue jobs), so a change reported as done is durable and
its notifications go out, exactly as when an agent does it from the ticket page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..i18n import gettext as _
from ..i18n import lazy_gettext as _l
from ..inputs import parse_id
from ..models import Agent, Ticket, TicketStatus
from ..state import current_helpdesk
from . import audit, desk, tickets
from .base import Forbidden, ServiceError, ValidationError, commit, rollback, session
from .identity import Actor
from .permissions import visible_tickets

ACTIONS: dict[str, Any] = {
    "assign": _l("Assign"),
    "status": _l("Set status"),
    "tag": _l("Add tags"),
    "close": _l("Close"),
    "spam": _l("Mark as spam"),
}


@dataclass(frozen=True)
class Outcome:
    """What became of one selected ticket."""

    ticket_id: int
    code: str | None  # None: not found (or not visible to the actor: same answer)
    ok: bool
    reason: str = ""
    status: TicketStatus | None = None  # the ticket's status after the action (or refusal)


@dataclass
class BulkReport:
    action: str
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def succeeded(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.ok]

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]

    @property
    def label(self) -> str:
        return str(ACTIONS[self.action])


def max_batch() -> int:
    return int(current_helpdesk.config["HELPDESK_BULK_MAX_TICKETS"])


def _ticket_ids(values: Iterable[Any]) -> list[int]:
    ids: list[int] = []
    for value in values:
        number = parse_id(value)
        if number is None:
            raise ValidationError(
                _("The selection is not valid."), {"ticket_ids": [_("Not a ticket.")]}
            )
        if number not in ids:
            ids.append(number)
    if not ids:
        message = _("Select at least one ticket.")
        raise ValidationError(message, {"ticket_ids": [message]})
    if len(ids) > max_batch():
        message = _("At most %(n)d tickets at once.", n=max_batch())
        raise ValidationError(message, {"ticket_ids": [message]})
    return ids


def _assignee(actor: Actor, value: Any) -> int | None:
    """``me``, empty (unassign) or an agent id; an unknown or inactive agent is refused for the
    whole batch (whether the agent may take each ticket is the assign service's question)."""
    if value in (None, "", "none"):
        return None
    if value == "me":
        if actor.agent is None:
            raise Forbidden(_("Only support staff can do this."))
        return actor.agent.id
    agent_id = parse_id(value)
    agent = session().get(Agent, agent_id) if agent_id is not None else None
    if agent is None or not agent.is_active:
        message = _("Not an agent of this department.")
        raise ValidationError(_("Unknown agent."), {"assignee_id": [message]})
    return agent.id


def _status(value: Any) -> TicketStatus:
    try:
        return TicketStatus(value)
    except ValueError:
        message = _("Not a valid status here.")
        raise ValidationError(message, {"status": [message]}) from None


def _tags(value: Any) -> list[str]:
    names = desk.parse_tags(str(value or ""))
    if not names:
        message = _("Please enter at least one tag.")
        raise ValidationError(message, {"tags": [message]})
    return names


def _operation(actor: Actor, action: str, value: Any) -> Callable[[Ticket], Any]:
    """Validate the action's value once, then the per-ticket call of the single-action service."""
    if action == "assign":
        agent_id = _assignee(actor, value)
        return lambda ticket: desk.assign(actor, ticket, agent_id)
    if action == "status":
        status = _status(value)
        return lambda ticket: tickets.change_status(actor, ticket, status)
    if action == "tag":
        names = _tags(value)
        return lambda ticket: desk.set_tags(actor, ticket, [t.name for t in ticket.tags] + names)
    if action == "close":
        return lambda ticket: tickets.change_status(actor, ticket, TicketStatus.CLOSED)
    if action == "spam":
        return lambda ticket: tickets.change_status(actor, ticket, TicketStatus.SPAM)
    message = _("Unknown action.")
    raise ValidationError(message, {"action": [message]})


def _reason(error: ServiceError) -> str:
    """The most specific words a service gave: its field errors, else its message."""
    details = [m for messages in error.field_errors.values() for m in messages]
    return " ".join(str(m) for m in details) or error.message


def run(actor: Actor, action: str, ticket_ids: Iterable[Any], value: Any = None) -> BulkReport:
    """Apply *action* (a key of :data:`ACTIONS`) with *value* to each selected ticket.

    A bad action, value or selection refuses the whole batch (:class:`ValidationError`,
    nothing changed). Otherwise each ticket succeeds or fails on its own; see the module doc.
    """
    if not actor.is_agent:
        raise Forbidden(_("Only support staff can do this."))
    ids = _ticket_ids(ticket_ids)
    operation = _operation(actor, action, value)
    found = {
        t.id: t
        for t in session().scalars(
            select(Ticket)
            .where(Ticket.id.in_(ids), visible_tickets(actor))
            .options(selectinload(Ticket.tags))
        )
    }
    codes = {ticket_id: ticket.code for ticket_id, ticket in found.items()}
    report = BulkReport(action)
    for ticket_id in ids:
        if ticket_id not in found:
            report.outcomes.append(Outcome(ticket_id, None, False, _("Ticket not found.")))
            continue
        # Loaded before the loop; a refusal's rollback expires it, the next access reloads it.
        ticket = found[ticket_id]
        try:
            operation(ticket)
        except ServiceError as error:
            rollback()
            outcome = Outcome(ticket_id, codes[ticket_id], False, _reason(error), ticket.status)
        else:
            outcome = Outcome(ticket_id, codes[ticket_id], True, status=ticket.status)
        report.outcomes.append(outcome)
    audit.record(
        actor,
        "tickets.bulk",
        bulk_action=action,
        succeeded=[o.code for o in report.succeeded],
        failed=[o.code or o.ticket_id for o in report.failed],
    )
    commit()
    return report
