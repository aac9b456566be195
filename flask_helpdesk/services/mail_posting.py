"""What a claimed inbound mail becomes: ignored noise, a reply on its ticket, or a new ticket.

Called by :func:`services.intake.process` only, inside its unit of work and its error handling:
nothing here commits (the services' own commits only flush inside the unit), so the ticket or
reply, its attachments, the participants and the row's status and link are stored together
when the unit commits, and anything raised rolls all of it back and marks the mail ``failed``
with the reason.
"""

from __future__ import annotations

import io
import re
from datetime import timedelta
from functools import cache

from sqlalchemy import bindparam, func, literal, select, true
from sqlalchemy.orm.attributes import set_committed_value

from ..i18n import gettext as _
from ..i18n import ngettext
from ..mail.parsing import ParsedMail, detect_noise, parse_message
from ..mail.threading import is_ours
from ..models import (
    Channel,
    Contact,
    InboundMail,
    InboundStatus,
    Message,
    Ticket,
    TicketStatus,
    utcnow,
)
from ..state import current_helpdesk
from . import house_rules, mail_auth, notifications
from . import mail_routing as routing
from .attachments import Upload, store_uploads
from .base import RowUpdate, ValidationError, session
from .identity import Actor, contact_as_actor
from .mail_auth import Verdict
from .messages import post_message
from .prepared import prepared_once
from .spam import upstream_verdict
from .tickets import NewTicket, open_ticket_with_message

ABUSE_REASON = "abuse guard"
RATE_PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def parse_rate(value: str | tuple[int, int] | None) -> tuple[int, int] | None:
    """``"20/hour"`` → ``(20, 3600)``; a ``(count, seconds)`` tuple passes; None disables."""
    if not value:
        return None
    if isinstance(value, tuple | list):
        return int(value[0]), int(value[1])
    count, _sep, period = str(value).partition("/")
    return int(count), RATE_PERIODS[period.strip().lower().rstrip("s") or "hour"]


# What processing writes on the row: one UPDATE with the outcome (see _finish).
_OUTCOME = (
    "subject", "sender", "ticket_id", "posted_message_id", "status", "reason", "processed_at",
    "auth_spf", "auth_dkim", "auth_dmarc", "sender_verified", "auth_reason",
)  # fmt: skip


def _set(row: InboundMail, name: str, value: object) -> None:
    """Set one of the row's outcome columns in memory only: :func:`_finish` writes them all.

    Not an assignment: that marks the row dirty, every query until the commit would flush
    the unit of work first, and the commit would flush it through the unit of work (half a
    millisecond of CPU for the one UPDATE). Rolled back, the row is expired with the rest."""
    if getattr(row, name) != value:
        set_committed_value(row, name, value)


# On the row object when its claim only locked it (intake's fresh claim on PostgreSQL): the
# claim's columns (attempts, claimed_at) go out with the outcome, in the same UPDATE.
CLAIM_UNWRITTEN = "_helpdesk_claim_unwritten"
_CLAIM = ("attempts", "claimed_at")


@cache
def _outcome_update(with_claim: bool = False):
    """The row's outcome in one UPDATE, built once a process (Core: no unit of work)."""
    table = InboundMail.__table__
    columns = (*_OUTCOME, *_CLAIM) if with_claim else _OUTCOME
    return (
        table.update()
        .where(table.c.id == bindparam("row_id"))
        .values({name: bindparam(name) for name in columns})
    )


def _outcome(row: InboundMail, status: InboundStatus, reason: str | None) -> dict[str, object]:
    """The row's outcome columns (set in memory too), the claim's if it only locked the row."""
    # Who really sent it, with the outcome.
    _set(row, "status", status)
    _set(row, "reason", reason)
    _set(row, "processed_at", utcnow())
    for name, value in mail_auth.columns(row_verdict(row)).items():
        _set(row, name, value)
    with_claim = getattr(row, CLAIM_UNWRITTEN, False)
    return {name: getattr(row, name) for name in ((*_OUTCOME, *_CLAIM) if with_claim else _OUTCOME)}


