"""Time rules and the auto-close preset: fired by the sweep through SQL, once per ticket and
condition window (also with two sweeps at once), in bounded batches; auto-close mails the
customer, closes once when swept twice, and a customer reply in between cancels it."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from example_app import mail
from flask_helpdesk.models import RuleFiring, TicketStatus
from flask_helpdesk.scheduler import registered_sweeps
from flask_helpdesk.services import messages, rule_admin, rule_sweep, tickets
from flask_helpdesk.services.base import session
from flask_helpdesk.services.calendars import create_calendar
from flask_helpdesk.services.sla_policies import PolicyData, create_policy
from flask_helpdesk.services.sla_sweep import sweep as sla_sweep
from tests.conftest import count_queries, make_test_app
from tests.rules.test_engine import events


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def auto_close(admin):
    return rule_admin.configure_auto_close(admin, 3, working_days=False, active=True)


def answered(lan, agent, open_for, clock, when="2026-03-02T09:00"):
    clock.set(when + "+00:00")
    ticket = open_for(lan)
    messages.post_message(agent, ticket, "Here is how")
    return ticket


def test_the_rules_sweep_is_registered():
    assert "rules" in [s.name for s in registered_sweeps()]


def test_auto_close_after_three_days_with_a_mail(lan, agent, open_for, clock, auto_close):
    ticket = answered(lan, agent, open_for, clock)
    assert rule_sweep.sweep(at("2026-03-05T08:59")).fired == 0  # not yet three days
    with mail.record_messages() as outbox:
        result = rule_sweep.sweep(at("2026-03-05T09:01"))
    assert result.fired == 1
    session().expire_all()
    assert ticket.status == TicketStatus.CLOSED
    [fired] = events(ticket, "rule_fired")
    assert fired["rule_name"] == "Auto-close answered tickets"
    [closing] = [m for m in outbox if "closed" in m.subject]
    assert closing.recipients == ["lan@example.com"]
    assert "automatically" in closing.body and "reply to the ticket" in closing.body


def test_sweeping_twice_closes_once(lan, agent, open_for, clock, auto_close):
    ticket = answered(lan, agent, open_for, clock)
    with mail.record_messages() as outbox:
        assert rule_sweep.sweep(at("2026-03-06T09:00")).fired == 1
        assert rule_sweep.sweep(at("2026-03-06T09:05")).fired == 0
    assert len([m for m in outbox if "closed" in m.subject]) == 1
    assert len(events(ticket, "closed")) == 1


def test_a_customer_reply_in_between_cancels_it(lan, agent, open_for, clock, auto_close):
    ticket = answered(lan, agent, open_for, clock)
    clock.set("2026-03-04T10:00+00:00")
    messages.post_message(lan, ticket, "It still fails")
    assert rule_sweep.sweep(at("2026-03-09T09:00")).fired == 0
    assert ticket.status == TicketStatus.CUSTOMER_REPLIED
    # Support answers again: a new window, counted from that answer.
    clock.set("2026-03-09T10:00+00:00")
    messages.post_message(agent, ticket, "Try this")
    assert rule_sweep.sweep(at("2026-03-12T09:59")).fired == 0
    assert rule_sweep.sweep(at("2026-03-12T10:01")).fired == 1


def test_a_reopened_ticket_answered_again_can_close_again(lan, agent, open_for, clock, auto_close):
    ticket = answered(lan, agent, open_for, clock)
    rule_sweep.sweep(at("2026-03-06T09:00"))
    clock.set("2026-03-07T09:00+00:00")
    messages.post_message(lan, ticket, "Back again")  # reopens
    clock.set("2026-03-07T10:00+00:00")
    messages.post_message(agent, ticket, "Answered")
    assert rule_sweep.sweep(at("2026-03-10T10:01")).fired == 1
    assert len(events(ticket, "closed")) == 2


def test_auto_close_in_working_days(admin, lan, agent, open_for, clock):
    calendar = create_calendar(admin, "Office", "UTC", {day: "08:00-17:00" for day in range(5)})
    create_policy(admin, PolicyData("Standard", calendar_id=calendar.id, is_default=True))
    rule_admin.configure_auto_close(admin, 3, working_days=True, active=True)
    answered(lan, agent, open_for, clock, when="2026-03-06T10:00")  # a Friday
    # Mon, Tue, Wed are the three working days: Wednesday 10:00, not Monday.
    assert rule_sweep.sweep(at("2026-03-09T10:01")).fired == 0
    assert rule_sweep.sweep(at("2026-03-11T09:59")).fired == 0
    assert rule_sweep.sweep(at("2026-03-11T10:01")).fired == 1


def test_time_in_status_and_working_hours(admin, make_rule, lan, agent, open_for, clock):
    calendar = create_calendar(admin, "Office", "UTC", {day: "08:00-17:00" for day in range(5)})
    create_policy(admin, PolicyData("Standard", calendar_id=calendar.id, is_default=True))
    make_rule(
        "time_since_customer",
        {"field": "assignee", "op": "is_not_set"},
        [{"type": "set_priority", "value": "high"}],
        after=4,
        unit="working_hours",
    )
    clock.set("2026-03-06T15:00+00:00")  # Friday, two working hours before closing
    ticket = open_for(lan)
    assert rule_sweep.sweep(at("2026-03-09T09:59")).fired == 0  # 2 + 1:59
    assert rule_sweep.sweep(at("2026-03-09T10:00")).fired == 1
    session().expire_all()
    assert ticket.priority.slug == "high"


def test_only_matching_tickets_are_read_in_bounded_batches(
    app, admin, make_rule, lan, agent, open_for, clock
):
    make_rule(
        "time_in_status",
        {"field": "subject", "op": "contains", "value": "stuck"},
        [{"type": "add_tags", "value": ["stale"]}],
        after=2,
        unit="days",
    )
    clock.set("2026-03-02T09:00+00:00")
    for n in range(7):
        open_for(lan, subject=f"stuck {n}")
    for n in range(5):
        open_for(lan, subject=f"fine {n}")
    with count_queries(app) as queries:
        result = rule_sweep.sweep(at("2026-03-05T09:00"), batch_size=3)
    assert result.fired == 7 and result.tickets == 7  # the fine ones were never read
    per_ticket = len(queries) / 7
    assert per_ticket < 40, queries  # bounded work per fired ticket, nothing per unmatched one
    with count_queries(app) as queries:
        assert rule_sweep.sweep(at("2026-03-05T10:00"), batch_size=3).tickets == 0
    assert len(queries) <= 6  # one query per rule, no ticket read


def test_two_sweeps_at_once_fire_a_time_rule_once(
    admin, lan, agent, open_for, clock, auto_close, database_url, tmp_path
):
    codes = [answered(lan, agent, open_for, clock).code for _ in range(30)]
    session().commit()
    start = threading.Barrier(2, timeout=60)
    errors: list[BaseException] = []
    counts: list[int] = []
    apps = [make_test_app(database_url, tmp_path) for _ in range(2)]

    def run(other) -> None:
        try:
            with other.app_context():
                try:
                    start.wait()
                    counts.append(rule_sweep.sweep(at("2026-03-06T09:00"), batch_size=4).fired)
                finally:
                    other.extensions["helpdesk"].db.session.remove()
        except BaseException as error:  # surfaced below
            start.abort()
            errors.append(error)

    threads = [threading.Thread(target=run, args=(other,)) for other in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a sweep did not finish"
    assert not errors
    assert sum(counts) == 30
    assert session().scalar(select(func.count()).select_from(RuleFiring)) == 30
    session().expire_all()
    for code in codes:
        ticket = tickets.find_ticket(admin, code)
        assert ticket.status == TicketStatus.CLOSED
        assert len(events(ticket, "closed")) == 1


def test_a_rule_on_sla_breached_runs_in_the_sla_sweep(admin, make_rule, lan, open_for, clock):
    calendar = create_calendar(admin, "Office", "UTC", {day: "08:00-17:00" for day in range(5)})
    create_policy(
        admin,
        PolicyData(
            "Standard", first_response_minutes=120, calendar_id=calendar.id, is_default=True
        ),
    )
    make_rule(
        "sla_breached", {}, [{"type": "set_priority", "value": "urgent"}], name="Late: urgent"
    )
    ticket = open_for(lan)
    sla_sweep(at("2026-03-02T11:01"))
    session().expire_all()
    assert ticket.priority.slug == "urgent"
    assert [e["rule_name"] for e in events(ticket, "rule_fired")] == ["Late: urgent"]
