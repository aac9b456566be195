"""The help center's contact form for people who cannot log in (issue 15, item 5).

A visitor's message is kept as a :class:`~flask_helpdesk.models.ContactRequest` and a link is
mailed to the address they gave, signed with the app's secret (itsdangerous, as the reply
ratings' links) and expiring after ``HELPDESK_CONTACT_FORM_LINK_MAX_AGE``. Confirming opens the
ticket as the mail channel would for that address (:func:`mail_routing.contact_for`: tied to
the host's user when the host knows the address, so it shows in their portal too), through
:func:`tickets.open_ticket_with_message` as the customer: the spam filter and the house rules
apply as to any web ticket, and the visitor follows it by mail. With
``HELPDESK_CONTACT_FORM_VERIFY`` off the ticket opens at once, marked unverified, except for an
address the desk already knows: writing in a member's name into their portal still takes the
member's confirmation.

Confirming twice opens one ticket (a conditional UPDATE decides which confirmation wins, on
every database). The claim, the ticket and the request's link to it commit as one transaction:
a confirmation that fails half-way leaves the request pending, and the link works again. A
request never confirmed is kept until ``HELPDESK_CONTACT_FORM_KEEP`` has passed, then deleted
by the ``contact-requests`` sweep.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from itsdangerous import BadSignature, SignatureExpired
from sqlalchemy import delete, select, update

from ..i18n import gettext as _
from ..inputs import parse_id
from ..models import Channel, Contact, ContactRequest, Department, Message, Ticket, utcnow
from ..state import current_helpdesk
from . import audit, mail_routing, notifications
from .base import NotFound, ValidationError, commit, rollback, session, unit_of_work
from .contact_tokens import confirmation_token, token_data
from .identity import SYSTEM, Actor, contact_as_actor
from .tickets import EMAIL_PATTERN, NewTicket, clean_subject, open_ticket_with_message

NAME_MAX_LENGTH = 200


@dataclass
class ContactData:
    """What the contact form collects."""

    name: str
    email: str
    department_id: int | str | None
    subject: str
    body: str
    language: str | None = None


@dataclass(frozen=True)
class Confirmation:
    """The outcome of following a confirmation link. ``ticket`` is None only for a request
    confirmed whose ticket is nowhere to be found (see :func:`_relink`)."""

    request: ContactRequest
    ticket: Ticket | None
    already: bool


def request_for_token(token: str, *, expired_ok: bool = False) -> ContactRequest:
    """The request a confirmation link stands for. A forged or mangled token, or one whose
    request is gone, is :class:`NotFound`; an expired one a :class:`ValidationError` (with
    *expired_ok*, the request anyway: the page that offers a new link needs it)."""
    max_age = current_helpdesk.config["HELPDESK_CONTACT_FORM_LINK_MAX_AGE"].total_seconds()
    try:
        data = token_data(token, None if expired_ok else max_age)
    except SignatureExpired:
        raise ValidationError(_("This confirmation link has expired.")) from None
    except BadSignature:
        raise NotFound(_("This confirmation link is not valid.")) from None
    found = None
    if isinstance(data, dict) and parse_id(data.get("r")) is not None:
        found = session().get(ContactRequest, parse_id(data.get("r")))
    if found is None or found.email != data.get("e"):
        raise NotFound(_("This confirmation link is not valid."))
    return found


def _validate(data: ContactData) -> tuple[str, str, Department, str, str]:
    config = current_helpdesk.config
    errors: dict[str, list[str]] = {}
    name = " ".join((data.name or "").split())
    if not name:
        errors["name"] = [_("Please enter your name.")]
    elif len(name) > NAME_MAX_LENGTH:
        errors["name"] = [_("The name is too long.")]
    email = (data.email or "").strip()
    if not email:
        errors["email"] = [_("Please enter your email address.")]
    elif len(email) > 254 or not EMAIL_PATTERN.match(email):
        errors["email"] = [_("Not a valid email.")]
    subject = clean_subject(data.subject)
    if not subject:
        errors["subject"] = [_("Please enter a subject.")]
    elif len(subject) > config["HELPDESK_SUBJECT_MAX_LENGTH"]:
        errors["subject"] = [_("The subject is too long.")]
    body = (data.body or "").strip()
    if not body:
        errors["body"] = [_("Please describe your request.")]
    elif len(body) > config["HELPDESK_MESSAGE_MAX_LENGTH"]:
        errors["body"] = [_("The message is too long.")]
    department_id = parse_id(data.department_id)
    department = session().get(Department, department_id) if department_id else None
    if department is None or not department.is_active:
        errors["department_id"] = [_("Please choose a department.")]
    if errors:
        raise ValidationError(_("Please correct the errors below."), errors)
    assert department is not None
    return name, email, department, subject, body


def _known_address(email: str) -> bool:
    """Does *email* belong to a host user, or to a contact tied to one?"""
    address = mail_routing.normalize_address(email)
    tied = session().scalar(
        select(Contact.id)
        .where(Contact.email.in_({address, email}), Contact.user_id.is_not(None))
        .limit(1)
    )
    return tied is not None or current_helpdesk.user_by_email(address) is not None


def submit(data: ContactData, ip_address: str | None = None) -> ContactRequest:
    """Keep a visitor's message and mail them the confirmation link; or, when the host opens
    contact-form tickets unverified and the address is no member's, open the ticket now
    (``request.ticket_id`` then says which)."""
    name, email, department, subject, body = _validate(data)
    request = ContactRequest(
        name=name,
        email=email,
        department_id=department.id,
        subject=subject,
        body=body,
        language=(data.language or None) and data.language[:16],
        ip_address=(ip_address or None) and ip_address[:45],
        created_at=utcnow(),
    )
    session().add(request)
    session().flush()
    audit.record(
        Actor(perspective="system", ip_address=ip_address),
        "contact_request.submitted",
        request_id=request.id,
        department_id=department.id,
    )
    if not current_helpdesk.config["HELPDESK_CONTACT_FORM_VERIFY"] and not _known_address(email):
        commit()  # kept first: a refusal of the house rules below loses nothing
        _open(request, verified=False)
        return request
    _mail_link(request)
    commit()
    return request


def _mail_link(request: ContactRequest) -> None:
    notifications.contact_link(request)


def resend(request: ContactRequest, ip_address: str | None = None) -> ContactRequest:
    """Mail a fresh link for a request not confirmed yet (the old link expired)."""
    if request.confirmed_at is not None:
        raise ValidationError(_("This request was already confirmed."))
    audit.record(
        Actor(perspective="system", ip_address=ip_address),
        "contact_request.link_resent",
        request_id=request.id,
    )
    _mail_link(request)
    commit()
    return request


def confirm(request: ContactRequest, ip_address: str | None = None) -> Confirmation:
    """Open the ticket of a confirmed request, once: a second confirmation answers with the
    ticket the first one opened."""
    claimed = session().execute(
        update(ContactRequest)
        .where(ContactRequest.id == request.id, ContactRequest.confirmed_at.is_(None))
        .values(confirmed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        rollback()
        session().refresh(request)
        ticket = session().get(Ticket, request.ticket_id) if request.ticket_id else None
        if ticket is None and request.confirmed_at is not None:
            ticket = _relink(request)
        return Confirmation(request, ticket, already=True)
    session().refresh(request)
    ticket = _open(request, verified=True, ip_address=ip_address)
    return Confirmation(request, ticket, already=False)


def _open(request: ContactRequest, verified: bool, ip_address: str | None = None) -> Ticket:
    """Open the ticket as the customer the address stands for; on a refusal (house rules,
    a department gone) or any other failure nothing changes and the request stays pending.

    One transaction: the ticket, the request's link to it and what the caller has not committed
    yet (the confirmation's claim) commit together. Committed apart, a failure between them
    left a confirmed request without its ticket, and every later confirmation answered that
    another one was still opening it."""
    with unit_of_work():
        contact = mail_routing.contact_for(request.email, request.name)
        if not contact.name:
            contact.name = request.name
        ticket, _first = open_ticket_with_message(
            contact_as_actor(contact, ip_address=ip_address),
            NewTicket(
                department_id=request.department_id,
                subject=request.subject,
                body=request.body,
                channel=Channel.WEB,
                # No email= here: the ticket takes the contact's address (the form's).
                locale=request.language,
                message_data={
                    "contact_form": {"request_id": request.id, "verified": verified},
                },
                # The visitor sent it on purpose, twice over when they confirmed it.
                allow_duplicate=True,
            ),
        )
        request.ticket_id = ticket.id
        _opened(request, ticket, verified)
    return ticket


def _opened(request: ContactRequest, ticket: Ticket, verified: bool) -> None:
    notifications.contact_opened(ticket)
    audit.record(SYSTEM, "contact_request.opened", ticket, request_id=request.id, verified=verified)


# How long after its confirmation a request's ticket was opened, at the most (the same request).
RELINK_WINDOW = timedelta(minutes=5)


def _relink(request: ContactRequest) -> Ticket | None:
    """The ticket of a request confirmed before confirming was one transaction, whose link to
    it a failure between the two commits lost: found by its first message (which names the
    request), among the tickets opened just after the confirmation (the ticket index on the
    creation time bounds the search), then linked, and the visitor told, once."""
    confirmed_at = request.confirmed_at
    assert confirmed_at is not None
    rows = session().execute(
        select(Ticket.id, Message.data)
        .join(Message, Message.ticket_id == Ticket.id)
        .where(
            Ticket.created_at >= confirmed_at,
            Ticket.created_at <= confirmed_at + RELINK_WINDOW,
            Ticket.channel == Channel.WEB,
            Message.created_at == Ticket.created_at,
        )
    )
    found = next(
        (
            (ticket_id, form)
            for ticket_id, data in rows
            if isinstance(form := (data or {}).get("contact_form"), dict)
            and form.get("request_id") == request.id
        ),
        None,
    )
    if found is None:
        return None
    ticket_id, form = found
    linked = session().execute(
        update(ContactRequest)
        .where(ContactRequest.id == request.id, ContactRequest.ticket_id.is_(None))
        .values(ticket_id=ticket_id)
        .execution_options(synchronize_session=False)
    )
    ticket = session().get(Ticket, ticket_id)
    assert ticket is not None
    if linked.rowcount == 1:  # else another confirmation linked it a moment ago
        _opened(request, ticket, bool(form.get("verified")))
    commit()
    session().refresh(request)
    return ticket


def purge_expired() -> int:
    """Delete the requests never confirmed within ``HELPDESK_CONTACT_FORM_KEEP`` (the sweep)."""
    keep: timedelta = current_helpdesk.config["HELPDESK_CONTACT_FORM_KEEP"]
    result = session().execute(
        delete(ContactRequest)
        .where(
            ContactRequest.ticket_id.is_(None),
            ContactRequest.confirmed_at.is_(None),
            ContactRequest.created_at < utcnow() - keep,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount:
        audit.record(SYSTEM, "contact_request.purged", count=result.rowcount)
    commit()
    return result.rowcount or 0


def honeypot_caught(ip_address: str | None) -> None:
    """A form robot filled in the hidden field: nothing is kept but this audit line."""
    audit.record(Actor(perspective="system", ip_address=ip_address), "contact_request.honeypot")
    commit()


__all__ = [
    "Confirmation",
    "ContactData",
    "confirm",
    "confirmation_token",
    "purge_expired",
    "request_for_token",
    "resend",
    "submit",
]
