"""Rule conditions: a closed JSON schema, checked on save, read in Python and compiled to SQL.

A condition is a tree::

    {"all": [c, ...]}  {"any": [c, ...]}  {"not": c}
    {"field": "status", "op": "is", "value": "answered"}

over a whitelist of fields (the ticket, its latest public message, the customer and their
custom attributes, whether the customer's latest message came from a verified sender) and
operators. Event rules evaluate the tree in Python on the ticket at
hand (:func:`matches`); time rules compile it to a SQLAlchemy expression (:func:`to_sql`) so
that a sweep asks the database for the matching tickets only. Both readings are tested to agree
(``tests/rules/test_conditions.py``); the one operator SQL cannot say exactly on every backend
(``matches_word``) compiles to a superset that the sweep re-checks in Python.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Float, and_, case, cast, false, func, not_, or_, select, true
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from ..i18n import gettext as _
from ..models import (
    Channel,
    Contact,
    InboundMail,
    Message,
    MessageKind,
    Priority,
    Tag,
    Ticket,
    TicketStatus,
    ticket_tag,
)
from .base import session

MAX_DEPTH = 6
MAX_NODES = 100
MAX_TEXT = 500

# Field kinds, and what each may be compared with.
ENUM, ID, TEXT, TAGS, TIME, ATTR = "enum", "id", "text", "tags", "time", "attr"
OPERATORS: dict[str, frozenset[str]] = {
    ENUM: frozenset({"is", "is_not", "in", "not_in", "changed_to", "less_than", "greater_than"}),
    ID: frozenset({"is", "is_not", "in", "not_in", "is_set", "is_not_set", "changed_to"}),
    TEXT: frozenset(
        {"is", "is_not", "contains", "starts_with", "matches_word", "in", "is_set", "is_not_set"}
    ),
    TAGS: frozenset({"contains", "is_not", "is_set", "is_not_set", "changed_to"}),
    TIME: frozenset({"before", "after", "is_set", "is_not_set"}),
    ATTR: frozenset(
        {
            "is",
            "is_not",
            "contains",
            "starts_with",
            "matches_word",
            "in",
            "less_than",
            "greater_than",
            "is_set",
            "is_not_set",
        }
    ),
}
ALL_OPERATORS = sorted(set().union(*OPERATORS.values()))
UNARY = frozenset({"is_set", "is_not_set"})
RELATIVE_TIME = re.compile(r"^-(\d{1,5})([hd])$")  # "-3d": three days before now
ATTRIBUTE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class SenderCheck(StrEnum):
    """The ``sender`` field: the verdict on the customer's latest message (docs/email.rst),
    ordered from least to most trusted (``greater_than unverified``: verified or signed in)."""

    FAILED = "failed"  # came by mail; the From domain's DMARC policy disowns it
    UNVERIFIED = "unverified"  # came by mail; nothing vouched either way (or never checked)
    VERIFIED = "verified"  # came by mail; the From domain vouched for it
    NOT_MAIL = "not_mail"  # written on the site or through the API (signed in), or none yet


@dataclass(frozen=True)
class Field:
    kind: str
    enum: Any = None  # the enum of an ENUM field
    changes: str | None = None  # the change key ``changed_to`` looks at


FIELDS: dict[str, Field] = {
    "status": Field(ENUM, TicketStatus, "status"),
    "priority": Field(ENUM, Priority, "priority"),
    "channel": Field(ENUM, Channel),
    "department": Field(ID, changes="department"),
    "assignee": Field(ID, changes="assignee"),
    "subject": Field(TEXT),
    "message": Field(TEXT),  # body of the latest public message (the one just posted)
    "customer_email": Field(TEXT),
    "customer_name": Field(TEXT),
    "locale": Field(TEXT),
    "sender": Field(ENUM, SenderCheck),
    "tags": Field(TAGS, changes="tags"),
    "created_at": Field(TIME),
    "updated_at": Field(TIME),
    "last_customer_reply_at": Field(TIME),
    "last_agent_reply_at": Field(TIME),
}
ATTRIBUTE_PREFIX = "customer."  # "customer.plan": a custom attribute of the customer


class ConditionError(ValueError):
    """A condition does not fit the schema; ``path`` says where (``all[2].value``)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path or 'conditions'}: {message}")
        self.path = path or "conditions"
        self.message = message


