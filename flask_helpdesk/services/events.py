"""System lines in a ticket's thread ("closed by …", "assigned to …").

Its own module so that services below ``tickets`` (distribution) write them too without a cycle.
"""

from __future__ import annotations

from typing import Any

from ..models import Channel, Message, MessageKind, Ticket, utcnow
from .base import session
from .identity import Actor


def add_event(ticket: Ticket, actor: Actor, event: str, **data: Any) -> Message:
    """A system line in the thread ("closed by …"), visible to the customer too."""
    message = Message(
        ticket_id=ticket.id,
        kind=MessageKind.EVENT,
        channel=Channel.WEB,
        author_agent_id=actor.agent.id if actor.is_agent and actor.agent else None,
        author_contact_id=actor.contact.id if actor.is_customer and actor.contact else None,
        body="",
        data={"event": event, **data},
        created_at=utcnow(),
    )
    session().add(message)
    return message
