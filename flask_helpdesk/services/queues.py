"""The desk's ticket queue: one typed filter, one SELECT, keyset pages, per-department counters.

Everything the queue page, saved views, the API and bulk actions need to agree on "which
tickets" goes through :class:`QueueFilter` → :func:`build_query`. Pages are *keyset* pages: the
URL carries the sort key of the last row shown (plus its id to break ties), so page 1,000 costs
what page 1 costs and a ticket updated while paging is never shown twice or skipped silently.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Select, and_, case, func, literal, or_, select, true, tuple_, union_all
from sqlalchemy.orm import joinedload, lazyload, selectinload
from werkzeug.datastructures import MultiDict

from ..i18n import gettext as _
from ..i18n import lazy_gettext
from ..inputs import MAX_ID, clean_search, parse_id, parse_int
from ..models import (
    Agent,
    Contact,
    Priority,
    Tag,
    Ticket,
    TicketCount,
    TicketStatus,
    agent_department,
    ticket_tag,
    utcnow,
)
from ..state import current_helpdesk
from . import contacts, search
from .base import cached_for_app, session
from .identity import Actor
from .permissions import visible_tickets
from .tickets import normalize_code

SORTS = ("updated", "created", "priority", "due")
# SLA filters: "soon" = due within the next hour, "breached" = a due instant already passed.
DUE_FILTERS = ("soon", "breached")
DUE_SOON = timedelta(hours=1)
ASSIGNEE_KEYWORDS = ("anyone", "me", "unassigned")
ACTIVE_STATUSES = (
    TicketStatus.OPEN,
    TicketStatus.ANSWERED,
    TicketStatus.PROCESSING,
    TicketStatus.CUSTOMER_REPLIED,
)


@dataclass
class QueueFilter:
    """Which tickets, in which order. Every field is optional; set fields combine with AND.

    ``assignee`` is ``"anyone"``, ``"me"``, ``"unassigned"`` or an agent id (as a string);
    ``creator`` is ``"agent:<id>"`` or ``"contact:<id>"``. Without ``statuses`` every status
    but spam is listed (spam shows only when asked for).
    """

    statuses: list[TicketStatus] = field(default_factory=list)
    department_id: int | None = None
    assignee: str = "anyone"
    requester_id: int | None = None
    account: str = ""  # name, email or phone of the requester contains this (any customer)
    creator: str | None = None
    priority: Priority | None = None
    tag: str | None = None
    created_from: date | None = None
    created_to: date | None = None
    updated_from: date | None = None
    updated_to: date | None = None
    unread: bool = False
    due: str | None = None
    q: str = ""
    sort: str = "updated"

    @classmethod
    def from_args(cls, args: MultiDict[str, str] | dict[str, Any]) -> QueueFilter:
        """The filter in URL arguments, leaving out what is malformed (see :func:`parse`)."""
        return parse(args)[0]

    def to_args(self) -> list[tuple[str, str]]:
        """The URL arguments meaning this filter (defaults left out), stable in order."""
        out: list[tuple[str, str]] = [("status", s.value) for s in self.statuses]
        simple = {
            "department": self.department_id,
            "assignee": None if self.assignee == "anyone" else self.assignee,
            "requester": self.requester_id,
            "account": self.account or None,
            "creator": self.creator,
            "priority": None if self.priority is None else int(self.priority),
            "tag": self.tag,
            "created_from": self.created_from,
            "created_to": self.created_to,
            "updated_from": self.updated_from,
            "updated_to": self.updated_to,
            "unread": "1" if self.unread else None,
            "due": self.due,
            "q": self.q or None,
            "sort": None if self.sort == "updated" else self.sort,
        }
        out.extend((key, str(value)) for key, value in simple.items() if value is not None)
        return out

    def query_string(self) -> str:
        return urlencode(self.to_args())

    @property
    def is_default(self) -> bool:
        return self == QueueFilter()


MAX_QUERY_LENGTH = 200


def parse(args: MultiDict[str, str] | dict[str, Any]) -> tuple[QueueFilter, list[str]]:
    """The filter in URL arguments and, for each malformed value, a message saying what was
    left out. Bad input never raises: the queue shows what the rest of the filter means, and the
    page tells the agent which part it could not use.
    """
    if not isinstance(args, MultiDict):
        args = MultiDict(args)
    problems: list[str] = []

    def bad(message: str) -> None:
        if message not in problems:
            problems.append(message)

    statuses: list[TicketStatus] = []
    for value in args.getlist("status"):
        for part in filter(None, (p.strip() for p in value.split(","))):
            if part in TicketStatus._value2member_map_:
                statuses.append(TicketStatus(part))
            else:
                bad(_("Unknown status “%(value)s” was ignored.", value=part[:40]))
    assignee = (args.get("assignee") or "anyone").strip()
    if assignee not in ASSIGNEE_KEYWORDS and parse_id(assignee) is None:
        bad(_("Unknown assignee “%(value)s” was ignored.", value=assignee[:40]))
        assignee = "anyone"
    creator = (args.get("creator") or "").strip() or None
    if creator and not _valid_creator(creator):
        bad(_("Unknown creator “%(value)s” was ignored.", value=creator[:40]))
        creator = None
    sort = args.get("sort") or "updated"
    if sort not in SORTS:
        bad(_("Unknown sort order “%(value)s”; sorted by last activity.", value=sort[:40]))
        sort = "updated"
    due = (args.get("due") or "").strip() or None
    if due is not None and due not in DUE_FILTERS:
        bad(_("Unknown due filter “%(value)s” was ignored.", value=due[:40]))
        due = None
    q = clean_search(args.get("q"), MAX_QUERY_LENGTH)
    if len((args.get("q") or "").strip()) > MAX_QUERY_LENGTH:
        bad(_("The search text was cut to %(count)d characters.", count=MAX_QUERY_LENGTH))
    dates = {}
    for key, label in DATE_FIELDS.items():
        dates[key] = _date(args.get(key))
        if args.get(key) and dates[key] is None:
            bad(
                _(
                    "“%(value)s” is not a date (YYYY-MM-DD); %(field)s was ignored.",
                    value=args[key][:40],
                    field=label,
                )
            )
    for start, end in (("created_from", "created_to"), ("updated_from", "updated_to")):
        if dates[start] and dates[end] and dates[start] > dates[end]:
            bad(
                _(
                    "The “%(field)s” dates end before they start; they were ignored.",
                    field=_("Created") if start == "created_from" else _("Updated"),
                )
            )
            dates[start] = dates[end] = None
    priority = _priority(args.get("priority"))
    if args.get("priority") and priority is None:
        bad(_("Unknown priority “%(value)s” was ignored.", value=args["priority"][:40]))
    numbers = {}
    for key, label in (("department", _("department")), ("requester", _("customer"))):
        numbers[key] = parse_id(args.get(key))
        if args.get(key) and numbers[key] is None:
            bad(
                _(
                    "“%(value)s” is not a valid %(field)s; it was ignored.",
                    value=args[key][:40],
                    field=label,
                )
            )
    account = clean_search(args.get("account"), 100)
    if account and contacts.contact_matches(account) is None:
        bad(
            _(
                "An account search needs at least %(n)d characters; it was ignored.",
                n=contacts.MIN_SEARCH,
            )
        )
        account = ""
    queue_filter = QueueFilter(
        statuses=list(dict.fromkeys(statuses)),
        department_id=numbers["department"],
        assignee=assignee,
        requester_id=numbers["requester"],
        account=account,
        creator=creator,
        priority=priority,
        tag=clean_search(args.get("tag"), 64).lower() or None,
        unread=args.get("unread") in ("1", "true", "on", "y"),
        due=due,
        q=q,
        sort=sort,
        **dates,
    )
    return queue_filter, problems


# URL argument -> how messages name it.
DATE_FIELDS = {
    "created_from": lazy_gettext("created from"),
    "created_to": lazy_gettext("created until"),
    "updated_from": lazy_gettext("updated from"),
    "updated_to": lazy_gettext("updated until"),
}


def _valid_creator(value: str) -> bool:
    kind, _sep, ident = value.partition(":")
    return kind in ("agent", "contact") and parse_id(ident) is not None


def _priority(value: str | None) -> Priority | None:
    value = (value or "").strip()
    if value.upper() in Priority.__members__:
        return Priority[value.upper()]
    number = parse_int(value, 0, MAX_ID)
    return (
        Priority(number) if number is not None and number in Priority._value2member_map_ else None
    )


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value.strip()) if value else None
    except ValueError:
        return None


def _start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


# -- the query ------------------------------------------------------------------------------


def _sort_columns(sort: str) -> list[Any]:
    if sort == "created":
        return [Ticket.created_at, Ticket.id]
    if sort == "priority":
        return [Ticket.priority, Ticket.updated_at, Ticket.id]
    if sort == "due":
        return [Ticket.sla_due_at, Ticket.id]
    return [Ticket.updated_at, Ticket.id]


# Sorts whose first page starts at the smallest key (the soonest due) instead of the largest.
ASCENDING_SORTS = frozenset({"due"})


def filter_conditions(
    actor: Actor, f: QueueFilter, match: search.TicketMatch | None = None
) -> list[Any]:
    """The WHERE conditions of *f* as *actor* sees tickets (visibility always included).
    *match* is the search's, when the caller already made it (:func:`build_query` does)."""
    where: list[Any] = [visible_tickets(actor)]
    if f.statuses:
        where.append(Ticket.status.in_(f.statuses))
    else:
        where.append(Ticket.status != TicketStatus.SPAM)
    if f.department_id is not None:
        where.append(Ticket.department_id == f.department_id)
    if f.assignee == "me":
        where.append(Ticket.assignee_id == (actor.agent.id if actor.agent else -1))
    elif f.assignee == "unassigned":
        where.append(Ticket.assignee_id.is_(None))
    elif parse_id(f.assignee) is not None:
        where.append(Ticket.assignee_id == int(f.assignee))
    if f.requester_id is not None:
        where.append(Ticket.requester_id == f.requester_id)
    account = contacts.contact_matches(f.account) if f.account else None
    if account is not None:  # every customer of the site, not only those on this page
        where.append(Ticket.requester_id.in_(select(Contact.id).where(account)))
    if f.creator:
        kind, _sep, ident = f.creator.partition(":")
        column = Ticket.creator_agent_id if kind == "agent" else Ticket.creator_contact_id
        where.append(column == int(ident))
    if f.priority is not None:
        where.append(Ticket.priority == f.priority)
    if f.tag:
        where.append(
            Ticket.id.in_(
                select(ticket_tag.c.ticket_id)
                .join(Tag, Tag.id == ticket_tag.c.tag_id)
                .where(Tag.name == f.tag)
            )
        )
    if f.created_from:
        where.append(Ticket.created_at >= _start(f.created_from))
    if f.created_to and f.created_to < date.max:
        where.append(Ticket.created_at < _start(f.created_to + timedelta(days=1)))
    if f.updated_from:
        where.append(Ticket.updated_at >= _start(f.updated_from))
    if f.updated_to and f.updated_to < date.max:
        where.append(Ticket.updated_at < _start(f.updated_to + timedelta(days=1)))
    if f.unread:  # as the condition of ix_helpdesk_ticket_unread (models/ticket.py) reads
        where.append(Ticket.last_customer_reply_at.is_not(None))
        where.append(
            or_(
                Ticket.agent_seen_at.is_(None),
                Ticket.last_customer_reply_at > Ticket.agent_seen_at,
            )
        )
    if f.due == "soon":
        now = utcnow()
        where.append(Ticket.sla_due_at > now)
        where.append(Ticket.sla_due_at <= now + DUE_SOON)
    elif f.due == "breached":
        where.append(Ticket.sla_due_at <= utcnow())
    if f.sort == "due":  # only tickets whose clock runs have a due time to sort by
        where.append(Ticket.sla_due_at.is_not(None))
    if f.q:
        where.append((match or search.matching_tickets(f.q, normalize_code(f.q))).condition)
    return where


