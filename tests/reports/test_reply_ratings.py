"""Rating one reply (seed 004): from the mail's link without logging in (signed, expiring,
bound to the reply), or on the ticket page; changeable until the ticket closes; counted once in
CSAT with the 1–5 stars (4–5 good)."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from example_app import mail
from flask_helpdesk.models import FactKind, ReplyRating, TicketFact
from flask_helpdesk.services import messages, reports, tickets
from flask_helpdesk.services.base import session
from flask_helpdesk.services.reply_ratings import rating_token
from tests.conftest import client_for, csrf_from


@pytest.fixture
def answered(app, policy, clock, lan, agent, open_for):
    clock.set("2026-03-02T09:00+00:00")
    ticket = open_for(lan)
    clock.set("2026-03-02T09:30+00:00")
    with mail.record_messages() as outbox:
        reply = messages.post_message(agent, ticket, "Restart the router, please.")
    return ticket, reply, outbox


def _rate_by_link(client, url: str, verdict: str, comment: str = ""):
    page = client.get(url)
    token = csrf_from(page.get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, "good": verdict, "comment": comment})


def _facts():
    query = select(TicketFact.good).where(TicketFact.kind == FactKind.RATED)
    return list(session().scalars(query))


def test_the_reply_mail_links_rate_without_login_and_can_change(app, answered):
    _ticket, reply, outbox = answered
    [sent] = [m for m in outbox if "Restart the router" in m.body]
    bad_link = re.search(r"No: (\S+)", sent.body).group(1)
    assert "/rate-reply/" in bad_link and bad_link.endswith("v=bad")
    path = re.sub(r"^https?://[^/]+", "", bad_link)
    client = client_for(app, None)  # nobody logged in
    page = client.get(path)
    assert page.status_code == 200 and "Restart the router" in page.get_data(as_text=True)
    assert session().scalar(select(func.count()).select_from(ReplyRating)) == 0  # GET wrote nothing
    done = _rate_by_link(client, path.split("?")[0], "bad", "Did not help")
    assert done.status_code == 200 and "Thank you for your feedback." in done.get_data(as_text=True)
    session().expire_all()
    rating = session().scalar(select(ReplyRating))
    assert (rating.good, rating.comment, rating.message_id) == (False, "Did not help", reply.id)
    assert _facts() == [False]
    _rate_by_link(client, path.split("?")[0], "good")
    session().expire_all()
    assert _facts() == [True]  # changed, still counted once


def test_a_closed_ticket_refuses_a_change(app, answered, lan):
    ticket, reply, _outbox = answered
    tickets.close_ticket(lan, ticket)
    response = _rate_by_link(
        client_for(app, None), f"/support/rate-reply/{rating_token(reply)}", "good"
    )
    assert response.status_code == 422
    assert "can no longer be rated" in response.get_data(as_text=True)
    assert _facts() == []


def test_a_forged_or_expired_link_rates_nothing(app, answered):
    _ticket, reply, _outbox = answered
    token = rating_token(reply)
    client = client_for(app, None)
    assert client.get(f"/support/rate-reply/{token[:-3]}xyz").status_code == 404
    app.extensions["helpdesk"].config["HELPDESK_REPLY_RATING_MAX_AGE"] = timedelta(seconds=-1)
    expired = client.get(f"/support/rate-reply/{token}")
    assert expired.status_code == 410 and "expired" in expired.get_data(as_text=True)


def test_the_customer_rates_on_the_ticket_page(app, answered, customer):
    ticket, reply, _outbox = answered
    client = client_for(app, customer)
    page = client.get(f"/support/tickets/{ticket.code}").get_data(as_text=True)
    assert "Was this reply helpful?" in page
    response = client.post(
        f"/support/tickets/{ticket.code}/replies/{reply.id}/rating",
        data={"csrf_token": csrf_from(page), "good": "good"},
    )
    assert response.status_code == 302
    assert _facts() == [True]
    page = client.get(f"/support/tickets/{ticket.code}").get_data(as_text=True)
    assert "You found this reply helpful." in page


def test_csat_counts_reply_ratings_and_stars_together(app, answered, lan, admin):
    ticket, reply, _outbox = answered
    client = client_for(app, None)
    _rate_by_link(client, f"/support/rate-reply/{rating_token(reply)}", "good")
    tickets.close_ticket(lan, ticket)
    tickets.rate_ticket(lan, ticket, 3)  # 1–3 stars: not good
    figures = reports.compare(admin, reports.Period(date(2026, 3, 2), date(2026, 3, 2)))
    current = figures[("current", None)]
    assert (current.good, current.rated, current.csat) == (1, 2, 50.0)
