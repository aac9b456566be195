"""Distribution in the desk: the department's mode and an agent's working hours on the admin
pages, availability from the desk header, and availability shown where agents are listed."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from flask_helpdesk.models import Agent, AuditEvent, Department, Ticket
from flask_helpdesk.services.agents import make_agent
from flask_helpdesk.services.base import session
from flask_helpdesk.services.calendars import create_calendar
from flask_helpdesk.services.identity import SYSTEM
from tests.conftest import client_for, make_member, post_form
from tests.sla.conftest import Clock

DESK = "/support/desk"
DEPARTMENTS = DESK + "/admin/departments"
AGENTS = DESK + "/admin/agents"


def _admin_client(app):
    member = make_member("Alex Admin", "admin@example.com", admin=True)
    make_agent(member.get_id(), [], role="admin")
    return client_for(app, member)


def _member_of(agent: Agent):
    from example_app.models import Member

    return session().scalar(select(Member).where(Member.email == agent.email))


def _department_form(department: Department, **changes) -> dict:
    return {
        "name": department.name,
        "description": "",
        "email": "",
        "position": "0",
        "distribution": department.distribution.value,
        **changes,
    }


def test_admin_switches_a_department_to_round_robin(app, departments, team, open_in):
    waiting = [open_in(), open_in()]
    account = departments["account"]
    page = f"{DEPARTMENTS}/{account.id}"
    client = _admin_client(app)
    assert 'name="distribution"' in client.get(page).get_data(as_text=True)
    response = post_form(client, page, data=_department_form(account, distribution="round_robin"))
    assert response.status_code == 302
    session().expire_all()
    assert account.distribution == "round_robin"
    audit = session().scalar(select(AuditEvent).where(AuditEvent.action == "department.updated"))
    assert audit.data["distribution"] == ["off", "round_robin"]
    # What waited is handed out once the change is stored.
    assert [session().get(Ticket, t.id).assignee_id for t in waiting] == [team.a.id, team.b.id]
    listing = client.get(DEPARTMENTS).get_data(as_text=True)
    assert "Round robin" in listing


def test_a_forged_mode_is_refused_and_changes_nothing(app, departments):
    account = departments["account"]
    page = f"{DEPARTMENTS}/{account.id}"
    client = _admin_client(app)
    response = post_form(client, page, data=_department_form(account, distribution="random"))
    assert response.status_code == 422
    assert "Unknown distribution mode." in response.get_data(as_text=True)
    session().expire_all()
    assert account.distribution == "off"


def test_a_new_department_may_distribute_from_the_start(app, departments):
    client = _admin_client(app)
    data = {"name": "Sales", "slug": "sales", "position": "3", "distribution": "least_loaded"}
    assert post_form(client, DEPARTMENTS, data=data).status_code == 302
    sales = session().scalar(select(Department).where(Department.slug == "sales"))
    assert sales.distribution == "least_loaded"


def test_admin_sets_an_agents_working_hours(app, departments, team, monkeypatch):
    Clock(monkeypatch, datetime(2026, 3, 7, 12, 0, tzinfo=UTC))  # a Saturday
    office = create_calendar(SYSTEM, "Office", "UTC", {d: "09:00-17:00" for d in range(5)})
    client = _admin_client(app)
    page = f"{AGENTS}/{team.a.id}"
    form = {
        "role": "agent",
        "departments": [str(departments["account"].id)],
        "capacity": "2",
        "is_active": "y",
        "shift_calendar_id": str(office.id),
    }
    assert post_form(client, page, data=form).status_code == 302
    session().expire_all()
    assert team.a.shift_calendar_id == office.id
    assert "Off shift" in client.get(page).get_data(as_text=True)
    row = client.get(AGENTS).get_data(as_text=True).split(f'data-agent="{team.a.id}"')[1]
    assert "Off shift" in row.split("</tr>")[0]
    forged = post_form(client, page, data={**form, "shift_calendar_id": "999999"})
    assert forged.status_code == 422 and "Unknown calendar." in forged.get_data(as_text=True)
    assert post_form(client, page, data={**form, "shift_calendar_id": ""}).status_code == 302
    session().expire_all()
    assert team.a.shift_calendar_id is None


def test_coming_back_from_the_desk_header_takes_the_waiting_ticket(
    app, departments, team, open_in, round_robin
):
    for agent in (team.a, team.b, team.c):
        agent.availability = "away"
    session().commit()
    ticket = open_in()
    assert ticket.assignee_id is None
    client = client_for(app, _member_of(team.c))
    response = post_form(
        client, DESK + "/", DESK + "/me/availability", data={"availability": "available"}
    )
    assert response.status_code in (302, 303)
    session().expire_all()
    assert session().get(Ticket, ticket.id).assignee_id == team.c.id


def test_the_assignee_list_shows_who_is_away(app, departments, team, open_in):
    team.b.availability = "on_break"
    session().commit()
    ticket = open_in()
    client = client_for(app, _member_of(team.a))
    html = client.get(f"{DESK}/tickets/{ticket.code}").get_data(as_text=True)
    assert "Bao B — On break" in html
    assert "Anh A</option>" in html