def build_query(actor: Actor, f: QueueFilter, backwards: bool = False) -> Select[tuple[Ticket]]:
    """SELECT of the tickets matching *f*, newest first by the chosen sort (oldest first if
    *backwards*), rows ready to list (requester, assignee, department joined; tags in one extra
    query)."""
    return _queue_query(actor, f, backwards)[0]


# The queue's result count stops here: "500+" says enough, and counting a million rows does not.
COUNT_CAP = 500


def count_matching(actor: Actor, f: QueueFilter, cap: int | None = None) -> int:
    """How many tickets match *f*, counted up to ``cap + 1`` (a bounded read of ids)."""
    cap = COUNT_CAP if cap is None else cap
    ids = build_query(actor, f).order_by(None).with_only_columns(Ticket.id).limit(cap + 1)
    return session().scalar(select(func.count()).select_from(ids.subquery())) or 0


def filtered_requester(actor: Actor, requester_id: int | None) -> Contact | None:
    """The customer the queue is filtered by (``?requester=``), to name them on the page, when
    the actor sees a ticket of theirs: an id alone says nothing of anyone else's customers."""
    if requester_id is None:
        return None
    return session().scalar(
        select(Contact)
        .join(Ticket, Ticket.requester_id == Contact.id)
        .where(Contact.id == requester_id, visible_tickets(actor))
        .limit(1)
    )


