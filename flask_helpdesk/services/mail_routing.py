"""Where an inbound mail belongs: its department, its ticket (if it is a reply) and its author.

Reads only (except creating a Contact for an unknown sender); :mod:`services.intake` decides and
writes. Threading order: the ticket code in the subject, then a correctly *signed* Message-ID of
ours in ``In-Reply-To``/``References``, then a per-ticket plus address, then the sender's own
earlier mail in the thread. Whatever matched, only the ticket's requester or a recorded
participant may post into it; anyone else opens a new ticket.
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import Row, bindparam, func, inspect, literal, select
from sqlalchemy import null as sa_null
from sqlalchemy import true as sa_true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from ..mail.parsing import ParsedMail, extract_ticket_code
from ..mail.threading import code_from_plus_address, ticket_code_from_ids
from ..models import Contact, Department, InboundMail, Mailbox, Message, Ticket, TicketParticipant
from ..state import current_helpdesk
from .base import cached_for_app, forget_on_change, insert_loaded, new_row, session
from .departments import department_row
from .prepared import NamedRow, prepared_once

T = TypeVar("T")


@dataclass
class ThreadMatch:
    ticket: Ticket
    how: str  # subject-code | message-id | signed-plus-address | plus-address | own-thread


def normalize_address(address: str | None) -> str:
    return (address or "").strip().lower()


def recipients_of(parsed: ParsedMail, envelope: str | None = None) -> list[str]:
    """Every address the mail was delivered to, envelope first, lowercased, no duplicates."""
    found = [normalize_address(envelope)] if envelope else []
    for name in ("Delivered-To", "X-Original-To", "Envelope-To"):
        value = parsed.header(name)
        if value:
            found.append(normalize_address(email.utils.parseaddr(value)[1]))
    found += [normalize_address(addr) for _, addr in (*parsed.to, *parsed.cc)]
    return [a for a in dict.fromkeys(found) if "@" in a]


def _base_address(address: str) -> str:
    local, _, domain = address.rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain}"


# How long one process reuses the addresses of departments and mailboxes (two queries a mail
# otherwise). The services that change them forget them at once in their own process.
ROUTING_CACHE_SECONDS = 30.0
ROUTING_CACHE_KEY = "helpdesk-mail-routing"


@dataclass(frozen=True)
class Routing:
    """Our own addresses, and which active department each receiving address leads to."""

    own: frozenset[str]
    mailboxes: dict[str, int]  # mailbox address -> department id (active departments only)
    departments: dict[str, int]  # department address -> department id (active only)


def _load_routing() -> Routing:
    config = current_helpdesk.config
    rows = (
        session()
        .execute(
            select(Department.id, Department.email, Department.is_active, sa_null()).union_all(
                select(
                    Mailbox.department_id, Mailbox.address, Department.is_active, sa_true()
                ).join(Department, Department.id == Mailbox.department_id)
            )
        )
        .all()
    )
    own: set[str] = set()
    mailboxes: dict[str, int] = {}
    departments: dict[str, int] = {}
    for department_id, address, active, is_mailbox in rows:
        address = normalize_address(address)
        if not address:
            continue
        own.add(address)
        if active:
            (mailboxes if is_mailbox else departments).setdefault(address, department_id)
    from flask import current_app

    for sender in (config["HELPDESK_MAIL_SENDER"], current_app.config.get("MAIL_DEFAULT_SENDER")):
        if isinstance(sender, tuple | list):
            sender = sender[-1]
        if sender:
            own.add(normalize_address(email.utils.parseaddr(str(sender))[1]))
    return Routing(frozenset(a for a in own if a), mailboxes, departments)


def routing() -> Routing:
    return cached_for_app(ROUTING_CACHE_KEY, ROUTING_CACHE_SECONDS, _load_routing)


# Whoever changes a department or a mailbox (a service, an admin page, a test), this process
# routes the next mail with the change; other processes within the cache's time.
forget_on_change(ROUTING_CACHE_KEY, Department, Mailbox)


def own_addresses() -> set[str]:
    """Addresses the helpdesk sends from or receives at (mail from them is our own loop)."""
    return set(routing().own)


def is_own_address(address: str, own: set[str]) -> bool:
    address = normalize_address(address)
    return address in own or _base_address(address) in own


def department_for(
    row: InboundMail, parsed: ParsedMail, recipients: list[str]
) -> Department | None:
    """The department a new ticket from this mail goes to."""
    # From the process's copy of the departments' rows (no query; ticket creation takes the
    # same row; a change in another process is seen within a second with Redis).
    if row.department_id:
        department = department_row(row.department_id)
        if department is not None and department.is_active:
            return department
    if row.mailbox_id:
        mailbox = session().get(Mailbox, row.mailbox_id)
        if mailbox is not None and mailbox.department.is_active:
            return mailbox.department
    table = routing()
    bases = [_base_address(a) for a in recipients]
    found = next((table.mailboxes[a] for a in bases if a in table.mailboxes), None)
    found = found or next((table.departments[a] for a in bases if a in table.departments), None)
    if found is not None:
        department = department_row(found)
        if department is not None and department.is_active:
            return department
    slug = current_helpdesk.config["HELPDESK_MAIL_DEFAULT_DEPARTMENT"]
    query = select(Department).where(Department.is_active.is_(True))
    if slug:
        department = session().scalar(query.where(Department.slug == slug))
        if department is not None:
            return department
    return session().scalar(query.order_by(Department.position, Department.id).limit(1))


def _by_code(code: str | None) -> Ticket | None:
    if not code:
        return None
    # Compiled once, run on the session's connection (services.prepared): a third of the
    # CPU of Session.execute for the same query.
    connection = session().connection(bind_arguments={"mapper": Ticket.__mapper__})
    row = prepared_once("ticket by code", connection, _ticket_by_code, ("code",)).first(
        connection, {"code": code}
    )
    if row is None:
        return None
    ticket = _loaded(Ticket, row)
    if "department" not in ticket.__dict__ and not inspect(ticket).expired:
        # What the ORM's query joined: from the process's copy of the departments' rows.
        department = department_row(ticket.department_id)
        if department is not None:
            set_committed_value(ticket, "department", department)
    return _surviving(ticket)


@cache
def _ticket_by_code():
    table = Ticket.__table__
    return select(*table.c).where(table.c.code == bindparam("code"))


def _surviving(ticket: Ticket | None) -> Ticket | None:
    # A merged ticket lives on in the one it was merged into.
    seen = 0
    while ticket is not None and ticket.merged_into_id and seen < 5:
        ticket, seen = ticket.merged_into, seen + 1
    return ticket


def find_thread(parsed: ParsedMail, recipients: list[str]) -> ThreadMatch | None:
    """The ticket this mail answers, by the threading order above (no sender check here)."""
    prefix = current_helpdesk.config["HELPDESK_TICKET_CODE_PREFIX"]
    ticket = _by_code(extract_ticket_code(parsed.subject, prefix))
    if ticket is not None:
        return ThreadMatch(ticket, "subject-code")
    ticket = _by_code(ticket_code_from_ids(parsed.thread_ids))
    if ticket is not None:
        return ThreadMatch(ticket, "message-id")
    for address in recipients:
        found = code_from_plus_address(address, prefix)
        ticket = _by_code(found[0]) if found else None
        if ticket is not None:
            return ThreadMatch(ticket, "signed-plus-address" if found[1] else "plus-address")
    ids = [i for i in parsed.thread_ids if len(i) <= 255]
    if ids:
        message = session().scalar(
            select(Message).where(Message.email_message_id.in_(ids)).limit(1)
        )
        if message is not None:
            ticket = _surviving(message.ticket)
            if ticket is not None:
                return ThreadMatch(ticket, "own-thread")
    return None


def signed_for(parsed: ParsedMail, recipients: list[str], ticket: Ticket) -> bool:
    """Does one of our signed Message-IDs in the mail's thread headers, or a signed reply
    address it was sent to, name *ticket* (or a ticket merged into it)? That shows the sender
    received our mail about it."""
    codes = [ticket_code_from_ids(parsed.thread_ids)]
    prefix = current_helpdesk.config["HELPDESK_TICKET_CODE_PREFIX"]
    for address in recipients:
        found = code_from_plus_address(address, prefix)
        if found and found[1]:
            codes.append(found[0])
    for code in dict.fromkeys(c for c in codes if c):
        match = _by_code(code)
        if match is not None and match.id == ticket.id:
            return True
    return False


def may_post(ticket: Ticket, address: str) -> bool:
    """Is *address* the ticket's requester (or its contact address) or a participant?"""
    address = normalize_address(address)
    # The ticket's own address first: the requester's row is then not loaded for it.
    if address == normalize_address(ticket.email):
        return True
    if address == normalize_address(ticket.requester.email):
        return True
    return (
        session().scalar(
            select(TicketParticipant.id).where(
                TicketParticipant.ticket_id == ticket.id, TicketParticipant.email == address
            )
        )
        is not None
    )


