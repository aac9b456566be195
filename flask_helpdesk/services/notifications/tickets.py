"""The work of notification jobs: load by id, decide recipients, render and send.

Runs after commit (inline or on an RQ worker). It only reads, except for three writes: the
Message-ID of an agent's reply mail is stored on the message (so the customer's answer threads
back and later mails reference it); a failed send is recorded as a ``notification.failed``
audit event; and when no retry is left, an internal note in the ticket's thread tells the
agents that the customer was not told. The error is then raised again: RQ retries the job
(with the configured backoff), the inline dispatcher logs it.

Every mail is threaded like a mail client's: a signed Message-ID of ours
(:mod:`flask_helpdesk.mail.threading`), ``In-Reply-To``/``References`` of the ticket's thread,
the ticket code in the subject and the department's address as sender.
"""

from __future__ import annotations

import email.utils
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from flask_babel import force_locale
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from ... import jobs
from ...i18n import gettext as _
from ...links import external_url, ticket_url
from ...mail.outbound import (
    AUTOMATIC_HEADERS,
    RenderedMail,
    default_sender,
    mail_locale,
    one_line,
    render_mail,
    send_mail,
)
from ...mail.threading import angle, make_message_id, references_header, reply_address
from ...models import (
    Agent,
    Channel,
    Contact,
    Department,
    Message,
    MessageKind,
    Ticket,
    agent_department,
    utcnow,
)
from ...state import current_helpdesk
from .. import audit
from ..base import (
    cached_for_app,
    commit,
    forget_on_change,
    kept_as_committed,
    rollback,
    session,
)
from ..identity import SYSTEM
from ..prepared import prepared_once
from ..reply_ratings import rating_token

logger = logging.getLogger("flask_helpdesk.notify")


@dataclass(frozen=True)
class Recipient:
    email: str
    locale: str | None = None


def _same(a: str | None, b: str | None) -> bool:
    return bool(a and b and a.strip().casefold() == b.strip().casefold())


def record_failure(
    ticket: Ticket, notification: str, channel: str, recipients: list[str], error: BaseException
) -> None:
    """Leave a trace of a notification that did not go out (audit event ``notification.failed``)."""
    will_retry = jobs.will_retry()
    logger.warning(
        "helpdesk: %s %s for %s to %s failed%s: %r",
        channel,
        notification,
        ticket.code,
        ", ".join(recipients),
        " (will retry)" if will_retry else "",
        error,
    )
    try:
        audit.record(
            SYSTEM,
            "notification.failed",
            ticket,
            notification=notification,
            channel=channel,
            recipients=recipients,
            error=one_line(f"{type(error).__name__}: {error}", limit=500),
            will_retry=will_retry,
        )
        if not will_retry:
            _failure_note(ticket, notification, channel, recipients, error)
        commit()
    except Exception:  # the database may be what failed; the log line above still stands
        logger.exception("helpdesk: could not record the failed notification")
        rollback()


def _failure_note(
    ticket: Ticket, notification: str, channel: str, recipients: list[str], error: BaseException
) -> None:
    """An internal note in the thread: agents see on the ticket that a send failed for good."""
    error_text = one_line(f"{type(error).__name__}: {error}", limit=300)
    with force_locale(mail_locale(None)):
        if channel == "sms":
            body = _(
                "The text message to %(recipients)s could not be sent: %(error)s",
                recipients=", ".join(recipients),
                error=error_text,
            )
        else:
            body = _(
                "The mail to %(recipients)s could not be sent: %(error)s",
                recipients=", ".join(recipients),
                error=error_text,
            )
    session().add(
        Message(
            ticket_id=ticket.id,
            kind=MessageKind.NOTE,
            channel=Channel.EMAIL if channel == "mail" else Channel.WEB,
            body=body,
            data={
                "event": "send_failed",
                "notification": notification,
                "channel": channel,
                "recipients": recipients,
            },
            created_at=utcnow(),
        )
    )


def thread_message_ids(ticket: Ticket, before: Message | None = None) -> list[str]:
    """The Message-IDs of *ticket*'s thread, oldest first (the customer's and ours).

    Compiled once a process and run on the session's connection (services.prepared): through
    ``Session.scalars`` the query cost a reply's staff mail about three times its statement."""
    connection = session().connection(bind_arguments={"mapper": Message.__mapper__})
    params = {"ticket_id": ticket.id}
    if before is not None:
        params["before_id"] = before.id
    query = prepared_once(
        ("thread message ids", before is not None),
        connection,
        lambda: _thread_message_ids(before is not None),
        tuple(params),
    )
    return [m for (m,) in query.all(connection, params) if m]