# The search rows' copies of the sort keys (services/search.py), by the ticket column's name.
_MATCH_KEYS = {"id": "ticket_id"}


def _queue_query(
    actor: Actor, f: QueueFilter, backwards: bool
) -> tuple[Select[tuple[Ticket]], list[Any]]:
    """:func:`build_query`, and the columns its rows are ordered by (what a cursor compares)."""
    match = search.matching_tickets(f.q, normalize_code(f.q)) if f.q else None
    query = select(Ticket).options(
        joinedload(Ticket.requester),
        joinedload(Ticket.assignee),
        selectinload(Ticket.tags),
        # Not the department (joined by default): an inner join lets SQLite start from the
        # departments table and sort every visible ticket (at 10,000 tickets already), and the
        # page names departments from the list it loads anyway. Requester and assignee are
        # outer joins, which never drive the plan.
        lazyload(Ticket.department),
    )
    position = _sort_columns(f.sort)
    # The search rows carry copies of the other sorts' keys only (services/search.py).
    if match is not None and match.sorted_matches is not None and f.sort != "due":
        # A few thousand matches: sort their search rows by the copied keys first, then read
        # tickets in that order until the page is full (a page of lookups, not one per
        # match). OFFSET 0 keeps PostgreSQL from merging the sorted subquery into the join,
        # where it would read every matching ticket and sort afterwards.
        rows = match.sorted_matches
        keys = [rows.selected_columns[_MATCH_KEYS.get(c.key, c.key)] for c in position]
        ordered = (
            rows.order_by(*[k.asc() if backwards else k.desc() for k in keys])
            .offset(0)
            .subquery("matches")
        )
        position = [ordered.c[k.key] for k in keys]
        query = query.join(ordered, ordered.c.ticket_id == Ticket.id).where(
            *filter_conditions(actor, replace(f, q=""))
        )
    else:
        query = query.where(*filter_conditions(actor, f, match))
    ascending = backwards != (f.sort in ASCENDING_SORTS)
    order = [c.asc() if ascending else c.desc() for c in position]
    return query.order_by(*order), position


