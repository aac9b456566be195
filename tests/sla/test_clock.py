"""Due times on tickets: the SLA clock runs in working hours, pauses while waiting on the
customer, keeps its time on every path, records facts, and moves when a policy changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from flask_helpdesk.models import Priority, TicketStatus
from flask_helpdesk.services import desk, messages, tickets
from flask_helpdesk.services.base import session
from flask_helpdesk.services.calendars import create_calendar, work_calendar
from flask_helpdesk.services.identity import SYSTEM
from flask_helpdesk.services.sla import reading, recompute_open_tickets
from flask_helpdesk.services.sla_policies import PolicyData, create_policy, update_policy
from flask_helpdesk.services.sla_presets import install_preset

HOURS_8_17 = {day: "08:00-17:00" for day in range(5)}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def policy(admin):
    calendar = create_calendar(admin, "Office", "UTC", HOURS_8_17)
    return create_policy(
        admin,
        PolicyData(
            "Standard",
            first_response_minutes=120,
            next_response_minutes=60,
            resolution_minutes=480,
            calendar_id=calendar.id,
            is_default=True,
        ),
    )


def _fresh(ticket):
    session().expire_all()
    return tickets.find_ticket(SYSTEM, ticket.code)


def test_seed_004_friday_16_has_used_two_working_hours_by_monday_9(policy, lan, clock, open_for):
    clock.set("2026-03-06T16:00+00:00")  # a Friday
    ticket = open_for(lan)
    assert ticket.first_response_due_at == at("2026-03-09T09:00")
    assert ticket.sla_due_at == ticket.first_response_due_at
    # The sweep looks first when the 30-minute warning window opens: Monday 08:30.
    assert ticket.sla_check_at == at("2026-03-09T08:30")
    calendar = work_calendar(policy.calendar)
    assert reading(ticket, calendar, at("2026-03-09T09:00")) == 120 * 60


def test_the_clock_pauses_while_answered_and_keeps_its_time_through_close_and_reopen(
    policy, lan, agent, clock, open_for
):
    clock.set("2026-03-02T09:00+00:00")  # Monday
    ticket = open_for(lan)
    assert ticket.resolution_due_at == at("2026-03-02T17:00")

    clock.set("2026-03-02T10:00+00:00")
    messages.post_message(agent, ticket, "Try resetting your password.")
    ticket = _fresh(ticket)
    assert ticket.status == TicketStatus.ANSWERED
    assert ticket.first_response_seconds == 3600 and not ticket.first_response_breached
    assert ticket.sla_due_at is None  # paused: nothing is due while we wait on the customer

    clock.set("2026-03-03T09:00+00:00")  # the customer answers the next morning
    messages.post_message(lan, ticket, "Did not work.")
    ticket = _fresh(ticket)
    assert ticket.next_response_due_at == at("2026-03-03T10:00")
    # One hour used on Monday; seven are left: Tuesday 16:00, not Monday 17:00.
    assert ticket.resolution_due_at == at("2026-03-03T16:00")
    assert ticket.sla_due_at == at("2026-03-03T10:00")

    clock.set("2026-03-03T09:30+00:00")
    messages.post_message(agent, ticket, "Fixed on our side.")
    clock.set("2026-03-03T11:00+00:00")  # paused from 09:30: answered → closed
    tickets.close_ticket(agent, _fresh(ticket))
    ticket = _fresh(ticket)
    assert ticket.resolution_seconds == 90 * 60 and not ticket.resolution_breached
    assert ticket.sla_due_at is None

    clock.set("2026-03-04T08:00+00:00")  # the customer reopens on Wednesday
    messages.post_message(lan, ticket, "It is broken again.")
    ticket = _fresh(ticket)
    assert ticket.reopen_count == 1
    assert ticket.status == TicketStatus.CUSTOMER_REPLIED
    # 90 minutes used: 390 left from Wednesday 08:00.
    assert ticket.resolution_due_at == at("2026-03-04T14:30")
    assert ticket.next_response_due_at == at("2026-03-04T09:00")


def test_a_late_response_is_recorded_as_breached(policy, lan, agent, clock, open_for):
    clock.set("2026-03-02T09:00+00:00")
    ticket = open_for(lan)
    clock.set("2026-03-02T11:30+00:00")
    messages.post_message(agent, ticket, "Sorry for the wait.")
    ticket = _fresh(ticket)
    assert ticket.first_response_breached
    assert ticket.first_response_seconds == 150 * 60


def test_a_customer_writing_twice_is_owed_a_reply_from_their_first_message(
    policy, lan, agent, clock, open_for
):
    ticket = open_for(lan)
    messages.post_message(agent, ticket, "Which browser?")
    clock.set("2026-03-02T12:00+00:00")
    messages.post_message(lan, _fresh(ticket), "Firefox.")
    clock.set("2026-03-02T12:30+00:00")
    messages.post_message(lan, _fresh(ticket), "Version 140.")
    assert _fresh(ticket).next_response_due_at == at("2026-03-02T13:00")


def test_an_internal_note_is_no_response(policy, lan, agent, clock, open_for):
    ticket = open_for(lan)
    messages.post_message(agent, ticket, "Looking into it", internal=True)
    ticket = _fresh(ticket)
    assert ticket.first_response_seconds is None
    assert ticket.first_response_due_at == at("2026-03-02T11:00")


def test_a_changed_policy_moves_open_tickets_and_time_used_stays_used(
    policy, admin, lan, clock, open_for
):
    ticket = open_for(lan)
    clock.set("2026-03-02T10:00+00:00")  # one working hour used
    update_policy(
        admin,
        policy.id,
        PolicyData(
            "Standard",
            first_response_minutes=90,
            resolution_minutes=480,
            calendar_id=policy.calendar_id,
            is_default=True,
        ),
    )
    ticket = _fresh(ticket)
    assert ticket.first_response_due_at == at("2026-03-02T10:30")
    assert ticket.sla_clock_seconds == 3600


def test_priority_and_department_choose_the_policy(policy, admin, agent, lan, clock, open_for):
    create_policy(
        admin,
        PolicyData("Urgent", first_response_minutes=15, conditions={"priorities": ["urgent"]}),
    )
    ticket = open_for(lan)
    assert ticket.first_response_due_at == at("2026-03-02T11:00")
    clock.set("2026-03-02T09:05+00:00")
    desk.set_priority(agent, ticket, Priority.URGENT)
    ticket = _fresh(ticket)
    # Round the clock: 5 minutes used, 10 left.
    assert ticket.first_response_due_at == at("2026-03-02T09:15")


def test_seed_002_one_working_hour_else_24_hours(admin, lan, clock, open_for):
    install_preset(admin, "business-hour", "UTC")
    clock.set("2026-03-02T10:00+00:00")  # Monday, open
    assert open_for(lan).first_response_due_at == at("2026-03-02T11:00")
    clock.set("2026-03-07T10:00+00:00")  # Saturday: 24 plain hours
    assert open_for(lan).first_response_due_at == at("2026-03-08T10:00")


def test_seed_000_72_hours(admin, lan, clock, open_for):
    install_preset(admin, "72-hours")
    clock.set("2026-03-06T16:00+00:00")
    assert open_for(lan).first_response_due_at == at("2026-03-09T16:00")


def test_without_any_policy_nothing_is_due(lan, clock, open_for):
    ticket = open_for(lan)
    assert ticket.sla_policy_id is None and ticket.sla_due_at is None


def test_a_ticket_opened_by_support_has_its_first_response(policy, agent, lan, clock, departments):
    ticket = tickets.open_ticket(
        agent,
        tickets.NewTicket(department_id=departments["account"].id, subject="Hi", body="We saw"),
        requester=lan.contact,
        send_to_user=True,
    )
    assert ticket.first_response_seconds == 0 and ticket.first_response_due_at is None


def test_recomputing_runs_in_batches_with_progress(policy, lan, clock, open_for):
    for _ in range(7):
        open_for(lan)
    seen: list[int] = []
    assert recompute_open_tickets(batch_size=3, progress=seen.append) == 7
    assert seen == [3, 6, 7]


def test_closed_tickets_are_left_alone_by_recompute(policy, lan, agent, clock, open_for):
    ticket = open_for(lan)
    tickets.close_ticket(agent, ticket)
    assert recompute_open_tickets() == 0
    assert _fresh(ticket).sla_due_at is None
    assert ticket.created_at + timedelta(0) == at("2026-03-02T09:00")


def test_cli_recompute_gives_existing_tickets_due_times(policy, lan, clock, open_for, app):
    ticket = open_for(lan)
    ticket.sla_due_at = ticket.first_response_due_at = None  # as after migration 0016
    session().commit()
    result = app.test_cli_runner().invoke(args=["helpdesk", "sla", "recompute"])
    assert result.exit_code == 0 and "recomputed for 1 ticket(s)" in result.output
    assert _fresh(ticket).sla_due_at == at("2026-03-02T11:00")
