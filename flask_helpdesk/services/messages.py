"""Posting to a ticket's thread: customer replies, agent replies and internal notes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from .. import signals
from ..i18n import gettext as _
from ..models import Channel, Message, MessageKind, Ticket, utcnow
from ..state import current_helpdesk
from ..workflow import Trigger
from . import audit, notifications, rule_events
from .attachments import Upload, attach, store_uploads
from .base import ValidationError, commit, insert_loaded, send_signal, session
from .identity import Actor
from .permissions import ensure
from .transitions import transition


def post_message(
    actor: Actor,
    ticket: Ticket,
    body: str,
    uploads: list[Upload] | None = None,
    internal: bool = False,
    channel: Channel = Channel.WEB,
    body_html: str | None = None,
    email_message_id: str | None = None,
    data: dict[str, Any] | None = None,
) -> Message:
    """Add a reply (or, for agents, an internal note) and move the ticket's status.

    A customer reply on a closed ticket reopens it as ``customer_replied``; an agent's public
    reply makes it ``answered``. Notes change no status and are never shown to the customer.
    """
    ensure(actor, "note" if internal else "reply", ticket)
    text = (body or "").strip()
    uploads = [u for u in (uploads or []) if u.filename]
    if not text and not uploads:
        raise ValidationError(
            _("Please write a message."), {"body": [_("Please write a message.")]}
        )
    if len(text) > current_helpdesk.config["HELPDESK_MESSAGE_MAX_LENGTH"]:
        raise ValidationError(
            _("The message is too long."), {"body": [_("The message is too long.")]}
        )
    files = store_uploads(uploads)

    now = utcnow()
    # Support writes: an agent, or the system on its own (a rule's automatic reply); the system
    # carrying a contact is a CC'd participant's mail (mail_posting): the customer's side.
    from_agent = actor.is_agent or (actor.is_system and actor.contact is None)
    old_status = ticket.status
    if not internal:
        transition(actor, ticket, Trigger.AGENT_REPLY if from_agent else Trigger.CUSTOMER_REPLY)
        if from_agent:
            ticket.last_agent_reply_at = now
            ticket.first_response_at = ticket.first_response_at or now
        else:
            ticket.last_customer_reply_at = now
            ticket.customer_seen_at = now
    ticket.updated_at = now
    if from_agent:
        ticket.agent_seen_at = now

    message = Message(
        ticket_id=ticket.id,
        kind=MessageKind.NOTE if internal else MessageKind.REPLY,
        channel=channel,
        author_agent_id=actor.agent.id if from_agent and actor.agent else None,
        author_contact_id=actor.contact.id if not from_agent and actor.contact else None,
        body=text,
        body_html=body_html,
        email_message_id=email_message_id,
        created_at=now,
        data=dict(data or {}),
    )
    # The ticket's changes first, as the unit of work would order them (its row, then the
    # message: the lock order every writer keeps); the message by one Core INSERT built once
    # a process (services.base.insert_loaded), not through the unit of work, which cost
    # about as much again as the rest of a reply's writes.
    session().flush()
    insert_loaded(message)
    attach(ticket, message, files)
    audit.record(
        actor,
        "message.note" if internal else "message.reply",
        ticket,
        message_id=message.id,
        old_status=old_status,
        new_status=ticket.status,
    )
    if not internal:
        notifications.message_posted(ticket, message)
        trigger = "agent_replied" if from_agent else "customer_replied"
        rule_events.record(ticket, trigger, message=message)
    commit()  # sends ticket-status-changed if the status moved (transition queued it)
    send_signal(signals.ticket_replied, ticket=ticket, actor=actor, message=message)
    return message


def thread(actor: Actor, ticket: Ticket) -> list[Message]:
    """The messages *actor* may read, oldest first, with authors and attachments loaded
    in one statement whatever the thread's length.

    Joined, not one query per relation: the ticket page's budget is ten statements in all
    (tests/desk/test_workspace_queries.py), and a thread is a few hundred rows at most (one
    per attachment, one per message without any).
    """
    ensure(actor, "view", ticket)
    query = (
        select(Message)
        .where(Message.ticket_id == ticket.id)
        .options(
            joinedload(Message.attachments),
            joinedload(Message.author_agent),
            joinedload(Message.author_contact),
        )
        .order_by(Message.created_at, Message.id)
    )
    if not actor.is_customer:
        # The desk shows each mailed message's sender verdict (mail_auth.sender_view).
        query = query.options(joinedload(Message.inbound_mail))
        return list(session().scalars(query).unique())
    query = query.where(Message.kind != MessageKind.NOTE)
    return [m for m in session().scalars(query).unique() if _concerns_customer(m)]


# System events a customer sees; who works on a ticket and where it is routed is the desk's
# business ("Assigned to Alex Admin" reads as noise, or worse, to a customer).
CUSTOMER_EVENTS = frozenset({"closed", "status_changed", "merged", "merged_from", "wrong_language"})


def _concerns_customer(message: Message) -> bool:
    if message.kind != MessageKind.EVENT:
        return True
    return (message.data or {}).get("event") in CUSTOMER_EVENTS