# -- keyset pagination ----------------------------------------------------------------------


@dataclass
class QueuePage:
    items: list[Ticket]
    next_cursor: str | None  # rows after the last one shown
    prev_cursor: str | None  # rows before the first one shown
    per_page: int


def _key(ticket: Ticket, sort: str) -> list[Any]:
    values = [getattr(ticket, c.key) for c in _sort_columns(sort)]
    return [v.isoformat() if isinstance(v, datetime) else int(v) for v in values]


def encode_cursor(ticket: Ticket, sort: str, direction: str = "after") -> str:
    raw = json.dumps([direction, sort, *_key(ticket, sort)], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, sort: str) -> tuple[str, list[Any]] | None:
    """(direction, key values) of a cursor made for *sort*; None if absent or not ours."""
    if not cursor:
        return None
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        direction, cursor_sort, *values = raw
        if direction not in ("after", "before") or cursor_sort != sort:
            return None
        columns = _sort_columns(sort)
        if len(values) != len(columns):
            return None
        key = [
            datetime.fromisoformat(v) if c.key.endswith("_at") else int(v)
            for v, c in zip(values, columns, strict=True)
        ]
        if any(isinstance(k, datetime) and k.tzinfo is None for k in key):
            return None
        # Out-of-range numbers would be a database error, not an empty page.
        if any(isinstance(k, int) and not 0 <= k <= MAX_ID for k in key):
            return None
        if sort == "priority" and key[0] not in Priority._value2member_map_:
            return None
        return direction, key
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError):
        return None


