"""Reports fixtures: the SLA tests' clock, people and ticket opener, and a working-hours policy
with a 120-minute first-response target."""

from __future__ import annotations

import pytest

from flask_helpdesk.services.calendars import create_calendar
from flask_helpdesk.services.sla_policies import PolicyData, create_policy
from tests.sla.conftest import admin, agent, agent_member, clock, lan, open_for  # noqa: F401

HOURS_8_17 = {day: "08:00-17:00" for day in range(5)}


@pytest.fixture
def policy(admin):  # noqa: F811
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
