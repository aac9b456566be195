"""The audit trail: services call :func:`record` for every change they make."""

from __future__ import annotations

from typing import Any

from ..models import AuditEvent, Ticket
from .base import session
from .identity import Actor


def record(actor: Actor, action: str, ticket: Ticket | None = None, **data: Any) -> AuditEvent:
    """Add an audit event to the current unit of work (committed with the change it describes)."""
    event = AuditEvent(
        action=action,
        ticket_id=ticket.id if ticket is not None else None,
        actor_agent_id=actor.agent.id if actor.agent is not None and actor.is_agent else None,
        actor_contact_id=actor.contact.id if actor.contact is not None else None,
        ip_address=actor.ip_address,
        data={key: _plain(value) for key, value in data.items()},
    )
    session().add(event)
    # The outbox row of a webhook goes into the same transaction as the change it reports.
    from . import webhooks  # (webhooks records its own audit events: imported late)

    webhooks.record_event(action, ticket, event.data)
    return event


def _plain(value: Any) -> Any:
    """JSON-safe form of enum and other simple values."""
    if hasattr(value, "value"):
        return value.value
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return value
