"""The queue's filters: each alone, combined (against a plain-Python reading of the same
tickets), the department fence, and bad input that gets a message instead of an error page."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime

import pytest
from werkzeug.datastructures import MultiDict

from flask_helpdesk.models import Priority, Ticket, TicketStatus
from flask_helpdesk.services import desk, messages, tickets
from flask_helpdesk.services.identity import contact_as_actor, sync_contact
from flask_helpdesk.services.queues import QueueFilter, parse, queue_page
from tests.conftest import client_for, make_member
from tests.desk.conftest import DESK, open_as

S = TicketStatus


def codes(actor, **filters) -> set[str]:
    return {t.code for t in queue_page(actor, QueueFilter(**filters), per_page=200).items}


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


@pytest.fixture
def desk_tickets(app, departments, agent, other_agent, lan, reza):
    """Six tickets in Account and Billing, in every state the filters tell apart."""
    account, billing = departments["account"], departments["billing"]
    minh, sara = agent.actor, other_agent.actor

    a1 = open_as(lan, account, "Cannot log in", "Password refused", Priority.URGENT)
    desk.assign(minh, a1, minh.agent.id)
    messages.post_message(minh, a1, "Try a reset")  # answered, read
    desk.set_tags(minh, a1, ["vip"])

    a2 = open_as(reza, account, "Change my email", "New address please")  # open, unassigned

    a3 = open_as(lan, account, "Two factor", "Lost my phone", Priority.LOW)
    desk.assign(sara, a3, sara.agent.id)
    messages.post_message(sara, a3, "Which phone?")
    messages.post_message(lan, a3, "The old Nokia")  # customer replied: unread for agents

    b1 = open_as(lan, billing, "Refund", "Charged twice", Priority.HIGH)
    desk.assign(sara, b1, sara.agent.id)
    desk.set_tags(sara, b1, ["vip", "refund"])
    tickets.close_ticket(sara, b1)

    b2 = open_as(sara, billing, "Invoice copy", "Customer called", requester=reza.contact)

    a4 = open_as(reza, account, "Cheap pills", "Buy now")
    tickets.change_status(minh, a4, "spam")

    dates = {
        a1: ("2026-01-10", "2026-03-01"),
        a2: ("2026-02-10", "2026-02-11"),
        a3: ("2026-03-10", "2026-04-01"),
        b1: ("2026-04-10", "2026-04-12"),
        b2: ("2026-05-10", "2026-05-10"),
        a4: ("2026-06-10", "2026-06-10"),
    }
    for ticket, (created, updated) in dates.items():
        ticket.created_at, ticket.updated_at = at(created + "T09:00"), at(updated + "T18:00")
    app.extensions["helpdesk"].db.session.commit()
    return {"a1": a1, "a2": a2, "a3": a3, "b1": b1, "b2": b2, "a4": a4}


def test_each_filter_alone(desk_tickets, agent, other_agent, lan, reza, departments):
    t = {name: ticket.code for name, ticket in desk_tickets.items()}
    sara = other_agent.actor  # Account and Billing
    everything = {t["a1"], t["a2"], t["a3"], t["b1"], t["b2"]}  # spam only when asked
    assert codes(sara) == everything
    assert codes(sara, statuses=[S.OPEN]) == {t["a2"], t["b2"]}
    assert codes(sara, statuses=[S.OPEN, S.CUSTOMER_REPLIED, S.CLOSED]) == {
        t["a2"],
        t["b2"],
        t["a3"],
        t["b1"],
    }
    assert codes(sara, statuses=[S.SPAM]) == {t["a4"]}
    assert codes(sara, department_id=departments["billing"].id) == {t["b1"], t["b2"]}
    assert codes(sara, assignee="me") == {t["a3"], t["b1"]}
    assert codes(sara, assignee="unassigned") == {t["a2"], t["b2"]}
    assert codes(sara, assignee=str(agent.actor.agent.id)) == {t["a1"]}
    assert codes(sara, assignee="anyone") == everything
    assert codes(sara, requester_id=reza.contact.id) == {t["a2"], t["b2"]}
    assert codes(sara, creator=f"agent:{sara.agent.id}") == {t["b2"]}
    assert codes(sara, creator=f"contact:{lan.contact.id}") == {t["a1"], t["a3"], t["b1"]}
    assert codes(sara, priority=Priority.URGENT) == {t["a1"]}
    assert codes(sara, tag="vip") == {t["a1"], t["b1"]}
    assert codes(sara, tag="refund") == {t["b1"]}
    assert codes(sara, created_from=date(2026, 3, 1)) == {t["a3"], t["b1"], t["b2"]}
    assert codes(sara, created_to=date(2026, 2, 10)) == {t["a1"], t["a2"]}  # whole last day
    assert codes(sara, updated_from=date(2026, 3, 1), updated_to=date(2026, 4, 1)) == {
        t["a1"],
        t["a3"],
    }
    # Unread: a customer wrote after any agent last looked (b2 was written by an agent).
    assert codes(sara, unread=True) == {t["a2"], t["a3"], t["b1"]}
    assert codes(sara, q="nokia") == {t["a3"]}
    # The account filter: any customer by name, email or phone (digits as typed or not).
    assert codes(sara, account="reza") == {t["a2"], t["b2"]}
    assert codes(sara, account="LAN@EXAMPLE") == {t["a1"], t["a3"], t["b1"]}
    assert codes(sara, account="900 000 001") == {t["a1"], t["a3"], t["b1"]}
    assert codes(sara, account="nobody-here") == set()


def test_filters_combine_like_and(desk_tickets, agent, other_agent, lan, reza, departments):
    """Every combination of a few values per filter gives exactly the tickets a plain reading of
    the rows gives."""
    sara = other_agent.actor
    rows = list(desk_tickets.values())

    def expected(f: QueueFilter) -> set[str]:
        def keep(r: Ticket) -> bool:
            if f.statuses and r.status not in f.statuses:
                return False
            if not f.statuses and r.status == S.SPAM:
                return False
            if f.department_id is not None and r.department_id != f.department_id:
                return False
            if f.assignee == "me" and r.assignee_id != sara.agent.id:
                return False
            if f.assignee == "unassigned" and r.assignee_id is not None:
                return False
            if f.requester_id is not None and r.requester_id != f.requester_id:
                return False
            if f.priority is not None and r.priority != f.priority:
                return False
            if f.tag and f.tag not in {tag.name for tag in r.tags}:
                return False
            if f.unread and not r.unread_for_agents:
                return False
            return not (f.created_from and r.created_at.date() < f.created_from)

        return {r.code for r in rows if keep(r)}

    options = itertools.product(
        [[], [S.OPEN], [S.OPEN, S.CLOSED, S.CUSTOMER_REPLIED]],
        [None, departments["account"].id],
        ["anyone", "me", "unassigned"],
        [None, lan.contact.id],
        [None, Priority.HIGH],
        [None, "vip"],
        [False, True],
        [None, date(2026, 3, 1)],
    )
    checked = 0
    for statuses, department, assignee, requester, priority, tag, unread, since in options:
        f = QueueFilter(
            statuses=statuses,
            department_id=department,
            assignee=assignee,
            requester_id=requester,
            priority=priority,
            tag=tag,
            unread=unread,
            created_from=since,
        )
        assert codes(sara, **vars(f)) == expected(f), f
        checked += 1
    assert checked == 3 * 2 * 3 * 2 * 2 * 2 * 2 * 2


def test_agents_see_only_their_departments_whatever_the_filter(
    desk_tickets, agent, billing_agent, admin, departments, lan
):
    t = {name: ticket.code for name, ticket in desk_tickets.items()}
    bao = billing_agent.actor  # Billing only
    assert codes(bao) == {t["b1"], t["b2"]}
    for filters in [
        {"department_id": departments["account"].id},
        {"requester_id": lan.contact.id},
        {"assignee": str(agent.actor.agent.id)},
        {"q": "log"},
        {"q": t["a1"]},
        {"statuses": [S.SPAM]},
        {"tag": "vip"},
    ]:
        assert not codes(bao, **filters) & {t["a1"], t["a2"], t["a3"], t["a4"]}, filters
    assert codes(admin.actor) == {t["a1"], t["a2"], t["a3"], t["b1"], t["b2"]}
    assert codes(admin.actor, statuses=[S.SPAM]) == {t["a4"]}


def test_url_arguments_round_trip():
    f, problems = parse(
        {
            "status": "open,closed",
            "department": "3",
            "assignee": "me",
            "requester": "7",
            "account": " Lan ",
            "creator": "agent:2",
            "priority": "urgent",
            "tag": " VIP ",
            "created_from": "2026-01-01",
            "updated_to": "2026-02-01",
            "unread": "1",
            "q": " refund ",
            "sort": "priority",
        }
    )
    assert problems == []
    assert f.statuses == [S.OPEN, S.CLOSED] and f.priority == Priority.URGENT and f.tag == "vip"
    assert f.account == "Lan"
    assert parse(MultiDict(f.to_args())) == (f, [])


def test_bad_filter_input_gets_a_message_not_an_error(app, desk_tickets, other_agent):
    client = client_for(app, other_agent.member)
    bad = (
        "status=open&status=bogus&department=abc&assignee=nobody&requester=-4"
        "&creator=robot:1&priority=9&created_from=2026-99-01&updated_from=2026-05-01"
        "&updated_to=2026-01-01&sort=sideways&cursor=not-a-cursor"
    )
    response = client.get(f"{DESK}/?{bad}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for text in [
        "Unknown status “bogus” was ignored.",
        "“abc” is not a valid department; it was ignored.",
        "Unknown assignee “nobody” was ignored.",
        "“-4” is not a valid customer; it was ignored.",
        "Unknown creator “robot:1” was ignored.",
        "Unknown priority “9” was ignored.",
        "“2026-99-01” is not a date (YYYY-MM-DD); created from was ignored.",
        "The “Updated” dates end before they start; they were ignored.",
        "Unknown sort order “sideways”; sorted by last activity.",
        "That page link is out of date; this is the first page.",
    ]:
        assert text in html, text
    # What was valid still applies: only open tickets.
    assert desk_tickets["a2"].code in html and desk_tickets["a1"].code not in html
    html = client.get(f"{DESK}/?q=" + "x" * 300).get_data(as_text=True)
    assert "The search text was cut to 200 characters." in html


@pytest.mark.parametrize(
    "query",
    [
        "department=99999999999999999999999",
        "assignee=999999999999999999",
        "assignee=2147483648&requester=4294967296&creator=agent:9999999999",
        "requester=%00",
        "priority=-1",
        "created_from=0001-01-01&created_to=9999-12-31",
        "q=%27%22%28%29*%3A%26%7C%21",
        "tag=" + "t" * 500,
        "cursor=WyJhZnRlciIsInByaW9yaXR5Iiw5OSwiMjAyNi0wMS0wMVQwMDowMDowMCswMDowMCIsMV0&sort=priority",
        "cursor=WyJhZnRlciIsInVwZGF0ZWQiLCJ4IiwxXQ",
        "status=%E2%9C%93&view=nope&saved=abc",
    ],
)
def test_odd_input_never_breaks_the_page(app, desk_tickets, other_agent, query):
    response = client_for(app, other_agent.member).get(f"{DESK}/?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)[-2000:]


def test_account_filter_finds_a_customer_not_on_the_page(app, departments, other_agent, lan):
    """Seed 001's filter by account: a customer whose tickets are far down the queue (none on
    the page shown) is found by typing part of their name, email or phone, without JavaScript;
    the JSON the suggestions come from lists only customers (contacts), never host users
    without tickets."""
    for n in range(3):
        open_as(lan, departments["account"], f"Lan's question {n}")
    members = [make_member(f"Customer {n}", f"c{n}@example.com") for n in range(4)]
    for member in members:
        open_as(contact_as_actor(sync_contact(member)), departments["account"], "Other")
    client = client_for(app, other_agent.member)
    page = client.get(f"{DESK}/?account=lan%40example")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.count("Lan&#39;s question") == 3 and "Other" not in html
    short = client.get(f"{DESK}/?account=l").get_data(as_text=True)
    assert "at least 2 characters" in short
    found = client.get(f"{DESK}/customers.json?contacts=1&q=example.com").get_json()
    assert {c["email"] for c in found} == {"lan@example.com"} | {m.email for m in members}
    assert all(c["key"].startswith("contact:") for c in found)
    chosen = client.get(f"{DESK}/?requester={lan.contact.id}").get_data(as_text=True)
    assert "hd-chosen-account" in chosen and "Lan Nguyen" in chosen
