"""Who is an admin is the host's call, in force on the very next request both ways (issue 10
§1): the agent row never stores it, so taking ``is_admin`` away takes the desk away."""

from __future__ import annotations

from sqlalchemy import select

from flask_helpdesk.models import Agent, AgentRole
from flask_helpdesk.services.agents import make_agent
from flask_helpdesk.services.base import session
from tests.conftest import client_for, make_member


def set_host_admin(member, value: bool) -> None:
    member.is_superuser = value
    session().commit()


def test_host_admin_taken_away_closes_the_desk_on_the_next_request(app, departments):
    boss = make_member("Boss", admin=True)
    client = client_for(app, boss)
    assert client.get("/support/desk/admin/agents").status_code == 200
    row = session().scalar(select(Agent).where(Agent.user_id == boss.get_id()))
    assert row.role == AgentRole.AGENT and row.via_host_admin  # nothing stored as admin

    set_host_admin(boss, False)
    assert client.get("/support/desk/admin/agents").status_code == 403
    assert client.get("/support/desk/").status_code == 403
    assert client.get("/support/desk/customers.json?q=lan").status_code == 403

    set_host_admin(boss, True)  # and back: in force at once again
    assert client.get("/support/desk/admin/agents").status_code == 200


def test_the_helpdesks_own_admin_role_outlives_the_host_flag(app, departments):
    """The admin role a helpdesk admin (or the CLI) gave is the helpdesk's decision: it stays."""
    lead = make_member("Lead", admin=True)
    make_agent(lead.get_id(), ["billing"], role="admin")
    set_host_admin(lead, False)
    assert client_for(app, lead).get("/support/desk/admin/agents").status_code == 200


def test_member_made_host_admin_gets_the_desk_at_once(app, departments):
    member = make_member("Newly Promoted")
    client = client_for(app, member)
    assert client.get("/support/desk/").status_code == 403
    set_host_admin(member, True)
    assert client.get("/support/desk/admin/agents").status_code == 200


def test_an_admin_saving_the_row_makes_them_staff_of_the_helpdesk(app, departments):
    """Editing a host admin on the agents page is the helpdesk's own decision: it stays."""
    from flask_helpdesk.services.agents import update_agent
    from flask_helpdesk.services.identity import SYSTEM

    boss = make_member("Boss", admin=True)
    client = client_for(app, boss)
    assert client.get("/support/desk/").status_code == 200
    row = session().scalar(select(Agent).where(Agent.user_id == boss.get_id()))
    update_agent(SYSTEM, row, "agent", [departments["billing"].id], None, is_active=True)
    assert not row.via_host_admin
    set_host_admin(boss, False)
    assert client.get("/support/desk/").status_code == 200
    assert client.get("/support/desk/admin/agents").status_code == 403