@cache
def _thread_message_ids(before: bool):
    table = Message.__table__
    query = (
        select(table.c.email_message_id)
        .where(table.c.ticket_id == bindparam("ticket_id"), table.c.email_message_id.is_not(None))
        .order_by(table.c.id)
    )
    return query.where(table.c.id < bindparam("before_id")) if before else query


def threading_headers(ticket: Ticket, before: Message | None = None) -> dict[str, str]:
    """``In-Reply-To``/``References`` so the recipient's mail client shows one conversation."""
    ids = thread_message_ids(ticket, before)
    if not ids:
        return {}
    return {"In-Reply-To": angle(ids[-1]), "References": references_header(ids)}


def _reply_to(ticket: Ticket) -> str | None:
    """The per-ticket plus address (``support+HD-4F7K2Q@...``) when configured."""
    if not current_helpdesk.config["HELPDESK_MAIL_PLUS_ADDRESSING"]:
        return None
    sender = default_sender()
    if isinstance(sender, tuple | list):
        sender = sender[-1]
    base = ticket.department.email or email.utils.parseaddr(str(sender or ""))[1]
    return reply_address(base, ticket.code) if "@" in (base or "") else None


def _attachments(message: Message | None) -> list[tuple[str, str, bytes]]:
    if message is None:
        return []
    storage = current_helpdesk.storage
    files = []
    for attachment in message.attachments:
        with storage.open(attachment.sha256) as stream:
            files.append((attachment.filename, attachment.content_type, stream.read()))
    return files


def _mail(
    ticket: Ticket,
    notification: str,
    recipient: Recipient,
    subject: Callable[[], str],
    automatic: bool = True,
    message_id: str | None = None,
    about: Message | None = None,
    thread: dict[str, str] | None = None,
    renders: dict[str | None, RenderedMail] | None = None,
    **context: object,
) -> None:
    """Render *notification*'s templates in the recipient's language and send them.

    *about* is the message the mail carries (threading headers of the thread before it, its
    attachments when *message_id* says it is the customer's copy of a reply). *thread*: those
    threading headers, and *renders*: the mails rendered so far by language, when the caller
    mails several recipients the same content (one query, one rendering per language).
    """
    done_key = f"mail:{notification}:{recipient.email.casefold()}"
    if jobs.already_done(done_key):
        return
    rendered = renders.get(recipient.locale) if renders is not None else None
    if rendered is None:
        rendered = render_mail(notification, locale=recipient.locale, ticket=ticket, **context)
        if renders is not None:
            renders[recipient.locale] = rendered
    with force_locale(rendered.locale):
        subject_text = subject()
    headers = {"Content-Language": rendered.locale.replace("_", "-")}
    if automatic:
        headers.update(AUTOMATIC_HEADERS)
    if thread is None:
        thread = threading_headers(ticket, before=about)
    headers.update(thread)
    try:
        send_mail(
            [recipient.email],
            f"[{ticket.code}] {subject_text}",
            rendered.text,
            rendered.html,
            sender=ticket.department.email or None,
            headers=headers,
            message_id=angle(message_id or make_message_id(ticket.code)),
            attachments=_attachments(about) if message_id else (),
            reply_to=_reply_to(ticket),
        )
    except Exception as error:
        record_failure(ticket, notification, "mail", [recipient.email], error)
        raise
    jobs.mark_done(done_key)


# -- to the customer ---------------------------------------------------------------------------


def _customer(ticket: Ticket, author: Agent | None = None) -> Recipient | None:
    """The customer's address and language; None when there is none or they wrote the message
    themselves (an agent answering their own ticket)."""
    email = ticket.email or ticket.requester.email
    if not email:
        return None
    if author is not None and (
        _same(email, author.email)
        or (ticket.requester.user_id is not None and ticket.requester.user_id == author.user_id)
    ):
        return None
    return Recipient(email, ticket.locale or ticket.requester.locale)


def _public_agent_reply(message_id: int) -> Message | None:
    message = session().get(Message, message_id)
    if message is None or message.kind != MessageKind.REPLY:
        return None  # deleted or an internal note: the customer hears nothing
    if message.author_agent is None and not (message.data or {}).get("automatic"):
        return None  # not from support (a rule's automatic reply is)
    return message


