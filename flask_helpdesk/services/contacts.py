"""Customers as the desk sees them: finding one, their sidebar, agents' notes about them."""

from __future__ import annotations

from sqlalchemy import func, or_, select

from ..i18n import gettext as _
from ..models import Contact, Ticket
from . import audit
from .base import Forbidden, NotFound, ValidationError, commit, session
from .identity import Actor
from .permissions import visible_tickets

MAX_NOTES = 20_000


def _staff(actor: Actor) -> None:
    if not (actor.is_agent or actor.is_system):
        raise Forbidden(_("Only support staff can do this."))


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


def search_contacts(actor: Actor, term: str, limit: int = 20) -> list[Contact]:
    """Customers whose name, email or phone contains *term* (agents only; any customer, since
    an agent may open a ticket for anyone — seed 001)."""
    _staff(actor)
    term = (term or "").strip()
    if len(term) < 2:
        return []
    pattern = _like(term)
    digits = "".join(ch for ch in term if ch.isdigit())
    conditions = [
        func.lower(Contact.name).like(pattern, escape="\\"),
        func.lower(Contact.email).like(pattern, escape="\\"),
    ]
    if len(digits) >= 3:
        conditions.append(Contact.phone.like(f"%{digits}%"))
        # Phones are stored as typed ("+84 90 000"); compare digits only as well.
        conditions.append(
            func.replace(func.replace(func.replace(Contact.phone, " ", ""), "-", ""), ".", "").like(
                f"%{digits}%"
            )
        )
    return list(
        session().scalars(
            select(Contact).where(or_(*conditions)).order_by(Contact.name, Contact.id).limit(limit)
        )
    )


def get_contact(actor: Actor, contact_id: int) -> Contact:
    _staff(actor)
    contact = session().get(Contact, contact_id)
    if contact is None:
        raise NotFound(_("No such customer."))
    return contact


def earlier_tickets(actor: Actor, ticket: Ticket, limit: int = 10) -> list[Ticket]:
    """The requester's other tickets that *actor* may see, newest first."""
    return list(
        session().scalars(
            select(Ticket)
            .where(
                Ticket.requester_id == ticket.requester_id,
                Ticket.id != ticket.id,
                visible_tickets(actor),
            )
            .order_by(Ticket.updated_at.desc(), Ticket.id.desc())
            .limit(limit)
        )
    )


def update_notes(actor: Actor, contact: Contact, notes: str) -> Contact:
    """Replace the agents' notes about *contact* (never shown to the customer)."""
    _staff(actor)
    notes = (notes or "").strip()
    if len(notes) > MAX_NOTES:
        raise ValidationError(_("The notes are too long."), {"notes": [_("Too long.")]})
    if notes == contact.notes:
        return contact
    contact.notes = notes
    audit.record(actor, "contact.notes_changed", contact_id=contact.id, length=len(notes))
    commit()
    return contact
