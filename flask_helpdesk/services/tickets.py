"""Opening tickets and changing their state. The only place a ticket row is written."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from operator import attrgetter
from typing import Any

from sqlalchemy import (
    Select,
    and_,
    bindparam,
    func,
    literal_column,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import aliased, contains_eager, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from .. import signals
from ..i18n import gettext as _
from ..inputs import clean_search, parse_id
from ..models import (
    AccessGrant,
    Agent,
    AuditEvent,
    Channel,
    Contact,
    Department,
    InboundMail,
    InboundStatus,
    Message,
    MessageKind,
    Priority,
    Tag,
    Ticket,
    TicketFact,
    TicketStatus,
    TicketViewer,
    ticket_tag,
    utcnow,
)
from ..state import current_helpdesk
from ..workflow import InvalidTransition, Trigger, trigger_for_agent_choice
from . import (
    audit,
    departments,
    distribution,
    facts,
    house_rules,
    notifications,
    rule_events,
    sla,
    spam,
)
from .attachments import Upload, attach, store_uploads
from .base import (
    Forbidden,
    NotFound,
    RowUpdate,
    ValidationError,
    commit,
    insert_loaded_with,
    kept_for_inline_jobs,
    new_row,
    rollback,
    send_after_commit,
    session,
)
from .codes import CODE_ALPHABET, CODE_LENGTH, new_ticket_code, normalize_code
from .events import add_event
from .identity import SYSTEM, Actor
from .permissions import ensure, visible_tickets
from .presence import VIEWING_WINDOW
from .ratings import rate_ticket
from .transitions import lock_ticket, transition

# Re-exported: callers say ``tickets.rate_ticket``, ``tickets.add_event``, ...
__all__ = [
    "CODE_ALPHABET",
    "CODE_LENGTH",
    "add_event",
    "new_ticket_code",
    "normalize_code",
    "rate_ticket",
]

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass
class NewTicket:
    """What any channel collects to open a ticket."""

    department_id: int | None
    subject: str
    body: str
    priority: Priority | int | str = Priority.NORMAL
    phone: str | None = None
    email: str | None = None
    notify_sms: bool = False
    uploads: list[Upload] | None = None
    channel: Channel = Channel.WEB
    body_html: str | None = None
    email_message_id: str | None = None
    locale: str | None = None
    # Stored on the first message (``Message.data``): e.g. the inbound mail it came from.
    message_data: dict[str, Any] | None = None
    # A spam verdict our receiving mail server wrote ("X-Spam-Flag: YES"), see services.spam.
    upstream_spam: str | None = None
    # The customer was shown their similar open ticket and sends anyway (house_rules).
    allow_duplicate: bool = False
    # Another row set in the ticket's own statement, with the new ticket's (0) and first
    # message's (1) ids: mail intake's outcome on the inbound mail's row (see
    # services.base.insert_loaded_with).
    row_update: RowUpdate | None = None


def _coerce_priority(value: Priority | int | str) -> Priority:
    try:
        if isinstance(value, str) and not value.isdigit():
            return Priority[value.upper()]
        return Priority(int(value))  # type: ignore[arg-type]
    except (KeyError, ValueError, TypeError):
        raise ValidationError(
            _("Unknown priority."), {"priority": [_("Unknown priority.")]}
        ) from None


def _validate(data: NewTicket) -> tuple[Department, Priority]:
    config = current_helpdesk.config
    errors: dict[str, list[str]] = {}
    subject = clean_subject(data.subject)
    if not subject:
        errors["subject"] = [_("Please enter a subject.")]
    elif len(subject) > config["HELPDESK_SUBJECT_MAX_LENGTH"]:
        errors["subject"] = [_("The subject is too long.")]
    if not (data.body or "").strip():
        errors["body"] = [_("Please describe your request.")]
    elif len(data.body) > config["HELPDESK_MESSAGE_MAX_LENGTH"]:
        errors["body"] = [_("The message is too long.")]
    department = None
    department_id = parse_id(data.department_id)
    if department_id is not None:
        department = departments.department_row(department_id)
    if department is None or not department.is_active:
        errors["department_id"] = [_("Please choose a department.")]
    if data.phone and len(data.phone) > 40:
        errors["phone"] = [_("The phone number is too long.")]
    email = (data.email or "").strip()
    if email and (len(email) > 254 or not EMAIL_PATTERN.match(email)):
        errors["email"] = [_("Not a valid email.")]
    if data.notify_sms and not (data.phone or "").strip():
        errors["phone"] = [_("Enter a phone number to be notified by SMS.")]
    priority = Priority.NORMAL
    try:
        priority = _coerce_priority(data.priority)
    except ValidationError as error:
        errors.update(error.field_errors)
    if errors:
        raise ValidationError(_("Please correct the errors below."), errors)
    assert department is not None
    return department, priority


def clean_subject(text: str | None) -> str:
    """One line: newlines and runs of spaces collapse (a subject ends up in mail headers)."""
    return " ".join((text or "").split())


def open_ticket(
    actor: Actor,
    data: NewTicket,
    requester: Contact | None = None,
    send_to_user: bool = False,
) -> Ticket:
    """Open a ticket from any channel (see :func:`open_ticket_with_message`)."""
    return open_ticket_with_message(actor, data, requester, send_to_user)[0]


def open_ticket_with_message(
    actor: Actor,
    data: NewTicket,
    requester: Contact | None = None,
    send_to_user: bool = False,
) -> tuple[Ticket, Message]:
    """Open a ticket from any channel; the ticket and its first message.

    A customer opens their own. An agent opens one for *requester* (seed 001): with
    *send_to_user* the first message comes from support and the customer is told; without it the
    ticket reads as if the customer wrote it. Either way creator and requester are both recorded.
    """
    ensure(actor, "open")
    if actor.is_customer:
        requester = actor.contact
    if requester is None:
        raise ValidationError(_("Please choose the customer."), {"requester": [_("Required.")]})
    department, priority = _validate(data)
    if actor.is_agent and not actor.is_admin and department.id not in actor.department_ids:
        raise ValidationError(
            _("Please choose a department."),
            {"department_id": [_("You do not work in this department.")]},
        )
    # The house rules guard what customers open themselves, not what agents open for them.
    rules = house_rules.rules() if actor.is_customer else None
    if rules is not None:
        _guard(requester, data, rules)
    files = store_uploads(data.uploads or [])

    now = utcnow()
    from_support = actor.is_agent and send_to_user
    # Its values straight into the new row (no attribute event matters before it is stored:
    # the reports' listener on ``department`` ignores a row not stored yet), its department
    # and requester too; the first message likewise.
    ticket = new_row(
        Ticket,
        code=new_ticket_code(),
        subject=clean_subject(data.subject),
        department_id=department.id,
        priority=priority,
        status=TicketStatus.ANSWERED if from_support else TicketStatus.OPEN,
        channel=data.channel,
        requester_id=requester.id,
        creator_contact_id=actor.contact.id if actor.is_customer and actor.contact else None,
        creator_agent_id=actor.agent.id if actor.is_agent and actor.agent else None,
        phone=(data.phone or "").strip() or requester.phone,
        email=(data.email or "").strip() or requester.email,
        notify_sms=data.notify_sms,
        locale=data.locale or requester.locale,
        created_at=now,
        updated_at=now,
        status_changed_at=now,
        last_customer_reply_at=None if from_support else now,
        last_agent_reply_at=now if from_support else None,
        first_response_at=now if from_support else None,
        agent_seen_at=now if actor.is_agent else None,
        department=department,
        requester=requester,
    )
    # The SLA clock is set before the INSERT: the new row is written once, with it, and never
    # updated in the same transaction (issue 17: ticket creation speed).
    with session().no_autoflush:
        sla.start(ticket, now)
    message = new_row(
        Message,
        ticket=ticket,
        kind=MessageKind.REPLY,
        channel=data.channel,
        author_contact_id=None if from_support else requester.id,
        author_agent_id=actor.agent.id if from_support and actor.agent else None,
        body=data.body.strip(),
        body_html=data.body_html,
        email_message_id=data.email_message_id,
        created_at=now,
        data=dict(data.message_data or {}),
    )
    # A distributing department's row before the INSERT takes a ticket count slot and the
    # department's key share: the order every distributor keeps (no deadlock, see there).
    distribution.lock_department_first(department)
    # The ticket, its first message, the reports' facts and the audit event: written together
    # (one statement on PostgreSQL), each row taking the ticket's id.
    fact_rows = facts.created_rows(ticket, actor)
    event = audit.values(
        actor,
        "ticket.created",
        ticket,
        channel=data.channel,
        on_behalf=actor.is_agent,
        send_to_user=from_support,
    )
    rows = [*((TicketFact.__table__, row, "ticket_id") for row in fact_rows)]
    rows.append((AuditEvent.__table__, event, "ticket_id"))
    _insert_with_free_code(ticket, message, rows, data.row_update)
    for row in (*fact_rows, event):
        row["ticket_id"] = ticket.id
    # The reports' roll-up row (shared by every creator today) is upserted last, right
    # before the commit: it stays locked only until then (issue 17, parallel creators).
    with facts.rollup_at_the_end():
        facts.roll_up(fact_rows)
        attach(ticket, message, files)
        audit.written(event, ticket)
        # Announced after commit, but queued now: before what follows queues its own announcements
        # (a distribution's ticket-assigned, a wrong-language ticket-closed), so listeners hear of
        # the ticket before anything that happened to it.
        send_after_commit(signals.ticket_created, ticket=ticket, actor=actor, message=message)
        quarantined = actor.is_customer and _screen_spam(ticket, message, data.upstream_spam)
        turned_away = (
            rules is not None
            and not quarantined
            and rules[house_rules.LANGUAGE].enabled
            and _close_wrong_language(ticket, message, rules[house_rules.LANGUAGE])
        )
        # Nobody is called to a set-aside ticket (Spam, wrong language), no rule runs on it.
        if not (quarantined or turned_away):
            # In the same transaction: never seen unassigned in a distributing department.
            distribution.distribute_ticket(ticket)
            notifications.ticket_created(ticket, message, from_support=from_support)
            rule_events.record(ticket, "ticket_created", message=message)
    # The staff notification (inline) takes the ticket and message as committed instead of
    # reading them back; the caller gets them loaded (the page it redirects to reads them),
    # with their files and the department as this transaction read it (distribution and the
    # staff mail use it; its settings may lag another process's change, see department_row).
    with kept_for_inline_jobs(ticket, message, *message.attachments, ticket.department):
        commit()
    return ticket, message


CODE_ATTEMPTS = 5


def _insert_with_free_code(
    ticket: Ticket,
    message: Message,
    rows: list[tuple[Any, dict[str, Any], str]],
    row_update: RowUpdate | None = None,
) -> None:
    """INSERT *ticket*, its first *message* and *rows* (``(table, values, foreign key)``)
    referring to it; if another creator took its code a moment ago, draw another one.

    :func:`new_ticket_code` draws at random without asking the database (a check could not see
    what another creator inserts at the same moment anyway): the unique index refuses a code
    already taken, and ``ON CONFLICT (code) DO NOTHING`` turns that refusal into "no row"
    (nor message nor rows): the creator draws again instead of failing and losing what the
    customer wrote, with no savepoint around the INSERT (its SAVEPOINT and RELEASE were two
    more round trips).
    """
    for _attempt in range(CODE_ATTEMPTS):
        if insert_loaded_with(
            ticket, [(message, "ticket_id")], rows, skip_if_taken="code", update=row_update
        ):
            return
        ticket.code = new_ticket_code()
    raise RuntimeError(f"no free ticket code in {CODE_ATTEMPTS} draws")


def _guard(requester: Contact, data: NewTicket, rules: dict[str, house_rules.Rule]) -> None:
    """The abuse and duplicate guards, before anything is stored (each raises to refuse)."""
    if rules[house_rules.ABUSE].enabled:
        house_rules.check_abuse(requester, rules[house_rules.ABUSE])
    if rules[house_rules.DUPLICATE].enabled and not data.allow_duplicate:
        duplicate = house_rules.find_duplicate(
            requester, clean_subject(data.subject), data.body, rules[house_rules.DUPLICATE]
        )
        if duplicate is not None:
            raise house_rules.DuplicateTicket(duplicate)


def _close_wrong_language(ticket: Ticket, message: Message, rule: house_rules.Rule) -> bool:
    """Close a ticket written in a language the desk does not accept, telling the customer."""
    language = house_rules.wrong_language(ticket, message.body, rule)
    if language is None:
        return False
    accepted = list(rule.settings["accepted"])
    transition(SYSTEM, ticket, Trigger.CLOSE)
    add_event(ticket, SYSTEM, "wrong_language", language=language, accepted=accepted)
    audit.record(SYSTEM, "ticket.closed", ticket, reason="wrong_language", language=language)
    notifications.wrong_language(ticket)
    return True


def _screen_spam(ticket: Ticket, message: Message, upstream: str | None) -> bool:
    """Let the spam filter look at a customer's new ticket; True if it went to the Spam view.

    The verdict (score, deciding words, upstream header) stays on the first message for the
    agent; a quarantine is a status change like an agent's, audited with the verdict.
    """
    screening = spam.screen(ticket, message.body, upstream)
    if screening is None:
        return False
    message.data = {**message.data, "spam": screening.as_data()}
    if not screening.quarantine:
        return False
    # No event line in the thread: events are shown to the customer, and the notice on the
    # desk's ticket page (from the message's data) says it to the agents.
    transition(SYSTEM, ticket, Trigger.MARK_SPAM)
    audit.record(SYSTEM, "ticket.spam_quarantined", ticket, verdict=screening.as_data())
    return True


# The ticket pages' collections, each joined to its own copy of the ticket's row (page_loads).
_TAGS, _GRANTS, _VIEWERS, _HELD = 1, 2, 3, 4


@cache
def _parts(count: int) -> Any:
    """The numbers 1 to *count* as a derived table (``SELECT 1 UNION ALL SELECT 2 ...``)."""
    numbers = [select(literal_column(str(n)).label("part")) for n in range(1, count + 1)]
    return union_all(*numbers).subquery("page_part")


def page_loads(query: Select, actor: Actor) -> tuple[Select, dict[str, Any]]:
    """*query* (of tickets) with what the ticket pages show of the ticket itself, in its one
    statement: without them each is a statement of its own (a lazy load while the template
    renders, or a panel's query).

    The requester, assignee, creator and merged-into ticket are joined (one row each). The
    collections (tags, access requests, agents viewing now, held mail) are joined side by
    side, not multiplied: the ticket's row comes once per collection (joined to the numbers
    1 to 4) and each collection joins only its own number, so the rows are as many as the
    collections hold together (at least one each). Joined plainly they multiplied: 3 tags x
    2 requests x 2 viewers x 5 held mails were 60 rows, each with the ticket's columns, and
    held mail grows from outside (a forged reply is held, not posted: 20 of them made 240).
    None is ordered in SQL (see ``Ticket.access_grants``). Viewers come with the window the
    collision notice uses, so the collection holds only the recent ones
    (``presence.other_viewers`` reads it so). Viewers and held mail are the desk's only.
    """
    desk = not actor.is_customer
    joins, options = _page_loads(desk)
    query = query.join(*joins[0])
    for target, onclause in joins[1:]:
        query = query.outerjoin(target, onclause)
    params = {"viewing_since": utcnow() - VIEWING_WINDOW} if desk else {}
    return query.options(*options), params


@cache
def _page_loads(desk: bool) -> tuple[list[tuple[Any, Any]], tuple[Any, ...]]:
    """The joins and loader options of :func:`page_loads`, built once a process: the aliases
    and their conditions cost more CPU to build (2 ms a page) than the statement to run."""
    part = _parts(4 if desk else 2).c.part
    tag, grant, grant_agent = aliased(Tag), aliased(AccessGrant), aliased(Agent)
    joins: list[tuple[Any, Any]] = [
        (part.table, true()),
        (ticket_tag, and_(ticket_tag.c.ticket_id == Ticket.id, part == _TAGS)),
        (tag, tag.id == ticket_tag.c.tag_id),
        (grant, and_(grant.ticket_id == Ticket.id, part == _GRANTS)),
        (grant_agent, grant_agent.id == grant.agent_id),
    ]
    options: tuple[Any, ...] = (
        joinedload(Ticket.requester),
        joinedload(Ticket.assignee),
        joinedload(Ticket.creator_agent),
        # The merged ticket's department (joined by the mapping, an inner join) as an outer join
        # after it, not nested inside it: SQLite materialized a nested ``(ticket JOIN
        # department)`` whole, every ticket, before looking one up (1.2 s a page at 100,000).
        joinedload(Ticket.merged_into).joinedload(Ticket.department, innerjoin="unnested"),
        contains_eager(Ticket.unordered_tags.of_type(tag)),  # find_ticket sorts them to ``tags``
        contains_eager(Ticket.access_grants.of_type(grant)).contains_eager(
            grant.agent.of_type(grant_agent)
        ),
    )
    if not desk:
        return joins, options
    viewer, viewer_agent, held = aliased(TicketViewer), aliased(Agent), aliased(InboundMail)
    since = bindparam("viewing_since", type_=viewer.last_seen_at.type)
    joins += [
        (
            viewer,
            and_(viewer.ticket_id == Ticket.id, viewer.last_seen_at >= since, part == _VIEWERS),
        ),
        (viewer_agent, viewer_agent.id == viewer.agent_id),
        (held, and_(held.ticket_id == Ticket.id, held.status == InboundStatus.HELD, part == _HELD)),
    ]
    options += (
        contains_eager(Ticket.viewers.of_type(viewer)).contains_eager(
            viewer.agent.of_type(viewer_agent)
        ),
        contains_eager(Ticket.held_mail.of_type(held)),
    )
    return joins, options


def find_ticket(actor: Actor, code: str, for_update: bool = False, page: bool = False) -> Ticket:
    """The ticket with *code* if *actor* may see it; :class:`NotFound` otherwise.

    Department (joined by the mapping) and rating come in the same query: the ticket page
    shows both; *page* joins the rest the ticket pages show (:func:`page_loads`).
    *for_update* locks the ticket's row until the next commit (the API compares a client's
    ``If-Match`` with the row it is about to change).
    """
    query = (
        select(Ticket)
        .where(Ticket.code == normalize_code(code), visible_tickets(actor))
        .options(joinedload(Ticket.rating))
    )
    params: dict[str, Any] = {}
    if page:
        query, params = page_loads(query, actor)
    if for_update:
        query = query.with_for_update(of=Ticket).execution_options(populate_existing=True)
    ticket = session().scalars(query, params).unique().one_or_none()
    if ticket is None:
        raise NotFound(_("Ticket not found."))
    if page:  # ``tags`` as their relationship orders them, without a statement or a sort in SQL
        set_committed_value(ticket, "tags", sorted(ticket.unordered_tags, key=attrgetter("name")))
    return ticket


def change_status(actor: Actor, ticket: Ticket, target: TicketStatus | str) -> Ticket:
    """An agent sets a status by hand (refused when the state machine does not allow it)."""
    ensure(actor, "change_status", ticket)
    if not actor.is_agent and not actor.is_system:
        raise Forbidden(_("Only support staff can set the status."))
    # From the status as it is now: another agent may have changed it since the page loaded
    # (the audit trail's "old" must be true, and closed stays closed unless allowed).
    lock_ticket(ticket)
    try:
        target = TicketStatus(target)
        trigger = trigger_for_agent_choice(ticket.status, target)
    except (ValueError, InvalidTransition):
        raise ValidationError(
            _("This ticket cannot be changed that way now."),
            {"status": [_("Not a valid status here.")]},
        ) from None
    if trigger == Trigger.CLOSE:
        return close_ticket(actor, ticket)
    old = transition(actor, ticket, trigger)
    # A person's spam / not-spam mark teaches the filter, in this transaction.
    if trigger == Trigger.MARK_SPAM and actor.is_agent:
        spam.marked_spam(actor, ticket)
    elif trigger == Trigger.NOT_SPAM and actor.is_agent:
        spam.marked_not_spam(actor, ticket)
    add_event(ticket, actor, "status_changed", old=old.value, new=ticket.status.value)
    audit.record(actor, "ticket.status_changed", ticket, old=old, new=ticket.status)
    commit()  # sends ticket-status-changed (transition queued it)
    return ticket


def close_ticket(
    actor: Actor, ticket: Ticket, reason: str = "", notify_customer: bool = True
) -> Ticket:
    """Close: by the customer, an agent, or auto-close (system). *notify_customer* False: no
    mail (a rule whose automatic mail the loop guards held back)."""
    ensure(actor, "close", ticket)
    old = transition(actor, ticket, Trigger.CLOSE)
    if actor.is_customer:
        # Closing from the ticket means the customer has read it: no "New reply" badge stays.
        ticket.customer_seen_at = utcnow()
    add_event(ticket, actor, "closed", reason=reason)
    audit.record(actor, "ticket.closed", ticket, old=old, reason=reason)
    if notify_customer:
        notifications.ticket_closed(ticket, closed_by_customer=actor.is_customer, reason=reason)
    commit()  # sends ticket-status-changed and ticket-closed (transition queued them)
    return ticket


@contextmanager
def reading(actor: Actor, ticket: Ticket) -> Iterator[None]:
    """Mark *ticket* read by *actor* while the page showing it is built.

    The marker is flushed first, so an unread count asked inside the block (the menu badge)
    already leaves this ticket out; the commit comes after, so it does not expire what the page
    loaded (which would reload every object it touches). Writes only when something was unread.
    No audit event: reading is not a change anyone needs to trace.
    """
    changed = False
    if actor.read_only:
        pass  # a view-only session leaves the customer's "new reply" markers as they are
    # Seen up to the newest reply this page shows, not "until now": a reply being sent at this
    # moment (its time taken before this page loaded, its commit after) stays unread.
    elif actor.is_customer and ticket.unread_for_customer:
        ticket.customer_seen_at = ticket.last_agent_reply_at
        changed = True
    elif actor.is_agent and ticket.unread_for_agents:
        ticket.agent_seen_at = ticket.last_customer_reply_at
        changed = True
    if not changed:
        yield
        return
    try:
        session().flush()
        yield
    except BaseException:
        rollback()
        raise
    commit()


def mark_seen(actor: Actor, ticket: Ticket) -> None:
    """Move the reader's "seen" marker now (see :func:`reading`)."""
    with reading(actor, ticket):
        pass