def _finish(row: InboundMail, status: InboundStatus, reason: str | None = None) -> None:
    # Last (the services' rows are written by then): the row's every outcome column goes out
    # in one UPDATE; what _set kept in memory too.
    values = _outcome(row, status, reason)
    with_claim = "attempts" in values
    columns = tuple(values)
    values["row_id"] = row.id
    # Compiled once, run on the session's connection (services.prepared): a third of the
    # CPU of Session.execute for the same UPDATE.
    connection = session().connection(bind_arguments={"mapper": InboundMail.__mapper__})
    outcome = prepared_once(
        ("mail outcome", with_claim),
        connection,
        lambda: _outcome_update(with_claim),
        (*columns, "row_id"),
    )
    outcome.rowcount(connection, values)
    setattr(row, CLAIM_UNWRITTEN, False)


def _ignore(row: InboundMail, reason: str) -> None:
    _finish(row, InboundStatus.IGNORED, reason)


# The verdict intake computed before its transaction, kept on the row object for _finish.
_VERDICT = "_helpdesk_verdict"


def row_verdict(row: InboundMail) -> Verdict:
    verdict = getattr(row, _VERDICT, None)
    return (
        verdict
        if verdict is not None
        else mail_auth.check(row.raw or b"", row.envelope_sender, row.provider_verdict)
    )


def _hold(row: InboundMail, ticket: Ticket | None, reason: str) -> None:
    """Keep the mail for an agent (accept or discard); the ticket it claims to answer, if
    any, is where the agents who may decide find it."""
    _set(row, "ticket_id", ticket.id if ticket is not None else None)
    _finish(row, InboundStatus.HELD, reason)


def _rate_limited(row: InboundMail, sender: str, parsed: ParsedMail) -> bool:
    """Whether *sender* sent too many mails lately. The same statement asks whether another
    message has the mail's Message-ID (see :func:`_message_id`) and reads the sender's
    contact (see :func:`_known_contact`): one query, not three."""
    rate = parse_rate(current_helpdesk.config["HELPDESK_MAIL_RATE_LIMIT"])
    if rate is None:
        return False
    count, seconds = rate
    since = row.received_at - timedelta(seconds=seconds)
    mid = _usable_message_id(parsed)
    address = parsed.from_address or sender
    params = {"sender": sender, "since": since, "id": row.id, "mid": mid}
    params.update(routing.contact_params(address))
    # Compiled once, run on the session's connection (services.prepared): through
    # Session.execute four fifths of its CPU were SQLAlchemy's, not SQLite's.
    connection = session().connection(bind_arguments={"mapper": InboundMail.__mapper__})
    query = prepared_once("earlier mails", connection, _earlier_mails, tuple(params))
    found = query.first(connection, params)
    if mid is not None:
        setattr(row, _MESSAGE_ID_TAKEN, (mid, found.taken is not None))
    setattr(row, _CONTACT_FOUND, (address, found))
    return (found.earlier or 0) >= count


# The sender's contact as _rate_limited read it: (the address looked up, the row).
_CONTACT_FOUND = "_helpdesk_contact_found"


def _contact(row: InboundMail, address: str, name: str | None) -> Contact:
    """The contact of the sender *address*, as the rate limit's query read it if it did (no
    contact is written in between in this transaction), else looked up now."""
    known = getattr(row, _CONTACT_FOUND, None)
    found = known[1] if known is not None and known[0] == address else None
    return routing.contact_for(address, name, known=found)


@cache
def _earlier_mails():
    """How many mails the sender sent since a time, before a row, and the message that has a
    Message-ID, if any (built once a process). Core columns: a plain query, no flush of the
    unit of work before it."""
    table = InboundMail.__table__
    earlier = (
        select(func.count())
        .select_from(table)
        .where(
            table.c.sender == bindparam("sender"),
            table.c.received_at >= bindparam("since"),
            table.c.id < bindparam("id"),
        )
    )
    contact = routing.contact_lookup()
    one = select(literal(1).label("one")).subquery("one")  # a row even without a contact
    return select(
        earlier.scalar_subquery().label("earlier"),
        _message_with_id().scalar_subquery().label("taken"),
        *contact.c,
    ).select_from(one.outerjoin(contact, true()))


