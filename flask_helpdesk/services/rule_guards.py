"""The mail half of the loop guards: may a rule send an automatic mail to this customer now?

Rule loops inside the desk are stopped by the engine (once per rule and change, a chain limit);
mail loops need a look at the other side: never answer a machine (an auto-reply,
mailer-daemon, no-reply or one of our own addresses), and never send one person more than a
few automatic mails per ticket and per hour, whatever the rules say. Each automatic mail is
logged in :class:`AutoMail`, which is what the caps count.
"""

from __future__ import annotations

import email.utils
from datetime import timedelta

from sqlalchemy import func, select

from ..i18n import gettext as _
from ..mail.noise import detect_noise, is_robot_address
from ..mail.outbound import default_sender
from ..models import (
    AutoMail,
    Department,
    InboundMail,
    Mailbox,
    Message,
    MessageKind,
    Ticket,
    utcnow,
)
from ..state import current_helpdesk
from .base import session


def recipient_of(ticket: Ticket) -> str | None:
    address = ticket.email or (ticket.requester.email if ticket.requester else None)
    return address.strip() if address else None


def _ours(address: str) -> bool:
    """One of the desk's own addresses (a department's, a mailbox's, the sender)."""
    folded = address.casefold()
    sender = email.utils.parseaddr(default_sender() or "")[1].casefold()
    if sender and folded == sender:
        return True
    departments = select(Department.id).where(func.lower(Department.email) == folded)
    mailboxes = select(Mailbox.id).where(func.lower(Mailbox.address) == folded)
    return bool(session().scalar(select(departments.exists() | mailboxes.exists())))


def _last_customer_mail_was_automatic(ticket: Ticket) -> bool:
    """The customer's latest message came as a mail that a machine wrote (an agent may have
    posted an auto-reply by hand): answering it automatically is how loops start."""
    message = session().scalar(
        select(Message)
        .where(
            Message.ticket_id == ticket.id,
            Message.kind == MessageKind.REPLY,
            Message.author_agent_id.is_(None),
        )
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(1)
    )
    mail_id = (message.data or {}).get("inbound_mail_id") if message is not None else None
    if not mail_id:
        return False
    raw = session().scalar(select(InboundMail.raw).where(InboundMail.id == mail_id))
    return bool(raw) and detect_noise(raw) is not None


def refusal(ticket: Ticket) -> str | None:
    """Why no automatic mail may go to *ticket*'s customer now, or None when it may."""
    address = recipient_of(ticket)
    if not address:
        return _("the customer has no email address")
    if is_robot_address(address):
        return _("%(address)s is a machine's address", address=address)
    if _ours(address):
        return _("%(address)s is one of our own addresses", address=address)
    capped = cap_reached(ticket, address)
    if capped is not None:
        return capped
    if _last_customer_mail_was_automatic(ticket):
        return _("the customer's last mail was written by a machine")
    return None


def cap_reached(ticket: Ticket, address: str) -> str | None:
    """Why *address* may get no more automatic mail about *ticket* now (the per-ticket and
    per-hour caps, customers and agents alike), or None."""
    config = current_helpdesk.config
    folded = address.casefold()
    per_ticket = session().scalar(
        select(func.count())
        .select_from(AutoMail)
        .where(AutoMail.ticket_id == ticket.id, AutoMail.recipient == folded)
    )
    if per_ticket >= config["HELPDESK_AUTO_MAIL_PER_TICKET"]:
        return _("the limit of automatic mails on this ticket is reached")
    hour_ago = utcnow() - timedelta(hours=1)
    per_hour = session().scalar(
        select(func.count())
        .select_from(AutoMail)
        .where(AutoMail.recipient == folded, AutoMail.created_at > hour_ago)
    )
    if per_hour >= config["HELPDESK_AUTO_MAIL_PER_HOUR"]:
        return _("the hourly limit of automatic mails to %(address)s is reached", address=address)
    return None


def count_mail(ticket: Ticket, rule_id: int | None, address: str | None = None) -> None:
    """Log one automatic mail to *address* (default: *ticket*'s customer) in the transaction
    that queues it."""
    address = address or recipient_of(ticket)
    if address:
        session().add(AutoMail(ticket_id=ticket.id, recipient=address.casefold(), rule_id=rule_id))
