"""Roles are checked again on every request of a session as the customer (DESIGN §5, issue 10
§1): a customer who becomes staff, an agent deactivated meanwhile, and a view-only session that
must write nothing, not even the customer's read markers."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from flask_helpdesk.models import Agent, AuditEvent, Message, Ticket
from flask_helpdesk.services import consent, messages
from flask_helpdesk.services.agents import make_agent, update_agent
from flask_helpdesk.services.base import session
from flask_helpdesk.services.identity import SYSTEM, agent_as_actor
from tests.access.conftest import accepted, customer_of
from tests.access.test_access_impersonation import BANNER, desk_page, portal_page, start
from tests.conftest import client_for, csrf_from, make_member


def ended_reasons() -> list[str]:
    events = session().scalars(
        select(AuditEvent).where(AuditEvent.action == "access.impersonation_ended")
    )
    return [event.data["reason"] for event in events]


def acting_client(app, agent, ticket, scope: str = "act"):
    grant = accepted(agent, ticket, scope)
    client = client_for(app, agent.member)
    assert start(client, ticket, grant).status_code == 302
    assert BANNER in client.get("/support/").get_data(as_text=True)
    return client


def test_customer_made_host_admin_ends_the_session_before_the_desk_opens(
    app, agent, ticket, customer
):
    other = make_member("Someone Else")  # a ticket of another department the agent cannot see
    client = acting_client(app, agent, ticket)
    customer.is_superuser = True  # the host makes Lan an admin while the agent acts as her
    session().commit()

    response = client.get("/support/desk/admin/agents")
    assert response.status_code == 302  # not the agents page with Lan's admin rights
    assert response.headers["Location"].startswith(f"/support/desk/tickets/{ticket.code}")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "now a staff account" in page  # the agent is told why
    assert BANNER not in page
    assert ended_reasons() == ["customer_staff"]
    # The agent is himself again: an agent of Account, no admin.
    assert client.get("/support/desk/admin/agents").status_code == 403
    assert other.display_name not in client.get("/support/desk/").get_data(as_text=True)


def test_customer_made_agent_ends_the_session(app, agent, ticket, customer):
    client = acting_client(app, agent, ticket)
    make_agent(customer.get_id(), ["billing"])  # `flask helpdesk create-agent` meanwhile

    response = client.get("/support/desk/")
    assert response.status_code == 302
    assert ended_reasons() == ["customer_staff"]
    assert BANNER not in client.get(desk_page(ticket)).get_data(as_text=True)


def test_deactivated_agent_stops_acting_on_the_next_request(app, agent, ticket, customer):
    client = acting_client(app, agent, ticket)
    token = csrf_from(client.get(portal_page(ticket)).get_data(as_text=True))
    update_agent(SYSTEM, agent.agent, "agent", [], None, is_active=False)

    response = client.post(
        f"/support/tickets/{ticket.code}/reply", data={"body": "as Lan", "csrf_token": token}
    )
    assert response.status_code == 302
    assert ended_reasons() == ["agent_inactive"]
    bodies = list(session().scalars(select(Message.body)))
    assert "as Lan" not in bodies
    # Logged out: neither the customer's portal nor the desk.
    portal = client.get("/support/")
    assert portal.status_code == 302 and "/login" in portal.headers["Location"]
    assert client.get("/support/desk/").status_code in (302, 403)


def test_view_only_session_leaves_the_new_reply_marker(app, agent, ticket, customer):
    messages.post_message(agent.actor, ticket, "We fixed the profile page.")
    session().expire_all()
    assert session().get(Ticket, ticket.id).unread_for_customer
    client = acting_client(app, agent, ticket, scope="view")

    page = client.get(portal_page(ticket)).get_data(as_text=True)
    assert "We fixed the profile page." in page
    session().expire_all()
    assert session().get(Ticket, ticket.id).unread_for_customer
    # The customer still finds the reply marked new.
    own = client_for(app, customer)
    assert "helpdesk-badge" in own.get("/").get_data(as_text=True)


def test_act_scope_still_marks_read(app, agent, ticket, customer):
    """Only view-only is read-only: acting fully reads as the customer would."""
    messages.post_message(agent.actor, ticket, "We fixed the profile page.")
    client = acting_client(app, agent, ticket, scope="act")
    client.get(portal_page(ticket))
    session().expire_all()
    assert not session().get(Ticket, ticket.id).unread_for_customer


def test_host_admin_agent_who_loses_admin_ends_the_session(app, departments, ticket, customer):
    """An agent whose desk access came from the host's admin flag only."""
    boss = make_member("Boss", admin=True)
    client = client_for(app, boss)
    assert client.get("/support/desk/").status_code == 200  # the sync creates the row
    row = session().scalar(select(Agent).where(Agent.user_id == boss.get_id()))
    actor = agent_as_actor(row, user=boss, host_admin=True)
    grant = consent.request_access(actor, ticket, "Let me look.", "act", timedelta(hours=1))
    consent.accept(customer_of(ticket), grant)
    assert start(client, ticket, grant).status_code == 302
    boss.is_superuser = False
    session().commit()
    assert client.get("/support/").status_code == 302
    assert ended_reasons() == ["agent_inactive"]