def customer_of_reply(message_id: int) -> None:
    """Mail the customer an agent's public reply."""
    message = _public_agent_reply(message_id)
    if message is None:
        return
    ticket = message.ticket
    recipient = _customer(ticket, author=message.author_agent)
    if recipient is None:
        return
    # The same id on every retry (the customer's client drops a duplicate), stored on the
    # message so that the customer's answer and our later mails reference it.
    mail_id = message.email_message_id or make_message_id(ticket.code, f"m{message.id}")
    if message.email_message_id is None:
        message.email_message_id = mail_id
        commit()
    _mail(
        ticket,
        "agent_reply",
        recipient,
        lambda: ticket.subject,
        # A person wrote this one and the customer may well answer it: not auto-generated
        # (a rule's reply is: Auto-Submitted keeps the customer's auto-responder quiet).
        automatic=bool((message.data or {}).get("automatic")),
        message_id=mail_id,
        about=message,
        message=message,
        url=ticket_url(ticket),
        **_rating_links(message),
    )


def _rating_links(message: Message) -> dict[str, str]:
    """The "was this reply helpful?" links of a reply's mail (signed, bound to the reply)."""
    if message.author_agent_id is None:
        return {}  # a rule's automatic reply rates no one
    token = rating_token(message)
    fallback = f"{current_helpdesk.config['HELPDESK_URL_PREFIX']}/rate-reply/{token}"
    return {
        f"rate_{verdict}_url": external_url(
            "helpdesk.rate_reply_link", f"{fallback}?v={verdict}", token=token, v=verdict
        )
        for verdict in ("good", "bad")
    }


def customer_sms_of_reply(message_id: int) -> None:
    """Text the customer that support replied, through the host's ``@helpdesk.sms_sender``."""
    message = _public_agent_reply(message_id)
    if message is None:
        return
    ticket = message.ticket
    if not (ticket.notify_sms and ticket.phone):
        return
    if (
        message.author_agent is not None
        and ticket.requester.user_id is not None
        and ticket.requester.user_id == message.author_agent.user_id
    ):
        return
    with force_locale(mail_locale(ticket.locale or ticket.requester.locale)):
        text = _(
            "%(site)s: support replied to your request %(code)s. %(url)s",
            site=current_helpdesk.config["HELPDESK_SITE_NAME"],
            code=ticket.code,
            url=ticket_url(ticket),
        )
    try:
        current_helpdesk.send_sms(ticket.phone, text)
    except Exception as error:
        record_failure(ticket, "agent_reply", "sms", [ticket.phone], error)
        raise


def customer_of_close(ticket_id: int, reason: str = "") -> None:
    """Mail the customer that support closed the ticket (skipped if it was reopened since);
    *reason* ``auto_close`` says it closed by itself for want of an answer."""
    ticket = session().get(Ticket, ticket_id)
    if ticket is None or not ticket.is_closed:
        return
    recipient = _customer(ticket)
    if recipient is None:
        return
    _mail(
        ticket,
        "ticket_closed",
        recipient,
        lambda: _("Your request was closed: %(subject)s", subject=ticket.subject),
        url=ticket_url(ticket),
        auto_close=reason == "auto_close",
    )


def customer_of_wrong_language(ticket_id: int) -> None:
    """Mail the customer that their request was closed: not in a language the desk accepts."""
    ticket = session().get(Ticket, ticket_id)
    if ticket is None or not ticket.is_closed:
        return
    recipient = _customer(ticket)
    if recipient is None:
        return
    event = session().scalar(
        select(Message)
        .where(Message.ticket_id == ticket.id, Message.kind == MessageKind.EVENT)
        .order_by(Message.id.desc())
        .limit(1)
    )
    accepted = (event.data or {}).get("accepted", []) if event is not None else []
    _mail(
        ticket,
        "wrong_language",
        recipient,
        lambda: _("We could not take your request: %(subject)s", subject=ticket.subject),
        accepted=accepted,
        url=ticket_url(ticket),
    )


def sender_of_refused_mail(sender: str, limit: int, period: str) -> None:
    """Tell a sender the abuse guard kept their mail without opening a ticket (once per hour:
    the key is the sender and the hour, so a flood of mail gets one answer)."""
    done_key = f"mail:refused:{sender.casefold()}:{utcnow():%Y%m%d%H}"
    if jobs.already_done(done_key):
        return
    contact_locale = session().scalar(
        select(Contact.locale).where(func.lower(Contact.email) == sender.casefold()).limit(1)
    )
    rendered = render_mail(
        "mail_refused", locale=contact_locale, limit=limit, period=period, ticket=None
    )
    with force_locale(rendered.locale):
        subject = _("Your mail was received, but no new request was opened")
    send_mail(
        [sender],
        subject,
        rendered.text,
        rendered.html,
        headers={"Content-Language": rendered.locale.replace("_", "-"), **AUTOMATIC_HEADERS},
    )
    jobs.mark_done(done_key)