def handle(
    row: InboundMail,
    requester_id: int | None = None,
    verdict: Verdict | None = None,
    accepted: bool = False,
) -> None:
    """Decide and post. Raises on what should count as a failure of this mail.

    With *requester_id* (an admin filed the mail for that contact) the contact is the author
    and the noise, loop and rate checks are skipped: a person decided. *verdict* is who sent
    the mail (:func:`mail_auth.check`, computed before the transaction; None checks here);
    *accepted*: an agent released the held mail, the sender policy does not apply.
    """
    setattr(row, _VERDICT, verdict)
    # What an earlier try of this row in the session read is not this transaction's.
    setattr(row, _CONTACT_FOUND, None)
    setattr(row, _MESSAGE_ID_TAKEN, None)
    config = current_helpdesk.config
    parsed = parse_message(
        row.raw,
        allow_remote_images=config["HELPDESK_MAIL_ALLOW_REMOTE_IMAGES"],
        envelope_sender=row.envelope_sender,
    )
    # The admin's list shows the subject the ticket gets (decoded with the body's charset).
    _set(row, "subject", parsed.subject[:255] or row.subject)
    if requester_id is not None:
        return _filed(row, parsed, session().get(Contact, requester_id))
    sender = routing.normalize_address(parsed.from_address)
    _set(row, "sender", sender[:254] or row.sender)
    noise = detect_noise(
        parsed,
        allowed_list_ids=config["HELPDESK_MAIL_ALLOWED_LIST_IDS"],
        envelope_sender=row.envelope_sender,
    )
    if noise is not None:
        return _ignore(row, f"noise: {noise}")
    if not sender:
        raise ValidationError("the mail has no sender address")
    own = routing.own_addresses()
    # The envelope too: our own mail bounced back or forwarded keeps our MAIL FROM even when
    # a forwarder rewrote its From.
    envelope = routing.normalize_address(row.envelope_sender or "")
    if (
        routing.is_own_address(sender, own)
        or (envelope and routing.is_own_address(envelope, own))
        or (parsed.message_id and is_ours(parsed.message_id))
    ):
        return _ignore(row, "loop: the mail came from the helpdesk itself")
    if _rate_limited(row, sender, parsed):
        return _ignore(row, f"rate limit: too many mails from {sender}")

    recipients = routing.recipients_of(parsed, row.recipient)
    match = routing.find_thread(parsed, recipients)
    verdict = row_verdict(row)
    setattr(row, _VERDICT, verdict)
    note = None
    if match is not None and routing.may_post(match.ticket, sender):
        if match.ticket.status == TicketStatus.SPAM:
            return _ignore(row, f"ticket {match.ticket.code} is marked as spam")
        held = None if accepted else mail_auth.hold_reason(verdict, sender, as_participant=True)
        if held:
            return _hold(row, match.ticket, held)
        if (
            accepted
            or mail_auth.threads_as_sender(verdict, match.how)
            or routing.signed_for(parsed, recipients, match.ticket)
        ):
            contact = _contact(row, parsed.from_address or sender, parsed.from_name)
            return _reply(row, parsed, match.ticket, contact, own, match.how)
        note = (
            f"sender not verified and matched {match.ticket.code} only by {match.how}, "
            "which is no proof: opened a new ticket"
        )
    elif match is not None:
        note = f"{sender} is not a participant of {match.ticket.code}: opened a new ticket"
    held = None if accepted else mail_auth.hold_reason(verdict, sender, as_participant=False)
    if held:
        return _hold(row, None, held)
    contact = _contact(row, parsed.from_address or sender, parsed.from_name)
    return _new_ticket(row, parsed, recipients, contact, own, note)


def _filed(row: InboundMail, parsed: ParsedMail, contact: Contact | None) -> None:
    if contact is None:
        raise ValidationError("the chosen customer no longer exists")
    own = routing.own_addresses()
    recipients = routing.recipients_of(parsed, row.recipient)
    address = routing.normalize_address(contact.email)
    match = routing.find_thread(parsed, recipients)
    if match is not None and address and routing.may_post(match.ticket, address):
        return _reply(row, parsed, match.ticket, contact, own, f"{match.how}, filed by an admin")
    note = f"filed by an admin for {contact.email or contact.display_name}"
    return _new_ticket(row, parsed, recipients, contact, own, note)


def _uploads(parsed: ParsedMail) -> tuple[list[Upload], list[str], dict[str, int]]:
    """Parts that pass the attachment limits, notes about those dropped, and the position
    among the kept files of each image the HTML shows by Content-ID (names repeat:
    Apple Mail calls every pasted picture "image.png")."""
    config = current_helpdesk.config
    kept: list[Upload] = []
    notes: list[str] = []
    inline: dict[str, int] = {}
    for part in parsed.attachments:
        if len(kept) >= config["HELPDESK_ATTACHMENT_MAX_COUNT"]:
            notes.append(_("%(name)s was not kept: too many attachments.", name=part.filename))
            continue
        try:
            [stored] = store_uploads([Upload(part.filename, io.BytesIO(part.payload))])
        except ValidationError as error:
            reason = "; ".join(m for msgs in error.field_errors.values() for m in msgs)
            notes.append(_("Attachment not kept: %(reason)s", reason=reason or error.message))
            continue
        if part.is_inline and part.content_id:
            inline[part.content_id] = len(kept)
        # Stored now: the service posting it does not write the file a second time.
        kept.append(Upload(part.filename, io.BytesIO(b""), stored=stored))
    return kept, notes, inline


