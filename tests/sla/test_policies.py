"""SLA policies: conditions validated when saved, first match in admin order, one default,
the seeds' presets, and the CLI."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from flask_helpdesk.models import Channel, Priority, SlaPolicy
from flask_helpdesk.services.base import Forbidden, ValidationError, session
from flask_helpdesk.services.sla_policies import (
    PolicyData,
    create_policy,
    policy_for,
    reorder_policies,
    update_policy,
)
from flask_helpdesk.services.sla_presets import install_preset


class FakeRequester:
    def __init__(self, **attributes):
        self.attributes = attributes


class FakeTicket:
    """What matching reads of a ticket."""

    def __init__(self, department_id=1, priority=Priority.NORMAL, channel=Channel.WEB, **attrs):
        self.department_id = department_id
        self.priority = priority
        self.channel = channel
        self.requester = FakeRequester(**attrs)


def test_first_matching_policy_in_admin_order_wins_and_the_default_catches_the_rest(
    admin, departments
):
    billing = departments["billing"].id
    default = create_policy(
        admin, PolicyData("Everyone", first_response_minutes=480, is_default=True)
    )
    urgent = create_policy(
        admin,
        PolicyData("Urgent", first_response_minutes=30, conditions={"priorities": ["urgent"]}),
    )
    gold = create_policy(
        admin,
        PolicyData(
            "Gold billing",
            first_response_minutes=60,
            conditions={"department_ids": [billing], "customer": {"plan": "gold"}},
        ),
    )
    gold_urgent = FakeTicket(billing, Priority.URGENT, plan="gold")
    assert policy_for(gold_urgent) == urgent
    reorder_policies(admin, [gold.id, urgent.id])
    assert policy_for(gold_urgent) == gold
    assert policy_for(FakeTicket(billing, Priority.URGENT, plan="silver")) == urgent
    assert policy_for(FakeTicket(billing, Priority.LOW)) == default
    # The default is tried last wherever it sits in the order.
    reorder_policies(admin, [default.id, gold.id, urgent.id])
    assert policy_for(gold_urgent) == gold


def test_channel_condition(admin):
    mail = create_policy(
        admin, PolicyData("Mail", first_response_minutes=240, conditions={"channels": ["email"]})
    )
    assert policy_for(FakeTicket(channel=Channel.EMAIL)) == mail
    assert policy_for(FakeTicket(channel=Channel.WEB)) is None


def test_a_new_default_replaces_the_old_one(admin):
    first = create_policy(admin, PolicyData("A", first_response_minutes=60, is_default=True))
    second = create_policy(admin, PolicyData("B", first_response_minutes=60, is_default=True))
    session().expire_all()
    defaults = session().scalars(select(SlaPolicy).where(SlaPolicy.is_default)).all()
    assert defaults == [second] and not first.is_default


@pytest.mark.parametrize(
    "conditions",
    [
        {"priority": ["urgent"]},  # misspelled key: would otherwise match everything
        {"priorities": ["critical"]},
        {"channels": ["pigeon"]},
        {"department_ids": ["x"]},
        {"department_ids": [2**70]},
        {"customer": {"plan": ["gold"]}},
        {"customer": "gold"},
    ],
)
def test_invalid_conditions_are_refused_when_saved(admin, conditions):
    with pytest.raises(ValidationError):
        create_policy(admin, PolicyData("P", first_response_minutes=60, conditions=conditions))
    assert session().scalar(select(SlaPolicy.id)) is None


@pytest.mark.parametrize("minutes", [0, -5, 10**12, "soon"])
def test_targets_must_be_sane(admin, minutes):
    with pytest.raises(ValidationError):
        create_policy(admin, PolicyData("P", first_response_minutes=minutes))


def test_only_admins_manage_policies(admin, agent):
    with pytest.raises(Forbidden):
        create_policy(agent, PolicyData("P", first_response_minutes=60))
    policy = create_policy(admin, PolicyData("P", first_response_minutes=60))
    with pytest.raises(Forbidden):
        update_policy(agent, policy.id, PolicyData("P", first_response_minutes=1))


def test_presets_of_the_seeds(admin):
    seventy_two = install_preset(admin, "72-hours")
    assert (seventy_two.first_response_minutes, seventy_two.calendar) == (72 * 60, None)
    business = install_preset(admin, "business-hour", "Asia/Ho_Chi_Minh")
    assert business.is_default and not seventy_two.is_default
    assert (business.first_response_minutes, business.after_hours_first_response_minutes) == (
        60,
        24 * 60,
    )
    assert business.calendar.timezone == "Asia/Ho_Chi_Minh"
    assert install_preset(admin, "business-hour") == business  # installing twice changes nothing


def test_cli_creates_calendars_holidays_and_policies(app, departments):
    runner = app.test_cli_runner()

    def run(*args: str) -> str:
        result = runner.invoke(args=["helpdesk", *args])
        assert result.exit_code == 0, result.output
        return result.output

    assert "calendar #" in run(
        "calendar", "create", "NY", "--timezone", "America/New_York", "--weekdays", "09:00-17:00"
    )
    calendar_id = run("calendar", "list").split()[0].lstrip("#")
    run("calendar", "holiday", calendar_id, "2026-03-09", "--name", "Closed")
    # Friday 16:00 + 120 working minutes, Monday closed: Tuesday 10:00 New York time.
    due = run("calendar", "due", calendar_id, "120", "--from", "2026-03-06T16:00-05:00")
    assert due.strip() == "2026-03-10T10:00:00-04:00"
    run(
        "sla",
        "create",
        "Urgent",
        "--first-response",
        "30",
        "--calendar",
        calendar_id,
        "--conditions",
        '{"priorities": ["urgent"]}',
    )
    run("sla", "preset", "72-hours")
    listing = run("sla", "list")
    assert listing.index("Urgent") < listing.index("72 hours (default)")
    bad = runner.invoke(args=["helpdesk", "calendar", "create", "X", "--mon", "18:00-08:00"])
    assert bad.exit_code != 0 and "not valid" in bad.output