# -- to the staff ------------------------------------------------------------------------------


# Host users' languages, by user id, reused for as long as who works where (a host user
# loaded, often a query of the host's, for every agent of every staff mail otherwise). A
# language changed in the host's profile page is heeded within this time.
LOCALES_CACHE_KEY = "helpdesk-agent-locales"


def _agent_locale(agent: Agent | StaffMember) -> str | None:
    """The agent's language, as the host's user adapter tells it (cached briefly, above)."""
    known: dict[str, str | None] = cached_for_app(LOCALES_CACHE_KEY, STAFF_CACHE_SECONDS, dict)
    if agent.user_id in known:
        return known[agent.user_id]
    try:
        user = current_helpdesk.load_user(agent.user_id)
        locale = current_helpdesk.user_info(user).locale if user is not None else None
    except Exception:  # a host loader failing must not cost the agent their notification
        logger.exception("helpdesk: could not load host user %s", agent.user_id)
        return None  # not kept: the next mail asks again
    known[agent.user_id] = locale
    return locale


def _staff_recipients(
    ticket: Ticket, message: Message | None, exclude_agent_id: int | None
) -> list[Recipient]:
    """The assignee, else the department's active agents, else ``HELPDESK_NOTIFY_EMAILS``,
    never the person who wrote *message*."""
    author = message.author_contact if message is not None else None

    def wrote_it(email: str, user_id: str | None = None) -> bool:
        if author is None:
            return False
        return _same(email, author.email) or (user_id is not None and user_id == author.user_id)

    assignee = [ticket.assignee] if ticket.assignee and ticket.assignee.is_active else []
    for group in (assignee, None):
        agents = group if group is not None else department_staff().get(ticket.department_id, ())
        reachable = [a for a in agents if a.email]
        if reachable:
            return [
                Recipient(a.email, _agent_locale(a))
                for a in reachable
                if a.id != exclude_agent_id and not wrote_it(a.email, a.user_id)
            ]
    return [
        Recipient(email)
        for email in current_helpdesk.config["HELPDESK_NOTIFY_EMAILS"]
        if not wrote_it(email)
    ]


def _message_to_mail(message_id: int) -> Message | None:
    """The message with all a staff mail shows of it, in one query: its ticket (and the
    ticket's department), its author and its files. ``populate_existing``: the job runs in
    the session whose commit just expired these objects (inline jobs), and a plain ``get``
    would refresh each of them with a query of its own instead."""
    kept = _kept_message(message_id)
    if kept is not None:
        return kept
    query = _message_to_mail_query()
    return session().scalars(query, {"message_id": message_id}).unique().one_or_none()


def _kept_message(message_id: int) -> Message | None:
    """The message as the transaction that just committed left it in this session, while
    :func:`.base.kept_for_inline_jobs` keeps what that transaction loaded and wrote (intake's
    inline processing): the query above would only read it back. Its author and files load
    as they are used (the author from the session, the files with a query of their own only
    when the transaction did not load them)."""
    message = session().identity_map.get(identity_key(Message, message_id))
    if message is None or not kept_as_committed(message):
        return None
    ticket = message.__dict__.get("ticket")
    if ticket is None:  # a reply names its ticket by id: the ticket the transaction loaded
        ticket = session().identity_map.get(identity_key(Ticket, message.ticket_id))
        if ticket is not None and kept_as_committed(ticket):
            set_committed_value(message, "ticket", ticket)
    return message if ticket is not None and kept_as_committed(ticket) else None


@cache
def _message_to_mail_query():
    # Built once a process (building its options cost as much as running it). The ticket is
    # joined with innerjoin (a message always has one): as a LEFT OUTER JOIN of "ticket JOIN
    # department" (the ticket's own joined department) SQLite materialized that inner join for
    # every ticket before picking the message's row, 137 ms a staff mail at 100,000 tickets.
    return (
        select(Message)
        .where(Message.id == bindparam("message_id"))
        .options(
            joinedload(Message.ticket, innerjoin=True),
            joinedload(Message.author_contact),
            joinedload(Message.attachments),
        )
        .execution_options(populate_existing=True)
    )


# How long a process reuses who works in which department (a query for every staff
# notification otherwise). A change through this process's session is seen at once (see
# forget_on_change below); another process's within this time, or within a second where
# Redis is shared (cached_for_app). A department's agents, their addresses and whether
# they are active change rarely; presence, load and round-robin turns are not part of it.
STAFF_CACHE_SECONDS = 5.0
STAFF_CACHE_KEY = "helpdesk-department-staff"
_STAFF_ATTRIBUTES = ("email", "user_id", "is_active", "departments")