# Notes about files not kept listed one by one in the body, at most; the rest are counted, so
# the body stays within HELPDESK_MESSAGE_MAX_LENGTH however many files a mail has.
MAX_NOTES = 20


def _body(parsed: ParsedMail, notes: list[str], has_files: bool) -> str:
    text = (parsed.new_text or parsed.text or "").strip()
    if not text:
        text = _("(see the attached files)") if has_files else _("(empty message)")
    if len(notes) > MAX_NOTES:
        more = len(notes) - MAX_NOTES
        counted = ngettext(
            "%(num)d more file was not kept.", "%(num)d more files were not kept.", more
        )
        notes = [*notes[:MAX_NOTES], counted]
    listed = "\n\n" + "\n".join(f"[{n}]" for n in notes) if notes else ""
    room = current_helpdesk.config["HELPDESK_MESSAGE_MAX_LENGTH"] - 500 - len(listed)
    if len(text) > room:
        text = text[:room].rstrip() + "\n\n" + _("[The message was shortened.]")
    return text + listed


# Whether another message has the mail's Message-ID, as _rate_limited found: (id, taken).
_MESSAGE_ID_TAKEN = "_helpdesk_message_id_taken"


def _usable_message_id(parsed: ParsedMail) -> str | None:
    mid = parsed.message_id
    return mid if mid and len(mid) <= 255 else None


def _message_id(parsed: ParsedMail, row: InboundMail) -> str | None:
    """The Message-ID to record on the posted message, unless another message has it.

    Other systems reuse Message-IDs (ServiceNow, Jira, some clients for every mail); the
    column stays unique for our own outgoing ids, so the second mail's message goes without.
    Asked with the rate limit's query when that ran (nothing in this transaction posts a
    message in between)."""
    mid = _usable_message_id(parsed)
    if mid is None:
        return None
    known = getattr(row, _MESSAGE_ID_TAKEN, None)
    if known is not None and known[0] == mid:
        return None if known[1] else mid
    taken = session().scalar(_message_with_id(), {"mid": mid})
    return None if taken is not None else mid


@cache
def _message_with_id():
    table = Message.__table__
    return select(table.c.id).where(table.c.email_message_id == bindparam("mid")).limit(1)


def _link(row: InboundMail, message: Message, inline: dict[str, int], files: bool) -> None:
    """Tie the inbound row to the posted message (whose data already names the row)."""
    if not files and "attachments" not in message.__dict__:
        # Posted just now without files (only the service creating a message attaches any):
        # the staff notification, which lists them, need not ask the database.
        set_committed_value(message, "attachments", [])
    if inline:  # attachment ids exist only now; rare enough for one more UPDATE
        stored = sorted(message.attachments, key=lambda a: a.id)  # in the order attached
        message.data = {
            **message.data,
            "inline_images": {cid: stored[index].id for cid, index in inline.items()},
        }
    _set(row, "ticket_id", message.ticket_id)
    _set(row, "posted_message_id", message.id)


def _reply(row, parsed, ticket: Ticket, contact, own: set[str], how: str) -> None:
    uploads, notes, inline = _uploads(parsed)
    if contact.id == ticket.requester_id:
        actor = contact_as_actor(contact)
    else:
        # A CC'd participant: not the ticket's requester, so the customer permission check
        # (own tickets only) does not apply; the mail was let in by routing.may_post.
        actor = Actor(perspective="system", contact=contact)
    message = post_message(
        actor,
        ticket,
        _body(parsed, notes, bool(uploads)),
        uploads=uploads,
        channel=Channel.EMAIL,
        body_html=parsed.html,
        email_message_id=_message_id(parsed, row),
        data={"inbound_mail_id": row.id, "threaded_by": how},
    )
    routing.add_participants(ticket, [*parsed.cc], own | {routing.normalize_address(contact.email)})
    # Last (after any query that would flush): the row's status, reason and link go out in
    # one UPDATE with the commit.
    _link(row, message, inline, bool(uploads))
    _finish(row, InboundStatus.PROCESSED, f"reply to {ticket.code} (by {how})")


