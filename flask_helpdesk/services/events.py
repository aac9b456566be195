"""System lines in a ticket's thread ("closed by …", "assigned to …").

Its own module so that services below ``tickets`` (distribution) write them too without a cycle.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert

from ..models import Channel, Message, MessageKind, Ticket, utcnow
from .base import session
from .identity import Actor


def add_event(ticket: Ticket, actor: Actor, event: str, **data: Any) -> Message:
    """A system line in the thread ("closed by …"), visible to the customer too."""
    message = Message(**_event_values(ticket, actor, event, data))
    session().add(message)
    return message


# One INSERT compiled once, for :func:`write_event`.
_INSERT_EVENT = insert(Message.__table__)


def write_event(ticket: Ticket, actor: Actor, event: str, **data: Any) -> None:
    """:func:`add_event` written at once by a Core INSERT, for a caller that does not use the
    message afterwards (nothing holds a ticket's messages as a collection: threads are read by
    query, after the autoflush). No ORM object to build and flush: automatic distribution
    writes one with every new ticket it hands out (issue 13: at most 5 ms a ticket)."""
    session().execute(_INSERT_EVENT, event_values(ticket, actor, event, **data))


def event_values(ticket: Ticket, actor: Actor, event: str, **data: Any) -> dict[str, Any]:
    """The row of :func:`write_event`, for a service that sends it inside a statement of its
    own (automatic distribution on PostgreSQL)."""
    return _event_values(ticket, actor, event, data)


def _event_values(ticket: Ticket, actor: Actor, event: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "ticket_id": ticket.id,
        "kind": MessageKind.EVENT,
        "channel": Channel.WEB,
        "author_agent_id": actor.agent.id if actor.is_agent and actor.agent else None,
        "author_contact_id": actor.contact.id if actor.is_customer and actor.contact else None,
        "body": "",
        "data": {"event": event, **data},
        "created_at": utcnow(),
    }
