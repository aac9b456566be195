"""Customers as the desk sees them: finding one, their sidebar, agents' notes about them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select

from ..i18n import gettext as _
from ..inputs import clean_search, parse_id
from ..models import Contact, Ticket
from ..state import current_helpdesk
from . import audit
from .base import Forbidden, NotFound, ValidationError, commit, session
from .identity import Actor, sync_contact
from .permissions import visible_tickets

MAX_NOTES = 20_000
MAX_ATTRIBUTES = 50
ATTRIBUTE_TYPES = (str, int, float, bool)


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
    condition = contact_matches(term)
    if condition is None:
        return []
    return list(
        session().scalars(
            select(Contact).where(condition).order_by(Contact.name, Contact.id).limit(limit)
        )
    )


MIN_SEARCH = 2  # characters; fewer would match nearly every customer


def contact_matches(term: str) -> ColumnElement[bool] | None:
    """The SQL condition "name, email or phone contains *term*" (case-insensitive; phones also
    compared by digits only), or ``None`` when the cleaned term is shorter than
    :data:`MIN_SEARCH`. The customer picker and the queue's account filter share it."""
    term = clean_search(term)
    if len(term) < MIN_SEARCH:
        return None
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
    return or_(*conditions)


@dataclass(frozen=True)
class CustomerMatch:
    """One line of the customer picker. ``key`` is what the picker sends back:
    ``contact:<id>`` for a known contact, ``user:<host user id>`` for a host user the helpdesk
    has no mirror of yet (see :func:`resolve_customer`)."""

    key: str
    name: str
    email: str | None
    phone: str | None


def find_customers(actor: Actor, term: str, limit: int = 20) -> list[CustomerMatch]:
    """Contacts matching *term*, then host users matching it (``@helpdesk.user_search``) that
    are not among them: an agent may open a ticket for anyone the site knows."""
    term = clean_search(term)
    found = search_contacts(actor, term, limit)
    users = current_helpdesk.search_users(term, limit) if len(term) >= 2 else []
    user_ids = [str(u.get_id()) for u in users]
    mirrored = {c.user_id: c for c in found if c.user_id}
    missing = [uid for uid in user_ids if uid not in mirrored]
    if missing:  # users with a contact the text search missed (name changed on the host)
        for contact in session().scalars(select(Contact).where(Contact.user_id.in_(missing))):
            mirrored[contact.user_id] = contact  # type: ignore[index]
            found.append(contact)
    matches = [CustomerMatch(f"contact:{c.id}", c.display_name, c.email, c.phone) for c in found]
    for user, user_id in zip(users, user_ids, strict=True):
        if user_id not in mirrored:
            info = current_helpdesk.user_info(user)
            matches.append(CustomerMatch(f"user:{user_id}", info.name, info.email, info.phone))
    return matches[:limit]


def resolve_customer(actor: Actor, key: str | int | None) -> Contact:
    """The contact a picker *key* stands for. ``user:<id>`` is resolved through the host's user
    loader and mirrored (as when that user signs in); a bare number is a contact id."""
    _staff(actor)
    kind, _sep, ident = str(key or "").partition(":")
    if not ident:
        kind, ident = "contact", kind
    if kind == "user" and ident:
        try:
            user = current_helpdesk.load_user(ident)
        except (TypeError, ValueError, LookupError):
            user = None  # a loader that chokes on a value that is no id of its kind
        if user is None:
            raise NotFound(_("No such customer."))
        return sync_contact(user)
    contact_id = parse_id(ident)
    if kind != "contact" or contact_id is None:
        raise NotFound(_("No such customer."))
    return get_contact(actor, contact_id)


def get_contact(actor: Actor, contact_id: int, *, for_update: bool = False) -> Contact:
    """The contact *contact_id*; *for_update* locks its row (PostgreSQL) and re-reads it, for a
    read-check-write such as an ``If-Match`` update that two clients may send at once."""
    _staff(actor)
    contact = session().get(
        Contact, contact_id, with_for_update=for_update or None, populate_existing=for_update
    )
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


def update_attributes(actor: Actor, contact: Contact, attributes: dict[str, Any]) -> Contact:
    """Merge *attributes* into the contact's custom attributes (shown in the desk's sidebar);
    a ``None`` value removes that key. Hosts call this (as :data:`~.identity.SYSTEM` or an
    agent) to show what they know of a customer: plan, customer since, order count.

    Keys are short text, values plain scalars: the sidebar prints them as they are.
    """
    _staff(actor)
    merged = dict(contact.attributes or {})
    for key, value in attributes.items():
        if not isinstance(key, str) or not key.strip() or len(key) > 64:
            raise ValidationError(_("Not a valid attribute name."), {"attributes": [str(key)]})
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, ATTRIBUTE_TYPES) and len(str(value)) <= 500:
            merged[key] = value
        else:
            raise ValidationError(_("Not a valid attribute value."), {"attributes": [key]})
    if len(merged) > MAX_ATTRIBUTES:
        raise ValidationError(_("Too many attributes."), {"attributes": [_("Too many.")]})
    if merged == (contact.attributes or {}):
        return contact
    contact.attributes = merged  # a new dict: the JSON column notices the change
    audit.record(
        actor, "contact.attributes_changed", contact_id=contact.id, keys=sorted(attributes)
    )
    commit()
    return contact