def field_of(name: Any) -> Field | None:
    if not isinstance(name, str):
        return None
    if name.startswith(ATTRIBUTE_PREFIX):
        key = name[len(ATTRIBUTE_PREFIX) :]
        return Field(ATTR) if ATTRIBUTE_NAME.match(key) else None
    return FIELDS.get(name)


# -- validation -------------------------------------------------------------------------------


def validate(tree: Any, for_sql: bool = False) -> dict[str, Any]:
    """Check *tree* against the schema and return it normalized (enum values as stored).

    *for_sql*: the rule is a time rule, evaluated by the database; ``changed_to`` (which only
    has a meaning at the moment of a change) is refused there. Raises :class:`ConditionError`.
    """
    if tree in (None, {}):
        return {}
    counter = [0]
    return _validate(tree, "", 0, counter, for_sql)


def _validate(node: Any, path: str, depth: int, counter: list[int], for_sql: bool) -> Any:
    counter[0] += 1
    if counter[0] > MAX_NODES:
        raise ConditionError(path, _("Too many conditions (at most %(n)d).", n=MAX_NODES))
    if depth > MAX_DEPTH:
        raise ConditionError(path, _("Conditions are nested too deep."))
    if not isinstance(node, dict):
        raise ConditionError(path, _("Expected an object."))
    groups = [key for key in ("all", "any", "not") if key in node]
    if groups:
        if len(node) != 1:
            raise ConditionError(path, _("A group has exactly one key: all, any or not."))
        key = groups[0]
        if key == "not":
            return {
                "not": _validate(
                    node["not"], f"{path}.not".lstrip("."), depth + 1, counter, for_sql
                )
            }
        items = node[key]
        if not isinstance(items, list) or not items:
            raise ConditionError(path, _("“%(key)s” needs a non-empty list.", key=key))
        return {
            key: [
                _validate(item, f"{path}.{key}[{i}]".lstrip("."), depth + 1, counter, for_sql)
                for i, item in enumerate(items)
            ]
        }
    unknown = set(node) - {"field", "op", "value"}
    if unknown:
        raise ConditionError(path, _("Unknown key: %(key)s.", key=", ".join(sorted(unknown))))
    spec = field_of(node.get("field"))
    if spec is None:
        raise ConditionError(path, _("Unknown field: %(field)s.", field=str(node.get("field"))))
    op = node.get("op")
    if op not in OPERATORS[spec.kind]:
        raise ConditionError(
            path,
            _("The operator %(op)s does not apply to %(field)s.", op=str(op), field=node["field"]),
        )
    if op == "changed_to" and for_sql:
        raise ConditionError(path, _("“changed to” only applies to rules run on a change."))
    clean: dict[str, Any] = {"field": node["field"], "op": op}
    if op in UNARY:
        return clean
    if "value" not in node:
        raise ConditionError(path, _("A value is required."))
    clean["value"] = _value(spec, op, node["value"], f"{path}.value".lstrip("."))
    return clean


def _value(spec: Field, op: str, value: Any, path: str) -> Any:
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value or len(value) > 50:
            raise ConditionError(path, _("Expected a list of 1 to 50 values."))
        return [_scalar(spec, op, item, path) for item in value]
    return _scalar(spec, op, value, path)


