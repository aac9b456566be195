"""House rules of the seeds, presets an admin switches on: wrong language, duplicates, abuse.

All three run from the one ticket-creation path (:func:`services.tickets.open_ticket_with_message`,
which mail intake uses too), for tickets customers open themselves:

- **abuse guard** — at most ``per_hour`` / ``per_day`` new tickets per customer; beyond, the
  web form says when to come back and mail is kept (the inbound mail row, ``ignored`` with
  the reason, findable and re-processable by admins) and answered once;
- **duplicate guard** — a new ticket whose subject and text closely match one of the
  customer's open tickets: the web form shows that ticket and asks to reply there (the
  customer may insist); mail is threaded into it as a reply;
- **wrong language** — a ticket confidently written in a language the desk does not accept is
  closed with a polite reply naming the accepted languages. Short texts, where detection is
  unreliable, are never closed.

The language detector is ``py3langid`` (the ``[languages]`` extra: its model ships inside the
package, about 5 MB, and works offline). Settings live in ``helpdesk_house_rule`` rows.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from .. import spamfilter
from ..i18n import gettext as _
from ..i18n import ngettext
from ..models import Contact, HouseRule, Message, MessageKind, Ticket, TicketStatus, utcnow
from . import audit
from .base import (
    Conflict,
    ServiceError,
    ValidationError,
    cached_for_app,
    commit,
    forget_cached_for_app,
    session,
)
from .identity import Actor
from .permissions import ensure

try:  # the [languages] extra
    from py3langid.langid import MODEL_FILE, LanguageIdentifier
except ImportError:  # pragma: no cover - exercised when the extra is missing
    LanguageIdentifier = None  # type: ignore[assignment,misc]
    MODEL_FILE = None

LANGUAGE, DUPLICATE, ABUSE = "language", "duplicate", "abuse"
RULES_KEY = "house_rules"
RULES_TTL = 10.0
DEFAULTS: dict[str, dict[str, Any]] = {
    # Below min_letters letters, or below confidence, a ticket is never closed.
    LANGUAGE: {"accepted": ["en"], "min_letters": 30, "confidence": 0.9},
    # Share of words the two tickets have in common (Jaccard), and how many open tickets to
    # compare with (the customer's most recent).
    DUPLICATE: {"similarity": 0.8, "compare_with": 20},
    ABUSE: {"per_hour": 5, "per_day": 20},
}
OPEN_STATUSES = (
    TicketStatus.OPEN,
    TicketStatus.ANSWERED,
    TicketStatus.PROCESSING,
    TicketStatus.CUSTOMER_REPLIED,
)


class TooManyTickets(ServiceError):
    """The abuse guard refused a new ticket; the message says when to try again."""

    status_code = 429

    def __init__(self, limit: int, period: str) -> None:
        super().__init__(abuse_message(limit, period))
        self.limit = limit
        self.period = period  # "hour" or "day"


class DuplicateTicket(Conflict):
    """The new ticket closely matches *ticket*, one of the customer's open tickets."""

    def __init__(self, ticket: Ticket) -> None:
        super().__init__(
            _(
                "This looks like your open request %(code)s. Please reply there instead; "
                "to open a new request anyway, send the form again.",
                code=ticket.code,
            )
        )
        self.ticket = ticket


@dataclass(frozen=True)
class Rule:
    name: str
    enabled: bool
    settings: dict[str, Any]


# -- settings ---------------------------------------------------------------------------------


def rules() -> dict[str, Rule]:
    """Every house rule with its settings (defaults filled in).

    Read on every ticket a customer opens: kept for a few seconds per process (a change an
    admin makes reaches the other processes within ``RULES_TTL`` seconds, this one at once)."""
    return cached_for_app(RULES_KEY, RULES_TTL, _load_rules)


def _load_rules() -> dict[str, Rule]:
    stored = {row.name: row for row in session().scalars(select(HouseRule))}
    result = {}
    for name, defaults in DEFAULTS.items():
        row = stored.get(name)
        settings = {**defaults, **(row.settings if row is not None else {})}
        result[name] = Rule(name, bool(row is not None and row.enabled), settings)
    return result


def detector_available() -> bool:
    return LanguageIdentifier is not None


def save(actor: Actor, changes: dict[str, tuple[bool, dict[str, Any]]]) -> None:
    """An admin switches house rules on or off and sets them: *changes* maps a rule's name to
    (enabled, settings). All are checked first, then stored and audited in one transaction."""
    ensure(actor, "manage")
    errors: dict[str, list[str]] = {}
    cleaned = {}
    for name, (enabled, settings) in changes.items():
        if name not in DEFAULTS:
            raise ValidationError(_("Unknown house rule."))
        try:
            cleaned[name] = (enabled, _validate(name, enabled, settings))
        except ValidationError as error:
            errors.update(error.field_errors)
    if errors:
        raise ValidationError(_("Please correct the errors below."), errors)
    for name, (enabled, clean) in cleaned.items():
        row = session().get(HouseRule, name)
        if row is None:
            row = HouseRule(name=name)
            session().add(row)
        row.enabled = enabled
        row.settings = clean
        row.updated_at = utcnow()
        audit.record(actor, "house_rule.updated", None, rule=name, enabled=enabled, **clean)
    commit()
    forget_cached_for_app(RULES_KEY)