def _subject(parsed: ParsedMail) -> str:
    prefix = re.escape(current_helpdesk.config["HELPDESK_TICKET_CODE_PREFIX"])
    # Another ticket's code must not stay in the subject: replies would thread into it.
    subject = re.sub(rf"\[\s*{prefix}\s*-\s*\w+\s*\]", "", parsed.subject, flags=re.I).strip()
    limit = current_helpdesk.config["HELPDESK_SUBJECT_MAX_LENGTH"]
    return (subject or _("(no subject)"))[:limit]


def _new_ticket(row, parsed, recipients, contact, own: set[str], note: str | None) -> None:
    department = routing.department_for(row, parsed, recipients)
    if department is None:
        raise ValidationError("no active department to open the ticket in")
    uploads, notes, inline = _uploads(parsed)
    outcome = _outcome_with_ticket(row, note or "new ticket")
    try:
        ticket, first = _open(row, parsed, contact, department, uploads, notes, outcome)
    except house_rules.DuplicateTicket as duplicate:
        # The sender's open ticket says the same: the mail becomes a reply there.
        return _reply(row, parsed, duplicate.ticket, contact, own, "duplicate guard")
    except house_rules.TooManyTickets as refused:
        # Kept (the row, ignored with the reason: admins find it and can file it) and answered.
        sender = routing.normalize_address(contact.email)
        if not _refused_lately(row, sender):  # one answer an hour, however many mails
            notifications.mail_refused(sender, refused.limit, refused.period)
        limit = f"{refused.limit} new tickets per {refused.period}"
        return _ignore(row, f"{ABUSE_REASON}: {limit}; kept, no ticket opened")
    people = [(n, a) for n, a in (*parsed.to, *parsed.cc)]
    skip = own | {routing.normalize_address(contact.email)}
    routing.add_participants(ticket, people, skip, new_ticket=True)
    _link(row, first, inline, bool(uploads))
    if outcome is None:
        _finish(row, InboundStatus.PROCESSED, note or "new ticket")
    else:  # written with the ticket
        setattr(row, CLAIM_UNWRITTEN, False)


def _outcome_with_ticket(row: InboundMail, reason: str) -> RowUpdate | None:
    """On PostgreSQL, the row's outcome as a new ticket, written by the ticket's own statement
    (:func:`services.base.insert_loaded_with`) with the ticket's and message's ids: one
    statement a new ticket less (a round trip, about 0.3 ms of the server's CPU in a worker).
    The row is locked by the claim already, so the statement takes no lock the separate UPDATE
    did not. Should opening fail or turn the mail into a reply or a refusal, the ticket's
    statement did not run (or is rolled back with everything), and :func:`_finish` writes
    what the mail became. Elsewhere None: :func:`_finish` writes it last, as before."""
    if session().get_bind(InboundMail).dialect.name != "postgresql":
        return None
    values = _outcome(row, InboundStatus.PROCESSED, reason)
    for name in _IDS:
        values.pop(name)
    return RowUpdate(InboundMail.__table__, row.id, values, _IDS)


# The row's links to what it became: the new ticket (0) and its first message (1).
_IDS = {"ticket_id": 0, "posted_message_id": 1}


def _refused_lately(row: InboundMail, sender: str) -> bool:
    """Whether the abuse guard already refused (and answered) a mail of *sender* this hour."""
    table = InboundMail.__table__
    since = row.received_at - timedelta(hours=1)
    earlier = session().scalar(
        select(table.c.id)
        .where(
            table.c.sender == sender,
            table.c.received_at >= since,
            table.c.id < row.id,
            table.c.reason.startswith(ABUSE_REASON),
        )
        .limit(1)
    )
    return earlier is not None


def _open(row, parsed, contact, department, uploads, notes, outcome=None):
    return open_ticket_with_message(
        contact_as_actor(contact),
        NewTicket(
            department_id=department.id,
            subject=_subject(parsed),
            body=_body(parsed, notes, bool(uploads)),
            uploads=uploads,
            channel=Channel.EMAIL,
            body_html=parsed.html,
            email_message_id=_message_id(parsed, row),
            # No email= here: the web form's address check would refuse addresses mail
            # servers deliver (root@localhost); the ticket takes the contact's address.
            message_data={"inbound_mail_id": row.id, "threaded_by": "new"},
            upstream_spam=upstream_verdict(parsed.headers),
            row_update=outcome,
        ),
    )