def queue_page(
    actor: Actor, f: QueueFilter, cursor: str | None = None, per_page: int = 25
) -> QueuePage:
    """One page of the queue: after (or before) the row the cursor names; one SELECT for the
    rows (+1 for their tags) whatever the page number."""
    per_page = max(1, min(per_page, 200))
    decoded = decode_cursor(cursor, f.sort)
    backwards = decoded is not None and decoded[0] == "before"
    query, columns = _queue_query(actor, f, backwards)
    if decoded is not None:
        position = tuple_(*columns)
        key = tuple_(
            *[_typed(c, v) for c, v in zip(_sort_columns(f.sort), decoded[1], strict=True)]
        )
        later = backwards != (f.sort in ASCENDING_SORTS)
        query = query.where(position > key if later else position < key)
    rows = list(session().scalars(query.limit(per_page + 1)).unique())
    more = len(rows) > per_page
    rows = rows[:per_page]
    if backwards:
        rows.reverse()
    has_next = more if not backwards else True
    has_prev = decoded is not None and (more if backwards else True)
    return QueuePage(
        items=rows,
        next_cursor=encode_cursor(rows[-1], f.sort, "after") if rows and has_next else None,
        prev_cursor=encode_cursor(rows[0], f.sort, "before") if rows and has_prev else None,
        per_page=per_page,
    )


def _typed(column: Any, value: Any) -> Any:
    return literal(value, type_=column.type)


# -- counters and built-in views ------------------------------------------------------------


@dataclass
class DepartmentCounts:
    new: int = 0
    open: int = 0
    closed: int = 0
    breached: int = 0  # unclosed tickets with a due instant already passed


def department_counters(actor: Actor) -> dict[int, DepartmentCounts]:
    """New / open / closed tickets per department the actor sees, and those past their due
    time, in ONE statement.

    new = nobody answered yet (``open``); open = answered, processing or customer replied.

    On PostgreSQL and SQLite the three counts are read from the counts the database keeps per
    department, assignee and status (models/counts.py: a sum over a few hundred rows, right
    after every commit); "past due" is a range of the due-time index, as long as the backlog
    of late tickets, not the table. Other databases count the tickets. A host may still reuse
    the figures for ``HELPDESK_QUEUE_COUNTERS_TTL`` seconds (0 by default: not needed).
    """
    ttl = current_helpdesk.config["HELPDESK_QUEUE_COUNTERS_TTL"]
    if not ttl:
        return _count_by_department(actor)
    key: tuple = (
        ("admin",)
        if actor.is_admin
        else (tuple(sorted(actor.department_ids)), actor.agent.id if actor.agent else None)
    )
    return cached_for_app(("department_counters", key), ttl, lambda: _count_by_department(actor))


_COUNTED = {
    TicketStatus.OPEN.value: "new",
    **{s.value: "open" for s in ACTIVE_STATUSES if s != TicketStatus.OPEN},
    TicketStatus.CLOSED.value: "closed",
}
_BREACHED = "breached"  # not a status: the late tickets' row of the statement below