@dataclass(frozen=True)
class StaffMember:
    """An active agent as a staff notification needs them."""

    id: int
    email: str | None
    user_id: str


def department_staff() -> dict[int, tuple[StaffMember, ...]]:
    """Each department's active agents, by agent id (cached, see STAFF_CACHE_SECONDS)."""
    return cached_for_app(STAFF_CACHE_KEY, STAFF_CACHE_SECONDS, _load_department_staff)


def _load_department_staff() -> dict[int, tuple[StaffMember, ...]]:
    staff: dict[int, list[StaffMember]] = {}
    for department_id, agent_id, address, user_id in session().execute(_department_agents()):
        staff.setdefault(department_id, []).append(StaffMember(agent_id, address, user_id))
    return {department_id: tuple(members) for department_id, members in staff.items()}


@cache
def _department_agents():
    """Every active agent with each department they work in (built once a process)."""
    agent, member = Agent.__table__.c, agent_department.c
    return (
        select(member.department_id, agent.id, agent.email, agent.user_id)
        .join_from(Agent.__table__, agent_department, member.agent_id == agent.id)
        .where(agent.is_active.is_(True))
        .order_by(member.department_id, agent.id)
    )


# Agents added, removed, (de)activated, readdressed or moved between departments, from either
# side of the relationship, and departments added or deleted: the next notification reads them
# again. Presence, load and turns (an agent's other columns) keep the cache.
forget_on_change(
    STAFF_CACHE_KEY,
    Agent,
    Department,
    attributes={Agent: _STAFF_ATTRIBUTES, Department: ("agents",)},
)


def staff_of_customer_activity(
    message_id: int, exclude_agent_id: int | None = None, new_ticket: bool | None = None
) -> None:
    """Mail each staff recipient (in their language) about a new ticket or a customer reply.

    Every recipient gets a message of their own; if some sends fail, the others still go out,
    and a retry sends only the ones that failed. *new_ticket* is known when the job is queued
    (None, from jobs queued by an older version: ask the database).
    """
    message = _message_to_mail(message_id)
    if message is None or message.kind != MessageKind.REPLY:
        return
    ticket = message.ticket
    if new_ticket is None:
        first = select(func.min(Message.id)).where(Message.ticket_id == ticket.id)
        new_ticket = session().scalar(first) == message.id
    if new_ticket:

        def subject() -> str:
            return _("New request: %(subject)s", subject=ticket.subject)
    else:

        def subject() -> str:
            return _("Customer replied: %(subject)s", subject=ticket.subject)

    url = ticket_url(ticket, desk=True)
    # The same headers for every recipient; a new ticket's first message has no thread before it.
    thread = {} if new_ticket else threading_headers(ticket, before=message)
    renders: dict[str | None, RenderedMail] = {}
    failures: list[Exception] = []
    for recipient in _staff_recipients(ticket, message, exclude_agent_id):
        try:
            _mail(
                ticket,
                "staff_activity",
                recipient,
                subject,
                about=message,
                thread=thread,
                renders=renders,
                message=message,
                new_ticket=new_ticket,
                url=url,
            )
        except Exception as error:  # recorded by _mail; the others still get theirs
            failures.append(error)
    if failures:
        raise failures[0]


def staff_of_rule(
    ticket_id: int, rule_name: str, agent_ids: list[int], department_id: int | None, text: str = ""
) -> None:
    """Mail the agents a rule's "notify" action names (and the agents of a department)."""
    ticket = session().get(Ticket, ticket_id)
    if ticket is None:
        return
    wanted = Agent.id.in_(agent_ids or [-1])
    if department_id is not None:
        wanted = wanted | Agent.departments.any(Department.id == department_id)
    agents = session().scalars(
        select(Agent).where(wanted, Agent.is_active.is_(True)).order_by(Agent.id)
    )
    url = ticket_url(ticket, desk=True)
    failures: list[Exception] = []
    for agent in agents:
        if not agent.email:
            continue
        try:
            _mail(
                ticket,
                "rule_notice",
                Recipient(agent.email, _agent_locale(agent)),
                lambda: _("Rule %(rule)s: %(subject)s", rule=rule_name, subject=ticket.subject),
                rule_name=rule_name,
                text=text,
                url=url,
            )
        except Exception as error:  # recorded by _mail; the others still get theirs
            failures.append(error)
    if failures:
        raise failures[0]