def _scalar(spec: Field, op: str, value: Any, path: str) -> Any:
    if spec.kind == ENUM:
        try:
            if spec.enum is Priority:
                if isinstance(value, str) and not value.isdigit():
                    return Priority[value.upper()].slug
                return Priority(int(value)).slug
            return spec.enum(value).value
        except (KeyError, ValueError, TypeError):
            raise ConditionError(
                path, _("Not a valid value: %(value)s.", value=str(value))
            ) from None
    if spec.kind == ID:
        if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
            raise ConditionError(path, _("Expected a number (an id)."))
        return int(value)
    if spec.kind == TIME:
        return _time_value(value, path)
    if spec.kind == ATTR and op in ("less_than", "greater_than"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConditionError(path, _("Expected a number."))
        return value
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        raise ConditionError(path, _("Expected a text of 1 to %(n)d characters.", n=MAX_TEXT))
    return value.strip().lower() if spec.kind == TAGS else value.strip()


def _time_value(value: Any, path: str) -> str:
    if isinstance(value, str) and RELATIVE_TIME.match(value):
        return value
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise ConditionError(
            path, _("Expected a date (2026-01-31), a time, or “-3d” / “-12h” (before now).")
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def _instant(value: str, now: datetime) -> datetime:
    relative = RELATIVE_TIME.match(value)
    if relative:
        amount = int(relative.group(1))
        unit = timedelta(hours=1) if relative.group(2) == "h" else timedelta(days=1)
        return now - amount * unit
    return datetime.fromisoformat(value)


# -- evaluation in Python (event rules) -------------------------------------------------------


# What a condition may read beyond the ticket's own row. Each is a read, so the engine works out
# once (when it loads the rules) which of them its rules need, and reads those in one statement
# per change (services/rules.py), instead of a lazy load per relation.
NEEDS_CUSTOMER, NEEDS_TAGS, NEEDS_LATEST = "customer", "tags", "latest"
_CUSTOMER_FIELDS = frozenset({"customer_email", "customer_name"})


def needs(tree: dict[str, Any]) -> frozenset[str]:
    """What evaluating the (validated) *tree* in Python reads beyond the ticket's row."""
    if not tree:
        return frozenset()
    for key in ("all", "any"):
        if key in tree:
            return frozenset().union(*(needs(item) for item in tree[key]))
    if "not" in tree:
        return needs(tree["not"])
    name, op = tree["field"], tree["op"]
    if op == "changed_to":
        return frozenset()  # read from the change itself
    if name.startswith(ATTRIBUTE_PREFIX) or name in _CUSTOMER_FIELDS:
        return frozenset({NEEDS_CUSTOMER})
    if name == "tags":
        return frozenset({NEEDS_TAGS})
    if name == "message":
        return frozenset({NEEDS_LATEST})
    return frozenset()


@dataclass
class Facts:
    """What one evaluation may read about a ticket; loaded lazily, once per run.

    ``related`` holds what was read ahead for the ticket (``customer``: its requester's email,
    name and attributes; ``tags``: its tag names; ``latest``: the latest public message's body);
    whatever it lacks is read through the ticket's relations."""

    ticket: Ticket
    changes: dict[str, Any] = field(default_factory=dict)  # "status" -> new value, ...
    message: Message | None = None
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    _latest: Callable[[], str] | None = None
    related: dict[str, Any] = field(default_factory=dict)

    def _customer(self) -> tuple[str | None, str | None, dict[str, Any]]:
        if NEEDS_CUSTOMER in self.related:
            return self.related[NEEDS_CUSTOMER]
        requester = self.ticket.requester
        if requester is None:
            return None, None, {}
        return requester.email, requester.name, requester.attributes or {}

    def value(self, name: str) -> Any:
        ticket = self.ticket
        if name.startswith(ATTRIBUTE_PREFIX):
            return self._customer()[2].get(name[len(ATTRIBUTE_PREFIX) :])
        match name:
            case "status":
                return TicketStatus(ticket.status).value
            case "priority":
                return Priority(ticket.priority).slug
            case "channel":
                return Channel(ticket.channel).value
            case "department":
                return ticket.department_id
            case "assignee":
                return ticket.assignee_id
            case "subject":
                return ticket.subject
            case "message":
                if self.message is not None and self.message.kind == MessageKind.REPLY:
                    return self.message.body
                if NEEDS_LATEST in self.related:
                    return self.related[NEEDS_LATEST]
                return self._latest() if self._latest else ""
            case "customer_email":
                return ticket.email or self._customer()[0]
            case "customer_name":
                return self._customer()[1]
            case "locale":
                return ticket.locale
            case "tags":
                if NEEDS_TAGS in self.related:
                    return self.related[NEEDS_TAGS]
                return {tag.name for tag in ticket.tags}
            case "sender":
                return self._sender()
        return getattr(ticket, name)

    def _sender(self) -> str:
        """:class:`SenderCheck` of the customer's latest message, as :func:`_sender_sql`."""
        latest = self.message
        if latest is None or latest.kind != MessageKind.REPLY or latest.author_agent_id:
            latest = session().scalar(
                select(Message)
                .where(_customer_message(self.ticket.id))
                .order_by(Message.created_at.desc(), Message.id.desc())
                .limit(1)
            )
        if latest is None or latest.channel != Channel.EMAIL:
            return SenderCheck.NOT_MAIL.value
        dmarc = session().scalar(
            select(InboundMail.auth_dmarc)
            .where(InboundMail.posted_message_id == latest.id)
            .order_by(InboundMail.id)
            .limit(1)
        )
        return _STATE_OF_DMARC.get(dmarc, SenderCheck.UNVERIFIED).value


_STATE_OF_DMARC = {"pass": SenderCheck.VERIFIED, "fail": SenderCheck.FAILED}


def _customer_message(ticket_id: Any) -> ColumnElement[bool]:
    """A public message of the ticket that no agent wrote (the customer's, a participant's)."""
    return and_(
        Message.ticket_id == ticket_id,
        Message.kind == MessageKind.REPLY,
        Message.author_agent_id.is_(None),
    )


def _sender_sql() -> Any:
    latest_of = aliased(Message)
    latest = (
        select(latest_of.id)
        .where(
            latest_of.ticket_id == Ticket.id,
            latest_of.kind == MessageKind.REPLY,
            latest_of.author_agent_id.is_(None),
        )
        .order_by(latest_of.created_at.desc(), latest_of.id.desc())
        .limit(1)
        .correlate(Ticket)
        .scalar_subquery()
    )
    by_mail = (
        select(Message.id)
        .where(Message.id == latest, Message.channel == Channel.EMAIL)
        .correlate(Ticket)
        .exists()
    )
    verdict = (
        select(
            case(
                (InboundMail.auth_dmarc == "pass", SenderCheck.VERIFIED.value),
                (InboundMail.auth_dmarc == "fail", SenderCheck.FAILED.value),
                else_=SenderCheck.UNVERIFIED.value,
            )
        )
        .where(InboundMail.posted_message_id == latest)
        .order_by(InboundMail.id)
        .limit(1)
        .correlate(Ticket)
        .scalar_subquery()
    )
    return case(
        (by_mail, func.coalesce(verdict, SenderCheck.UNVERIFIED.value)),
        else_=SenderCheck.NOT_MAIL.value,
    )


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.casefold())


def _text_test(op: str, actual: Any, wanted: Any) -> bool:
    text = "" if actual is None else str(actual)
    folded = text.casefold()
    if op == "is":
        return folded == str(wanted).casefold()
    if op == "is_not":
        return folded != str(wanted).casefold()
    if op == "contains":
        return str(wanted).casefold() in folded
    if op == "starts_with":
        return folded.startswith(str(wanted).casefold())
    if op == "matches_word":
        needle = _words(str(wanted))
        words = _words(text)
        size = len(needle)
        return bool(size) and any(words[i : i + size] == needle for i in range(len(words)))
    if op == "in":
        return folded in {str(v).casefold() for v in wanted}
    raise AssertionError(op)


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _test(node: dict[str, Any], facts: Facts) -> bool:
    name, op, wanted = node["field"], node["op"], node.get("value")
    spec = field_of(name)
    assert spec is not None
    if op == "changed_to":
        if spec.changes not in facts.changes:
            return False
        new = facts.changes[spec.changes]
        return wanted in new if spec.kind == TAGS else new == wanted
    actual = facts.value(name)
    if op == "is_set":
        return bool(actual) if spec.kind in (TAGS, TEXT, ATTR) else actual is not None
    if op == "is_not_set":
        return not actual if spec.kind in (TAGS, TEXT, ATTR) else actual is None
    if spec.kind == TAGS:
        return (wanted in actual) if op == "contains" else (wanted not in actual)
    if spec.kind == TIME:
        if actual is None:
            return False
        moment = _instant(wanted, facts.now)
        return actual < moment if op == "before" else actual > moment
    if spec.kind == ENUM:
        if op in ("less_than", "greater_than"):
            rank = _rank(spec, actual) - _rank(spec, wanted)
            return rank < 0 if op == "less_than" else rank > 0
        return {
            "is": actual == wanted,
            "is_not": actual != wanted,
            "in": actual in (wanted or ()),
            "not_in": actual not in (wanted or ()),
        }[op]
    if spec.kind == ID:
        return {
            "is": actual == wanted,
            "is_not": actual != wanted,
            "in": actual in wanted,
            "not_in": actual not in wanted,
        }[op]
    if op in ("less_than", "greater_than"):  # a customer attribute read as a number
        number = _number(actual)
        if number is None:
            return False
        return number < wanted if op == "less_than" else number > wanted
    if actual is None and op != "is_not":
        return False
    return _text_test(op, actual, wanted)


def _rank(spec: Field, value: str) -> int:
    if spec.enum is Priority:
        return int(Priority[value.upper()])
    return list(spec.enum).index(spec.enum(value))


def matches(tree: dict[str, Any], facts: Facts) -> bool:
    """Whether the (validated) condition *tree* holds for *facts*. ``{}`` always holds."""
    if not tree:
        return True
    if "all" in tree:
        return all(matches(item, facts) for item in tree["all"])
    if "any" in tree:
        return any(matches(item, facts) for item in tree["any"])
    if "not" in tree:
        return not matches(tree["not"], facts)
    return _test(tree, facts)


# -- compilation to SQL (time rules, "which tickets would match now") -------------------------


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _sql_column(name: str) -> Any:
    if name.startswith(ATTRIBUTE_PREFIX):
        key = name[len(ATTRIBUTE_PREFIX) :]
        return (
            select(Contact.attributes[key].as_string())
            .where(Contact.id == Ticket.requester_id)
            .scalar_subquery()
        )
    if name == "message":
        return (
            select(Message.body)
            .where(Message.ticket_id == Ticket.id, Message.kind == MessageKind.REPLY)
            .order_by(Message.created_at.desc(), Message.id.desc())
            .limit(1)
            .scalar_subquery()
        )
    if name == "customer_email":
        requester = select(Contact.email).where(Contact.id == Ticket.requester_id)
        return func.coalesce(Ticket.email, requester.scalar_subquery())
    if name == "customer_name":
        return select(Contact.name).where(Contact.id == Ticket.requester_id).scalar_subquery()
    if name == "sender":
        return _sender_sql()
    return {
        "status": Ticket.status,
        "priority": Ticket.priority,
        "channel": Ticket.channel,
        "department": Ticket.department_id,
        "assignee": Ticket.assignee_id,
        "subject": Ticket.subject,
        "locale": Ticket.locale,
        "created_at": Ticket.created_at,
        "updated_at": Ticket.updated_at,
        "last_customer_reply_at": Ticket.last_customer_reply_at,
        "last_agent_reply_at": Ticket.last_agent_reply_at,
    }[name]


def _has_tag(name: str) -> ColumnElement[bool]:
    return (
        select(ticket_tag.c.ticket_id)
        .join(Tag, Tag.id == ticket_tag.c.tag_id)
        .where(ticket_tag.c.ticket_id == Ticket.id, Tag.name == name)
        .exists()
    )


def _sql_test(node: dict[str, Any], now: datetime) -> ColumnElement[bool]:
    name, op, wanted = node["field"], node["op"], node.get("value")
    spec = field_of(name)
    assert spec is not None
    if spec.kind == TAGS:
        any_tag = select(ticket_tag.c.ticket_id).where(ticket_tag.c.ticket_id == Ticket.id)
        return {
            "contains": lambda: _has_tag(wanted),
            "is_not": lambda: ~_has_tag(wanted),
            "is_set": lambda: any_tag.exists(),
            "is_not_set": lambda: ~any_tag.exists(),
        }[op]()
    column = _sql_column(name)
    if op in UNARY:
        if spec.kind in (TEXT, ATTR):
            empty = or_(column.is_(None), column == "")
            return not_(empty) if op == "is_set" else empty
        return column.is_not(None) if op == "is_set" else column.is_(None)
    if spec.kind == TIME:
        moment = _instant(wanted, now)
        return and_(column.is_not(None), column < moment if op == "before" else column > moment)
    if spec.kind == ENUM:
        convert = (lambda v: Priority[v.upper()]) if spec.enum is Priority else spec.enum
        if spec.enum is SenderCheck:  # a computed text, not a column of the enum's type
            convert = str
        if op in ("less_than", "greater_than"):
            if spec.enum is Priority:
                target = convert(wanted)
                return column < target if op == "less_than" else column > target
            order = list(spec.enum)
            index = order.index(spec.enum(wanted))
            picked = order[:index] if op == "less_than" else order[index + 1 :]
            return column.in_(picked) if picked else false()
        if op in ("in", "not_in"):
            values = [convert(v) for v in wanted]
            return column.in_(values) if op == "in" else column.not_in(values)
        return column == convert(wanted) if op == "is" else column != convert(wanted)
    if spec.kind == ID:
        if op == "is":
            return column == wanted
        if op == "is_not":
            return or_(column.is_(None), column != wanted)
        return column.in_(wanted) if op == "in" else or_(column.is_(None), column.not_in(wanted))
    if op in ("less_than", "greater_than"):
        number = cast(column, Float)
        return number < wanted if op == "less_than" else number > wanted
    folded = func.lower(column)
    if op == "is":
        return folded == wanted.lower()
    if op == "is_not":
        return or_(column.is_(None), folded != wanted.lower())
    if op == "in":
        return folded.in_([str(v).lower() for v in wanted])
    if op == "starts_with":
        return folded.like(_like_escape(wanted.lower()) + "%", escape="\\")
    # contains; matches_word compiles to the same superset and is re-checked in Python
    return folded.like("%" + _like_escape(wanted.lower()) + "%", escape="\\")


def to_sql(tree: dict[str, Any], now: datetime) -> ColumnElement[bool]:
    """A WHERE clause over :class:`Ticket` selecting the tickets *tree* holds for (or a superset
    when :func:`needs_recheck`)."""
    if not tree:
        return true()
    if "all" in tree:
        return and_(*(to_sql(item, now) for item in tree["all"]))
    if "any" in tree:
        return or_(*(to_sql(item, now) for item in tree["any"]))
    if "not" in tree:
        if needs_recheck(tree["not"]):
            return true()  # NOT of a superset is no superset: leave it to the Python check
        return not_(to_sql(tree["not"], now))
    return _sql_test(tree, now)


def needs_recheck(tree: dict[str, Any]) -> bool:
    """Whether the SQL of *tree* may select more than it holds for (``matches_word``).

    Python's lower-casing and SQL's differ outside ASCII, too; the sweep re-checks every
    candidate in Python anyway, so these only widen what SQL returns, never lose a match."""
    if not tree:
        return False
    for key in ("all", "any"):
        if key in tree:
            return any(needs_recheck(item) for item in tree[key])
    if "not" in tree:
        return needs_recheck(tree["not"])
    return tree.get("op") == "matches_word"
