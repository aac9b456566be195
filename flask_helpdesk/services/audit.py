"""The audit trail: services call :func:`record` for every change they make."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert

from ..models import AuditEvent, Ticket, utcnow
from .base import session
from .identity import Actor

# One INSERT statement, compiled once: an audit row is written, never read back in the
# transaction that writes it, so it needs no ORM object (building and flushing one cost ~0.5 ms
# of CPU per change; issue 17: ticket creation speed).
_INSERT = insert(AuditEvent.__table__)


def record(actor: Actor, action: str, ticket: Ticket | None = None, **data: Any) -> None:
    """Add an audit event to the current transaction (committed with the change it describes)."""
    row = values(actor, action, ticket, **data)
    session().execute(_INSERT, row)
    written(row, ticket)


def values(actor: Actor, action: str, ticket: Ticket | None = None, **data: Any) -> dict[str, Any]:
    """The row :func:`record` inserts, for a service that sends it inside a statement of its
    own (automatic distribution on PostgreSQL: one round trip for all its writes); call
    :func:`written` once it is executed."""
    agent = actor.agent if actor.is_agent else None
    return {
        "created_at": utcnow(),
        "action": action,
        "ticket_id": ticket.id if ticket is not None else None,
        "actor_agent_id": agent.id if agent is not None else None,
        "actor_contact_id": actor.contact.id if actor.contact is not None else None,
        "ip_address": actor.ip_address,
        "data": {key: _plain(value) for key, value in data.items()},
    }


def written(row: dict[str, Any], ticket: Ticket | None) -> None:
    """The audit event *row* (:func:`values`) is written: what follows it in the transaction."""
    # The outbox row of a webhook goes into the same transaction as the change it reports.
    from . import webhooks  # (webhooks records its own audit events: imported late)

    webhooks.record_event(row["action"], ticket, row["data"])


def _plain(value: Any) -> Any:
    """JSON-safe form of enum and other simple values."""
    if hasattr(value, "value"):
        return value.value
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return value