def contact_for(
    address: str, name: str | None, known: Row[Any] | NamedRow | None = None
) -> Contact:
    """The Contact for a sender: tied to the host's user when the host knows the address
    (``@helpdesk.user_by_email``), else a contact with the email only. Flushes, no commit.

    *known*: what :func:`contact_lookup` found for the same *address* earlier in this
    transaction, within a statement of the caller's (its ``contact_found`` column says
    whether a contact was there): not asked again."""
    given = (address or "").strip()
    address = normalize_address(address)
    if known is not None:
        found = _loaded(Contact, known) if known.contact_found else None
    else:
        found = _contact_by_email(address, given)
    if found is not None and found.user_id is not None:
        return found
    user = current_helpdesk.user_by_email(address)
    if user is not None:
        user_id = str(user.get_id())
        mirror = session().scalar(select(Contact).where(Contact.user_id == user_id))
        if mirror is not None:
            return mirror
        info = current_helpdesk.user_info(user)
        if found is None:
            found = Contact(email=address, attributes={}, notes="")
            session().add(found)
        found.user_id = user_id
        found.name = info.name or found.name or (name or "")
        found.phone = found.phone or info.phone
        found.locale = found.locale or info.locale
        session().flush()
        return found
    if found is not None:
        return found
    return _email_only_contact(address, name)


