"""The demo's 90 days of history give the reports page something to show, and its facts agree
with its tickets as if they had been recorded live."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from flask_helpdesk.models import Contact, Rating, Ticket, TicketFact, TicketStatus, utcnow
from flask_helpdesk.services import reports
from flask_helpdesk.services.base import session
from flask_helpdesk.services.demo import seed_demo
from flask_helpdesk.services.identity import SYSTEM


def test_history_fills_90_days_and_its_backlog_matches_the_tickets(app):
    seed_demo()
    today = utcnow().date()
    period = reports.Period(today - timedelta(days=89), today)
    current = reports.compare(SYSTEM, period)[("current", None)]
    assert current.created > 300 and current.solved > 300
    assert current.time("first_response", 0.5) is not None and current.csat is not None
    assert 0 < current.sla_compliance < 100
    _opening, days = reports.daily(SYSTEM, period)
    open_now = session().scalar(
        select(func.count())
        .select_from(Ticket)
        .where(Ticket.status.not_in([TicketStatus.CLOSED, TicketStatus.SPAM]))
    )
    assert days[-1].backlog == open_now
    assert session().scalar(select(func.sum(TicketFact.backlog_delta))) == open_now
    # Ratings and facts agree; the demo logins' own rating is still the only one they gave.
    rated = session().scalar(select(func.count()).select_from(Rating))
    assert rated == session().scalar(
        select(func.count()).select_from(TicketFact).where(TicketFact.kind == "rated")
    )
    own = select(func.count()).select_from(Rating).join(Contact, Contact.id == Rating.contact_id)
    assert session().scalar(own.where(Contact.user_id.is_not(None))) == 1
