"""An admin files a mail intake could not: a requester is chosen by hand, then the mail goes
through intake like any other (threading, attachments, participants, one transaction).

For mail without any usable sender address (an SMS gateway writing a phone number as
``From``), or mail an admin knows belongs to a customer although it was set aside.
"""

from __future__ import annotations

from ..i18n import gettext as _
from ..models import InboundMail, InboundStatus
from . import audit, contacts, intake
from .base import NotFound, ValidationError, commit, session
from .identity import Actor
from .permissions import ensure

FILEABLE = (InboundStatus.FAILED, InboundStatus.IGNORED)


def file_for_customer(actor: Actor, inbound_id: int, customer_key: str) -> InboundMail:
    """Process the failed or ignored mail *inbound_id* with the customer the picker's
    *customer_key* names (``contact:<id>`` or ``user:<host user id>``) as its author.

    Admins only. Noise, loop and rate-limit checks are skipped (a person decided); the rest
    is intake's usual path. Returns the row as it ended; a failure keeps its reason.
    """
    ensure(actor, "manage")
    row = session().get(InboundMail, inbound_id)
    if row is None:
        raise NotFound(_("No such mail."))
    if row.status not in FILEABLE:
        raise ValidationError(_("Only failed or ignored mail can be filed by hand."))
    contact = contacts.resolve_customer(actor, customer_key)
    row.status = InboundStatus.FAILED  # claimable by a forced run, like an admin's retry
    audit.record(actor, "mail.filed", None, inbound_mail_id=row.id, contact_id=contact.id)
    commit()
    return intake.process(inbound_id, force=True, requester_id=contact.id) or row
