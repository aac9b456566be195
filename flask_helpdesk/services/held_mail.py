"""Mail held because its sender could not be verified: an agent accepts or discards it.

Intake holds a mail that claims a customer's address but fails the checks of who sent it
(:mod:`.mail_auth`). Nothing is lost: the raw mail stays, the admin's inbound-mail list shows
it under "Held" with the reason, and the agents of the ticket it claims to answer see it on
that ticket. Accepting processes it as if the sender were verified; discarding keeps it,
ignored, with who decided. Both are audited.
"""

from __future__ import annotations

from ..i18n import gettext as _
from ..models import InboundMail, InboundStatus, utcnow
from . import audit, intake
from .base import NotFound, ValidationError, commit, session
from .identity import Actor
from .permissions import ensure


def _held(actor: Actor, inbound_id: int) -> InboundMail:
    """The held mail, if *actor* may decide on it: admins always, agents when it claims to
    answer a ticket they may reply on. Anything else reads as not found."""
    row = session().get(InboundMail, inbound_id)
    if row is None or not actor.is_agent:
        raise NotFound("inbound mail not found")
    if actor.is_admin:
        ensure(actor, "manage")
    elif row.ticket is not None:
        ensure(actor, "reply", row.ticket)  # NotFound for a ticket the agent may not see
    else:
        raise NotFound("inbound mail not found")
    if row.status != InboundStatus.HELD:
        raise ValidationError(_("This mail is not held any more."))
    return row


def accept(actor: Actor, inbound_id: int) -> InboundMail:
    """Process the held mail as if its sender were verified (an agent vouches for it)."""
    row = _held(actor, inbound_id)
    ticket = row.ticket
    row.status = InboundStatus.FAILED  # claimable by a forced run, like an admin's retry
    row.ticket_id = None  # set again by what the mail becomes
    audit.record(actor, "mail.accepted", ticket, inbound_mail_id=row.id, sender=row.sender)
    commit()
    return intake.process(inbound_id, force=True, accept_sender=True) or row


def discard(actor: Actor, inbound_id: int) -> InboundMail:
    """Set the held mail aside for good; the raw mail is kept and an admin can still retry it."""
    row = _held(actor, inbound_id)
    row.status = InboundStatus.IGNORED
    row.reason = f"discarded by an agent: {row.reason or ''}"[:2000]
    row.processed_at = utcnow()
    audit.record(actor, "mail.discarded", row.ticket, inbound_mail_id=row.id, sender=row.sender)
    commit()
    return row
