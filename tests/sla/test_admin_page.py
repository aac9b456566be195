"""The desk's SLA overview: admins see the policies in the order they are tried and each
calendar's hours and coming holidays; agents are refused."""

from __future__ import annotations

from datetime import date

from flask_helpdesk.services.calendars import add_holiday, create_calendar
from flask_helpdesk.services.sla_policies import PolicyData, create_policy
from tests.conftest import client_for, make_member


def test_admin_sees_policies_in_order_and_calendars(app, admin, clock):
    office = create_calendar(
        admin, "Berlin office", "Europe/Berlin", {0: "08:00-12:00, 13:00-17:00"}
    )
    add_holiday(admin, office.id, date(2026, 4, 3), "Good Friday")
    create_policy(admin, PolicyData("Everyone", first_response_minutes=480, is_default=True))
    create_policy(
        admin,
        PolicyData(
            "Urgent",
            first_response_minutes=30,
            calendar_id=office.id,
            conditions={"priorities": ["urgent"]},
        ),
    )
    member = make_member("Ada Boss", "ada@example.com", admin=True)
    page = client_for(app, member).get("/support/desk/admin/sla").get_data(as_text=True)
    assert page.index("Urgent") < page.index("Everyone")  # the default is tried last
    assert "08:00-12:00, 13:00-17:00" in page and "Europe/Berlin" in page
    assert "2026-04-03" in page and "Good Friday" in page
    assert "30 min" in page and "Round the clock" in page


def test_agents_are_refused(app, agent, agent_member):
    response = client_for(app, agent_member).get("/support/desk/admin/sla")
    assert response.status_code == 403