def _count_by_department(actor: Actor) -> dict[int, DepartmentCounts]:
    if session().get_bind(mapper=Ticket).dialect.name not in ("postgresql", "sqlite"):
        return _count_tickets_by_department(actor)
    if actor.is_admin:
        mine = true()
    else:  # the visibility rule (services/permissions.py) on the counts' own columns
        agent_id = actor.agent.id if actor.agent is not None else -1
        mine = or_(
            TicketCount.department_id.in_(actor.department_ids),
            TicketCount.assignee_id == agent_id,
        )
    counted = (
        select(TicketCount.department_id, TicketCount.status, func.sum(TicketCount.n))
        .where(mine, TicketCount.status.in_(list(_COUNTED)))
        .group_by(TicketCount.department_id, TicketCount.status)
    )
    # Grouped by ``department_id + 0``, not by the column: with the column, SQLite walked the
    # department index for its order and read every ticket (150 ms at 100,000 tickets, late or
    # not); the expression leaves it the due index (``ix_helpdesk_ticket_sla_due``), which
    # holds only tickets with a due time, and reads just the late ones.
    department = Ticket.department_id + 0
    late = (
        select(department, literal(_BREACHED), func.count())
        .where(
            Ticket.sla_due_at <= utcnow(),
            visible_tickets(actor) if not actor.is_admin else true(),
        )
        .group_by(department)
    )
    counts: dict[int, DepartmentCounts] = {}
    for department_id, status, n in session().execute(union_all(counted, late)):
        row = counts.setdefault(department_id, DepartmentCounts())
        name = _BREACHED if status == _BREACHED else _COUNTED[status]
        setattr(row, name, getattr(row, name) + int(n or 0))
    return counts


def _count_tickets_by_department(actor: Actor) -> dict[int, DepartmentCounts]:
    """Every visible ticket counted (databases without the counts' triggers)."""
    open_states = [s for s in ACTIVE_STATUSES if s != TicketStatus.OPEN]
    rows = session().execute(
        select(
            Ticket.department_id,
            func.sum(case((Ticket.status == TicketStatus.OPEN, 1), else_=0)),
            func.sum(case((Ticket.status.in_(open_states), 1), else_=0)),
            func.sum(case((Ticket.status == TicketStatus.CLOSED, 1), else_=0)),
            func.sum(case((Ticket.sla_due_at <= utcnow(), 1), else_=0)),
        )
        .where(visible_tickets(actor) if not actor.is_admin else true())
        .group_by(Ticket.department_id)
    )
    return {
        department_id: DepartmentCounts(int(n or 0), int(o or 0), int(c or 0), int(b or 0))
        for department_id, n, o, c, b in rows
    }


def builtin_views() -> list[tuple[str, str, QueueFilter]]:
    """(slug, label msgid, filter) of the views every agent has."""
    return [
        ("mine", "My open", QueueFilter(statuses=list(ACTIVE_STATUSES), assignee="me")),
        (
            "unassigned",
            "Unassigned",
            QueueFilter(statuses=list(ACTIVE_STATUSES), assignee="unassigned"),
        ),
        # Quarantine: what agents and the spam filter set aside, never deleted.
        ("spam", "Spam", QueueFilter(statuses=[TicketStatus.SPAM])),
    ]


def agents_for_filter(actor: Actor) -> list[Agent]:
    """Agents to offer in the assignee filter: active ones sharing a department (all for
    admins)."""
    query = select(Agent).where(Agent.is_active.is_(True)).order_by(Agent.name)
    if not actor.is_admin:
        query = query.where(
            Agent.id.in_(
                select(agent_department.c.agent_id).where(
                    agent_department.c.department_id.in_(actor.department_ids)
                )
            )
        )
    return list(session().scalars(query))


__all__ = [
    "QueueFilter",
    "QueuePage",
    "and_",
    "build_query",
    "builtin_views",
    "department_counters",
    "fields",
    "queue_page",
]
