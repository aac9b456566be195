"""The customer's good/bad on one agent reply (seed 004), with an optional comment.

Given on the ticket page by the logged-in customer, or from the links in the reply's mail
without logging in: the link carries a token signed with the app's secret (itsdangerous),
bound to that reply and expiring after ``HELPDESK_REPLY_RATING_MAX_AGE``. A rating can be
changed until the ticket closes; its one fact (services/facts.py) follows every change, so CSAT
counts each reply once. The 1–5 stars after close stay in services/ratings.py.
"""

from __future__ import annotations

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from ..i18n import gettext as _
from ..models import Message, MessageKind, ReplyRating, TicketStatus, utcnow
from ..state import current_helpdesk
from . import audit, facts
from .base import Forbidden, NotFound, ValidationError, commit, session
from .identity import SYSTEM, Actor
from .permissions import ensure

SALT = "flask-helpdesk-reply-rating"
COMMENT_MAX_LENGTH = 2000


def signed_serializer(salt: str, what: str) -> URLSafeTimedSerializer:
    """Signs the tokens of links in mail that act without a login (*salt* per kind of link,
    so a token of one kind is no token of another)."""
    secret = current_app.secret_key
    if not secret:
        raise RuntimeError(f"{what} need the app's SECRET_KEY")
    return URLSafeTimedSerializer(secret, salt=salt)


def _serializer() -> URLSafeTimedSerializer:
    return signed_serializer(SALT, "rating links")


def rating_token(message: Message) -> str:
    """The token of the rating links in *message*'s mail (bound to the reply and its ticket)."""
    return _serializer().dumps({"m": message.id, "t": message.ticket_id})


def reply_for_token(token: str) -> Message:
    """The reply a mail's rating link is about; a clear error when it is forged or too old."""
    max_age = current_helpdesk.config["HELPDESK_REPLY_RATING_MAX_AGE"].total_seconds()
    try:
        data = _serializer().loads(token, max_age=max_age)
    except SignatureExpired:
        raise ValidationError(_("This rating link has expired.")) from None
    except BadSignature:
        raise NotFound(_("This rating link is not valid.")) from None
    message = session().get(Message, data.get("m")) if isinstance(data, dict) else None
    if message is None or message.ticket_id != data.get("t"):
        raise NotFound(_("This rating link is not valid."))
    return message


def _rateable(message: Message) -> None:
    if message.kind != MessageKind.REPLY or message.author_agent_id is None:
        raise NotFound(_("Only support's replies can be rated."))
    if message.ticket.status == TicketStatus.CLOSED:
        message_text = _("This ticket is closed; its replies can no longer be rated.")
        raise ValidationError(message_text, {"good": [message_text]})


def rate_reply(actor: Actor | None, message: Message, good: bool, comment: str = "") -> ReplyRating:
    """Record or change the rating of *message*. *actor* is the logged-in customer, or None
    when a verified mail token stands for them (the caller checked it with
    :func:`reply_for_token`)."""
    ticket = message.ticket
    if actor is not None:
        ensure(actor, "rate", ticket)
        if not actor.is_customer:
            raise Forbidden(_("Only the customer can rate a reply."))
    _rateable(message)
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX_LENGTH:
        raise ValidationError(
            _("The comment is too long."), {"comment": [_("The comment is too long.")]}
        )
    now = utcnow()
    rating = session().scalar(select(ReplyRating).where(ReplyRating.message_id == message.id))
    if rating is None:
        rating = ReplyRating(message_id=message.id, ticket_id=ticket.id, created_at=now)
        session().add(rating)
    rating.good = bool(good)
    rating.comment = comment
    rating.updated_at = now
    session().flush()
    facts.reply_rated(ticket, rating, message.author_agent_id)
    audit.record(actor or SYSTEM, "message.rated", ticket, message_id=message.id, good=rating.good)
    commit()
    return rating


def ratings_of(message_ids: list[int]) -> dict[int, ReplyRating]:
    """Message id -> its rating, for the replies of a thread (one query)."""
    if not message_ids:
        return {}
    rows = session().scalars(select(ReplyRating).where(ReplyRating.message_id.in_(message_ids)))
    return {rating.message_id: rating for rating in rows}
