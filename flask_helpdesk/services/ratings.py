"""The customer's rating of the support they got: 1–5 stars and a comment, once per ticket,
only after the ticket is closed (seed 001)."""

from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError

from .. import signals
from ..i18n import gettext as _
from ..models import Rating, Ticket, TicketStatus, utcnow
from . import audit, facts
from .base import Forbidden, ValidationError, commit, send_signal, session
from .identity import Actor
from .permissions import ensure

MIN_STARS, MAX_STARS = 1, 5
COMMENT_MAX_LENGTH = 2000


def _already_rated() -> ValidationError:
    return ValidationError(
        _("This ticket has already been rated."),
        {"stars": [_("This ticket has already been rated.")]},
    )


def rate_ticket(actor: Actor, ticket: Ticket, stars: int, comment: str = "") -> Rating:
    """Record the customer's stars. Refused before close, a second time, or outside 1–5."""
    ensure(actor, "rate", ticket)
    if not actor.is_customer or actor.contact is None:
        raise Forbidden(_("Only the customer can rate a ticket."))
    if ticket.status != TicketStatus.CLOSED:
        raise ValidationError(
            _("You can rate a ticket once it is closed."),
            {"stars": [_("You can rate a ticket once it is closed.")]},
        )
    # Ask the database, not ``ticket.rating``: the relationship may be stale or not loaded.
    if session().scalar(select(exists().where(Rating.ticket_id == ticket.id))):
        raise _already_rated()
    try:
        stars = int(stars)
    except (TypeError, ValueError):
        stars = 0
    if not MIN_STARS <= stars <= MAX_STARS:
        raise ValidationError(
            _("Please choose from 1 to 5 stars."),
            {"stars": [_("Please choose from 1 to 5 stars.")]},
        )
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX_LENGTH:
        raise ValidationError(
            _("The comment is too long."), {"comment": [_("The comment is too long.")]}
        )
    rating = Rating(
        ticket_id=ticket.id,
        contact_id=actor.contact.id,
        stars=stars,
        comment=comment,
        created_at=utcnow(),
    )
    session().add(rating)
    facts.rated(ticket, rating)
    audit.record(actor, "ticket.rated", ticket, stars=stars)
    try:
        commit()
    except IntegrityError:
        # Two submissions raced past the check above; the unique constraint kept one.
        raise _already_rated() from None
    send_signal(signals.ticket_rated, ticket=ticket, actor=actor, rating=rating)
    return rating


def stars_of(tickets: list[Ticket]) -> dict[int, int]:
    """Ticket id -> stars of those *tickets* that are rated, in one query (lists show them)."""
    ids = [t.id for t in tickets]
    if not ids:
        return {}
    rows = session().execute(
        select(Rating.ticket_id, Rating.stars).where(Rating.ticket_id.in_(ids))
    )
    return {ticket_id: stars for ticket_id, stars in rows}
