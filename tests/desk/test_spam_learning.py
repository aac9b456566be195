"""Spam learning (services/spam.py): agents' marks train the filter in the same transaction,
undo exactly, train a ticket once; new tickets are quarantined in the Spam view, or only
flagged while the filter is still learning; upstream mail-server verdicts count."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from flask_helpdesk.models import Message, SpamToken, SpamTraining, Ticket
from flask_helpdesk.models import TicketStatus as S
from flask_helpdesk.services import bulk, spam, tickets
from flask_helpdesk.services.base import session
from flask_helpdesk.state import current_helpdesk
from tests.conftest import client_for, post_form
from tests.desk.conftest import DESK, open_as
from tests.test_spamfilter import HAM
from tests.test_spamfilter import SPAM as SPAMMY


def counts() -> tuple[dict[str, tuple[int, int]], tuple[int, int]]:
    session().expire_all()
    rows = session().execute(select(SpamToken.token, SpamToken.spam_count, SpamToken.ham_count))
    return {token: (s, h) for token, s, h in rows}, spam.totals()


def first_message(ticket: Ticket) -> Message:
    return (
        session()
        .scalars(select(Message).where(Message.ticket_id == ticket.id).order_by(Message.id))
        .first()
    )


@pytest.fixture
def min_training(app, monkeypatch):
    """The filter quarantines after 2 spam and 2 good tickets (50 each by default)."""
    monkeypatch.setitem(current_helpdesk.config, "HELPDESK_SPAM_MIN_TRAINING", 2)


def train(agent, lan, departments, spam_texts=SPAMMY, ham_texts=HAM) -> None:
    """Agents mark the hand-made set: spam as spam, the rest restored from Spam (good)."""
    for subject, body in spam_texts:
        tickets.change_status(
            agent.actor, open_as(lan, departments["account"], subject, body), S.SPAM
        )
    for subject, body in ham_texts:
        ticket = open_as(lan, departments["account"], subject, body)
        ticket.status = S.SPAM  # as if the filter had put it there
        session().commit()
        tickets.change_status(agent.actor, ticket, S.OPEN)


def test_marking_spam_trains_and_undoing_the_mark_restores_the_counts_exactly(
    app, departments, agent, lan
):
    train(agent, lan, departments, SPAMMY[:2], HAM[:2])
    before = counts()
    ticket = open_as(lan, departments["account"], "Win big", "Click here, free casino bonus")
    assert counts() == before  # opening trains nothing

    tickets.change_status(agent.actor, ticket, S.SPAM)
    marked = counts()
    assert marked[1] == (before[1][0] + 1, before[1][1])
    assert marked[0]["casino"][0] == before[0].get("casino", (0, 0))[0] + 1
    assert marked[0]["from:example.com"][0] == before[0]["from:example.com"][0] + 1

    tickets.change_status(agent.actor, ticket, S.OPEN)  # the agent undoes the mark
    assert counts() == before
    assert session().get(SpamTraining, ticket.id) is None


def test_a_ticket_marked_spam_twice_trains_once(app, departments, agent, lan):
    ticket = open_as(lan, departments["account"], "Win big", "Click here, free casino bonus")
    tickets.change_status(agent.actor, ticket, S.SPAM)
    once = counts()
    tickets.change_status(agent.actor, ticket, S.OPEN)
    tickets.change_status(agent.actor, ticket, S.SPAM)
    assert counts() == once
    assert once[1] == (1, 0)
    assert once[0]["casino"] == (1, 0)


def test_undo_uses_the_tokens_trained_even_after_the_ticket_changed(app, departments, agent, lan):
    before = counts()
    ticket = open_as(lan, departments["account"], "Win big", "Click here, free casino bonus")
    tickets.change_status(agent.actor, ticket, S.SPAM)
    ticket.subject = "Edited subject"
    session().commit()
    tickets.change_status(agent.actor, ticket, S.OPEN)
    assert counts() == before


def test_a_confirmed_good_ticket_marked_spam_then_undone_is_good_again(
    app, departments, agent, lan
):
    ticket = open_as(lan, departments["account"], "Invoice", "My invoice is wrong")
    ticket.status = S.SPAM
    session().commit()
    tickets.change_status(agent.actor, ticket, S.OPEN)  # not spam: trains good
    good = counts()
    assert good[1] == (0, 1)
    tickets.change_status(agent.actor, ticket, S.SPAM)
    assert counts()[1] == (1, 0)
    tickets.change_status(agent.actor, ticket, S.OPEN)
    assert counts() == good


def test_the_bulk_spam_action_trains_too(app, departments, agent, lan):
    ids = [open_as(lan, departments["account"], s, b).id for s, b in SPAMMY[:3]]
    bulk.run(agent.actor, "spam", ids)
    assert counts()[1] == (3, 0)


texts = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=80
).filter(str.strip)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(st.tuples(texts, texts, st.booleans()), min_size=1, max_size=4))
def test_any_marks_undone_in_any_order_leave_the_counts_exactly_as_before(
    app, departments, agent, lan, marks
):
    before = counts()
    marked = []
    for subject, body, restore_first in marks:
        ticket = open_as(lan, departments["account"], subject[:200], body)
        if restore_first:  # some were set aside by the filter and restored first (good)
            ticket.status = S.SPAM
            session().commit()
            tickets.change_status(agent.actor, ticket, S.OPEN)
        tickets.change_status(agent.actor, ticket, S.SPAM)
        marked.append((ticket, restore_first))
    for ticket, restore_first in reversed(marked):
        tickets.change_status(agent.actor, ticket, S.OPEN)  # undo the spam mark
        if restore_first:  # and the good training: back to the filter's own quarantine
            training = session().get(SpamTraining, ticket.id)
            spam._add(training.tokens, training.label, -1)
            session().delete(training)
            session().commit()
    assert counts() == before


def test_spam_is_quarantined_with_the_deciding_words_once_trained_enough(
    app, departments, agent, lan, min_training
):
    train(agent, lan, departments)
    ticket = open_as(
        lan, departments["account"], "Free prize", "Click here to claim your free prize now"
    )
    assert ticket.status == S.SPAM
    verdict = first_message(ticket).data["spam"]
    assert verdict["action"] == "quarantined"
    assert verdict["score"] >= 0.9
    assert {"click", "free", "prize"} <= set(verdict["words"])
    good = open_as(lan, departments["account"], "Login", "I cannot log in to my account")
    assert good.status == S.OPEN
    assert "spam" not in first_message(good).data


def test_vietnamese_and_persian_spam_is_quarantined_and_requests_are_not(
    app, departments, agent, lan, min_training
):
    train(agent, lan, departments)
    account = departments["account"]
    assert (
        open_as(lan, account, "Quà miễn phí", "Giảm giá cực sốc, nhấn vào đây nhận quà").status
        == S.SPAM
    )
    assert (
        open_as(lan, account, "Tài khoản", "Tôi không thể đăng nhập vào tài khoản").status == S.OPEN
    )
    assert open_as(lan, account, "جایزه", "جایزه رایگان، همین حالا کلیک کنید").status == S.SPAM
    assert open_as(lan, account, "ورود", "نمی‌توانم وارد حساب کاربری شوم").status == S.OPEN


def test_below_the_minimum_training_the_filter_only_suggests(app, departments, agent, lan):
    train(agent, lan, departments)  # 5 and 5: below the default 50 and 50
    ticket = open_as(
        lan, departments["account"], "Free prize", "Click here to claim your free prize now"
    )
    assert ticket.status == S.OPEN
    verdict = first_message(ticket).data["spam"]
    assert verdict["action"] == "suggested"
    assert "prize" in verdict["words"]


def test_tickets_agents_open_for_a_customer_are_not_screened(
    app, departments, agent, lan, min_training
):
    train(agent, lan, departments)
    ticket = open_as(
        agent.actor,
        departments["account"],
        "Free prize",
        "Click here to claim your free prize now",
        requester=lan.contact,
    )
    assert ticket.status == S.OPEN


def test_the_filter_can_be_switched_off(app, departments, agent, lan, min_training, monkeypatch):
    train(agent, lan, departments)
    monkeypatch.setitem(current_helpdesk.config, "HELPDESK_SPAM_FILTER", False)
    ticket = open_as(
        lan, departments["account"], "Free prize", "Click here to claim your free prize now"
    )
    assert ticket.status == S.OPEN


@pytest.mark.parametrize(
    ("headers", "verdict"),
    [
        ([("X-Spam-Flag", "YES")], "X-Spam-Flag: YES"),
        ([("X-Spam", "Yes")], "X-Spam: Yes"),
        (
            [("X-Spam-Status", "Yes, score=7.1 required=5.0")],
            "X-Spam-Status: Yes, score=7.1 required=5.0",
        ),
        ([("X-Spam-Status", "No, score=0.3 required=5.0")], None),
        ([("X-Spam-Flag", "NO")], None),
        ([("Subject", "X-Spam-Flag: YES")], None),
        ([], None),
    ],
)
def test_upstream_verdicts(headers, verdict):
    assert spam.upstream_verdict(headers) == verdict


def test_the_ticket_page_shows_why_and_the_spam_view_lists_it(
    app, departments, agent, lan, min_training
):
    train(agent, lan, departments)
    ticket = open_as(
        lan, departments["account"], "Free prize", "Click here to claim your free prize now"
    )
    client = client_for(app, agent.member)
    page = client.get(f"{DESK}/tickets/{ticket.code}").get_data(as_text=True)
    assert 'data-spam="quarantined"' in page
    assert "prize" in page and "The spam filter put this ticket in Spam." in page
    listing = client.get(f"{DESK}/?view=spam").get_data(as_text=True)
    assert ticket.code in listing
    assert ticket.code not in client.get(f"{DESK}/").get_data(as_text=True)


def test_a_customer_whose_web_ticket_is_quarantined_is_told_it_was_sent(
    app, departments, agent, lan, customer, min_training
):
    train(agent, lan, departments)
    client = client_for(app, customer)
    response = post_form(
        client,
        "/support/new",
        data={
            "department_id": departments["account"].id,
            "subject": "Free prize",
            "body": "Click here to claim your free prize now",
            "priority": "2",
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/support/")
    quarantined = session().scalars(select(Ticket).where(Ticket.subject == "Free prize")).one()
    assert quarantined.status == S.SPAM