# -- reading, for the customer portal -------------------------------------------------------


@dataclass
class Page:
    items: list[Ticket]
    page: int
    per_page: int
    has_next: bool

    @property
    def has_prev(self) -> bool:
        return self.page > 1


def customer_tickets(
    actor: Actor,
    search: str | None = None,
    statuses: list[str] | None = None,
    department_id: int | None = None,
    page: int = 1,
) -> Page:
    """The customer's own tickets, newest activity first, searchable by code or subject."""
    per_page = current_helpdesk.config["HELPDESK_TICKETS_PER_PAGE"]
    page = max(1, page)
    query = select(Ticket).where(visible_tickets(actor))
    term = clean_search(search)
    if term:
        query = query.where(
            or_(
                Ticket.code == normalize_code(term),
                Ticket.subject.ilike(f"%{_escape_like(term)}%", escape="\\"),
            )
        )
    if statuses:
        valid = [s for s in statuses if s in TicketStatus._value2member_map_]
        query = query.where(Ticket.status.in_(valid))
    if department_id:
        query = query.where(Ticket.department_id == department_id)
    query = query.order_by(Ticket.updated_at.desc(), Ticket.id.desc())
    rows = list(session().scalars(query.limit(per_page + 1).offset((page - 1) * per_page)))
    return Page(rows[:per_page], page, per_page, len(rows) > per_page)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def unread_count(actor: Actor) -> int:
    """Tickets of this customer with an agent reply they have not seen (the menu badge)."""
    if actor.contact is None:
        return 0
    return (
        session().scalar(
            select(func.count())
            .select_from(Ticket)
            .where(
                visible_tickets(actor),
                Ticket.last_agent_reply_at.is_not(None),
                or_(
                    Ticket.customer_seen_at.is_(None),
                    Ticket.last_agent_reply_at > Ticket.customer_seen_at,
                ),
            )
        )
        or 0
    )
