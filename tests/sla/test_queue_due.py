"""The queue and due times: the due column colored when close or late, the "due" sort with
keyset pages, the "due in the next hour" / "breached" filters, breached counters per
department."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from example_app.models import db
from flask_helpdesk.services import queues
from flask_helpdesk.services.queues import QueueFilter, parse, queue_page
from flask_helpdesk.services.sla_policies import PolicyData, create_policy
from tests.conftest import client_for


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def due_tickets(admin, lan, clock, open_for):
    """Four Account tickets, first responses due 10:00, 10:30, 11:00, 11:30 (round the clock,
    60 minutes after opening); the clock then reads 10:15."""
    create_policy(admin, PolicyData("Hour", first_response_minutes=60, is_default=True))
    opened = []
    for minute in ("09:00", "09:30", "10:00", "10:30"):
        clock.set(f"2026-03-02T{minute}+00:00")
        opened.append(open_for(lan))
    clock.set("2026-03-02T10:15+00:00")
    return opened


def _codes(actor, **filters) -> list[str]:
    return [t.code for t in queue_page(actor, QueueFilter(**filters), per_page=50).items]


def test_sort_by_due_time_soonest_first_across_keyset_pages(agent, due_tickets):
    expected = [t.code for t in due_tickets]
    assert _codes(agent, sort="due") == expected
    first = queue_page(agent, QueueFilter(sort="due"), per_page=3)
    assert [t.code for t in first.items] == expected[:3]
    second = queue_page(agent, QueueFilter(sort="due"), first.next_cursor, per_page=3)
    assert [t.code for t in second.items] == expected[3:]
    back = queue_page(agent, QueueFilter(sort="due"), second.prev_cursor, per_page=3)
    assert [t.code for t in back.items] == expected[:3]


def test_tickets_without_a_running_clock_are_left_out_of_the_due_sort(
    agent, due_tickets, lan, open_for, admin
):
    from flask_helpdesk.services import tickets

    tickets.close_ticket(agent, due_tickets[0])
    assert due_tickets[0].code not in _codes(agent, sort="due")
    assert due_tickets[0].code in _codes(agent)  # still in the ordinary queue


def test_due_soon_and_breached_filters(agent, due_tickets):
    codes = [t.code for t in due_tickets]
    assert _codes(agent, due="breached", sort="due") == codes[:1]  # due 10:00
    assert _codes(agent, due="soon", sort="due") == codes[1:3]  # 10:30 and 11:00; not 11:30
    assert parse({"due": "yesterday"})[0].due is None
    assert parse({"due": "soon"})[0].to_args() == [("due", "soon")]


def test_breached_counter_per_department(agent, admin, due_tickets, departments):
    queues._count_by_department(admin)  # no cache in the way
    counts = queues._count_by_department(admin)
    assert counts[departments["account"].id].breached == 1


def test_queue_page_shows_due_times_colored(app, agent, agent_member, due_tickets):
    client = client_for(app, agent_member)
    page = client.get("/support/desk/?sort=due").get_data(as_text=True)
    assert page.count('class="hd-due hd-due-late"') == 1
    assert page.count('class="hd-due hd-due-soon"') == 2  # 10:30 and 11:00
    assert page.count('class="hd-due"') == 1  # 11:30: more than an hour away
    assert "15 minutes ago" in page and "in 15 minutes" in page
    assert page.index(due_tickets[0].code) < page.index(due_tickets[3].code)


def test_due_times_in_the_agents_zone_and_persian_digits(app, agent, agent_member, due_tickets):
    agent_member.time_zone = "Asia/Tehran"
    agent_member.preferred_language = "fa"
    db.session.commit()
    page = client_for(app, agent_member).get("/support/desk/?sort=due").get_data(as_text=True)
    # 10:00 UTC is 13:30 in Tehran (11 Esfand 1404), written in the Jalali calendar.
    assert 'title="۱۱ اسفند ۱۴۰۴، ۱۳:۳۰"' in page
    assert "۱۵ دقیقه" in page  # "15 minutes" ago/from now, in Persian digits
    assert "UTC" not in page.split('class="hd-col-due"', 2)[2].split("</tr>")[0]