def _contact_by_email(address: str, given: str) -> Contact | None:
    """The contact with one of the addresses, the host user's first (a Core query and
    :func:`_loaded`: the ORM's query cost 0.13 ms of CPU against 0.04, for every mail)."""
    connection = session().connection(bind_arguments={"mapper": Contact.__mapper__})
    query = prepared_once("contacts by email", connection, _contacts_by_email, _BY_EMAIL)
    row = query.first(connection, {"address": address, "given": given})
    return _loaded(Contact, row) if row is not None else None


def contact_lookup():
    """The sender's contact as :func:`contact_for` reads it, for a caller's statement: a
    subquery of one row or none, its columns named as the table's, and ``contact_found``
    (parameters ``address``, the normalized address, and ``given``, the address as written)."""
    return _contacts_by_email().add_columns(literal(True).label("contact_found")).subquery()


def contact_params(address: str) -> dict[str, str]:
    """The parameters of :func:`contact_lookup` for the sender's *address* (as written)."""
    return {"address": normalize_address(address), "given": (address or "").strip()}


def _loaded(model: type[T], row: Row[Any] | NamedRow) -> T:
    """*row* (every column of *model*'s table, from a Core query) as a loaded object of this
    session: the one the session holds already (its changes included), else a new one,
    unchanged (nothing to flush). The ORM's own query cost three times the statement."""
    db = session()()  # the request's Session itself, not its scoped proxy
    known = db.identity_map.get(identity_key(model, row.id))
    if known is not None:
        return known
    # Filled as the ORM's loading fills a row's object, not through the constructor (its
    # every attribute set is an event and a change to track): half the CPU for a ticket. No
    # model of ours has an __init__, validators or "init" listeners that this would skip.
    obj = new_row(model, **{name: row._mapping[column.name] for name, column in _columns(model)})
    make_transient_to_detached(obj)
    db.add(obj)
    return obj


@cache
def _columns(model: type) -> tuple[tuple[str, Any], ...]:
    return tuple((p.key, p.columns[0]) for p in inspect(model).column_attrs)


_BY_EMAIL = ("address", "given")  # the parameters of _contacts_by_email


@cache
def _contacts_by_email():
    """Contacts with one of the addresses, the host user's first (built once a process).
    Two parameters, not an expanding one: its SQL would be rendered again for every mail."""
    table = Contact.__table__
    return (
        select(*table.c)
        .where(table.c.email.in_([bindparam("address"), bindparam("given")]))
        .order_by(table.c.user_id.is_(None), table.c.id)
        .limit(1)
    )


# The unique index of email-only contacts (lower(email) where user_id is null).
_EMAIL_ONLY = next(
    i for i in Contact.__table__.indexes if i.name == "ux_helpdesk_contact_email_only"
)


def _email_only_contact(address: str, name: str | None) -> Contact:
    """Insert-or-get the email-only contact of *address* (normalized).

    Two workers may take mail from a new sender at the same moment: a unique index
    (``lower(email)`` where ``user_id`` is null, migration 0026) and ``ON CONFLICT DO NOTHING``
    make the second wait for the first and then read its contact, so both mails are filed
    under one customer and neither fails. One Core statement (``insert_loaded``, built once a
    process), not the ORM's INSERT with ``RETURNING`` of the entity, which cost 0.7 ms of CPU
    for every mail from a new sender. Other databases: a savepoint, retried as a read."""
    values = {"email": address, "name": (name or "")[:200], "attributes": {}, "notes": ""}
    dialect = session().get_bind(mapper=Contact).dialect.name
    if dialect in ("postgresql", "sqlite"):
        contact = Contact(**values)
        if insert_loaded(contact, skip_if_taken=_EMAIL_ONLY):
            return contact
    else:
        try:
            with session().begin_nested():
                contact = Contact(**values)
                session().add(contact)
            return contact
        except IntegrityError:
            pass
    # The other transaction's contact (committed by now: the insert waited for it).
    return (
        session()
        .scalars(
            select(Contact).where(func.lower(Contact.email) == address, Contact.user_id.is_(None))
        )
        .one()
    )


def add_participants(
    ticket: Ticket, people: list[tuple[str, str]], skip: set[str], new_ticket: bool = False
) -> None:
    """Record CC'd people of a mail as participants of *ticket* (they may reply by mail).

    A *new_ticket* has none yet: no need to ask the database."""
    existing: set[str] = set()
    if not new_ticket:
        existing = set(
            session().scalars(
                select(TicketParticipant.email).where(TicketParticipant.ticket_id == ticket.id)
            )
        )
    for name, address in people:
        address = normalize_address(address)
        # Longer than a mail address can be (RFC 5321): nobody can reply from it, and the
        # column would refuse it, failing the whole mail.
        if not address or len(address) > 254 or address in existing:
            continue
        if is_own_address(address, skip):
            continue
        existing.add(address)
        session().add(
            TicketParticipant(ticket_id=ticket.id, email=address, name=(name or "")[:200])
        )