def _validate(name: str, enabled: bool, settings: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    if name == LANGUAGE:
        accepted = [code.strip().lower() for code in settings.get("accepted", []) if code.strip()]
        if enabled and not accepted:
            errors["accepted"] = [_("Choose at least one accepted language.")]
        if enabled and not detector_available():
            errors["accepted"] = [
                _("Language detection is not installed: install flask-helpdesk[languages].")
            ]
        clean["accepted"] = accepted
    elif name == ABUSE:
        for key in ("per_hour", "per_day"):
            value = settings.get(key)
            if not isinstance(value, int) or not 1 <= value <= 10_000:
                errors[key] = [_("Enter a whole number from 1 to 10000.")]
            clean[key] = value
    if errors:
        raise ValidationError(_("Please correct the errors below."), errors)
    return clean


# -- abuse guard ------------------------------------------------------------------------------


def check_abuse(requester: Contact, rule: Rule) -> None:
    """Raise :class:`TooManyTickets` when *requester* reached a limit of new tickets."""
    now = utcnow()
    hour, day = now - timedelta(hours=1), now - timedelta(days=1)
    table = Ticket.__table__
    in_hour, in_day = (
        session()
        .execute(
            select(
                func.count().filter(table.c.created_at >= hour),
                func.count(),
            ).where(table.c.requester_id == requester.id, table.c.created_at >= day)
        )
        .one()
    )
    if in_hour >= rule.settings["per_hour"]:
        limit, period = rule.settings["per_hour"], "hour"
    elif in_day >= rule.settings["per_day"]:
        limit, period = rule.settings["per_day"], "day"
    else:
        return
    raise TooManyTickets(limit, period)


def abuse_message(limit: int, period: str) -> str:
    if period == "hour":
        return ngettext(
            "You can open %(num)d request per hour. Please wait a little, or add to one of "
            "your open requests.",
            "You can open %(num)d requests per hour. Please wait a little, or add to one of "
            "your open requests.",
            limit,
        )
    return ngettext(
        "You can open %(num)d request per day. Please try again tomorrow, or add to one of "
        "your open requests.",
        "You can open %(num)d requests per day. Please try again tomorrow, or add to one of "
        "your open requests.",
        limit,
    )


# -- duplicate guard --------------------------------------------------------------------------


def _word_set(subject: str, body: str) -> frozenset[str]:
    return frozenset(spamfilter.words(f"{subject}\n{body}"))


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """Share of words in common (Jaccard); two empty texts are not alike."""
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def find_duplicate(requester: Contact, subject: str, body: str, rule: Rule) -> Ticket | None:
    """The customer's open ticket this new one closely matches, most alike first; or None."""
    words = _word_set(subject, body)
    if not words:
        return None
    # Core columns, no ORM objects: the customer's most recent open tickets (by the
    # requester index), then the first message of just those.
    recent = (
        select(Ticket.id, Ticket.subject)
        .where(Ticket.requester_id == requester.id, Ticket.status.in_(OPEN_STATUSES))
        .order_by(Ticket.updated_at.desc(), Ticket.id.desc())
        .limit(rule.settings["compare_with"])
        .subquery()
    )
    firsts = (
        select(func.min(Message.id))
        .where(Message.ticket_id.in_(select(recent.c.id)), Message.kind == MessageKind.REPLY)
        .group_by(Message.ticket_id)
    )
    rows = session().execute(
        select(recent.c.id, recent.c.subject, Message.body)
        .join(Message, Message.ticket_id == recent.c.id)
        .where(Message.id.in_(firsts))
    )
    best, best_score = None, rule.settings["similarity"]
    for ticket_id, subject, first_body in rows:
        score = similarity(words, _word_set(subject, first_body or ""))
        if score >= best_score:
            best, best_score = ticket_id, score
    return session().get(Ticket, best) if best is not None else None


# -- wrong language ---------------------------------------------------------------------------

_detector: Any = None
_detector_lock = threading.Lock()


def _identifier() -> Any:
    """The detector, loaded once per process (its model takes a second or two to read)."""
    global _detector
    if _detector is None:
        with _detector_lock:
            if _detector is None:
                _detector = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    return _detector


def detect_language(text: str, min_letters: int, confidence: float) -> str | None:
    """The language of *text* (ISO 639-1), or None when it is too short or unsure to tell."""
    if not detector_available():
        return None
    letters = sum(1 for char in text if char.isalpha())
    if letters < min_letters:
        return None
    language, probability = _identifier().classify(text[:5000])
    return language if probability >= confidence else None


def wrong_language(ticket: Ticket, body: str, rule: Rule) -> str | None:
    """The language *ticket* is written in when the desk does not accept it; else None."""
    language = detect_language(
        f"{ticket.subject}\n{body}", rule.settings["min_letters"], rule.settings["confidence"]
    )
    if language is None or language in rule.settings["accepted"]:
        return None
    return language


__all__ = [
    "ABUSE",
    "DUPLICATE",
    "LANGUAGE",
    "DuplicateTicket",
    "Rule",
    "TooManyTickets",
    "check_abuse",
    "detect_language",
    "find_duplicate",
    "rules",
    "save",
    "wrong_language",
]
