"""Who may ask (the roles in the config), and the portal's first page: requests to answer and
access support has right now, with Revoke one click away."""

from __future__ import annotations

from datetime import timedelta

import pytest

from flask_helpdesk.models import GrantStatus
from flask_helpdesk.services import Forbidden
from flask_helpdesk.services.agents import make_agent
from flask_helpdesk.services.base import session
from tests.access.conftest import accepted, ask, set_expiry
from tests.conftest import client_for, post_form


@pytest.fixture
def leads_only(app):
    config = app.extensions["helpdesk"].config
    config["HELPDESK_ACCESS_REQUEST_ROLES"] = ("lead", "admin")
    yield
    config["HELPDESK_ACCESS_REQUEST_ROLES"] = ("agent", "lead", "admin")


def test_only_the_configured_roles_may_ask(app, leads_only, agent, colleague, ticket):
    with pytest.raises(Forbidden) as refused:
        ask(agent, ticket)
    assert "Your role may not ask" in refused.value.message
    page = client_for(app, agent.member).get(f"/support/desk/tickets/{ticket.code}")
    assert "Ask the customer for access" not in page.get_data(as_text=True)
    make_agent(colleague.member.get_id(), ["account"], role="lead")
    session().refresh(colleague.agent)
    assert ask(colleague, ticket).status == GrantStatus.REQUESTED


def test_portal_list_shows_pending_and_current_access(app, agent, colleague, ticket, customer):
    current = accepted(agent, ticket)
    pending = ask(colleague, ticket)
    client = client_for(app, customer)
    page = client.get("/support/").get_data(as_text=True)
    assert "Support has access to your account" in page
    assert "Support asks for access to your account" in page
    assert f"/support/access/{current.id}/revoke" in page
    assert f"/support/access/{pending.id}/accept" in page

    # Revoking from the list ends the access; the list stops showing it.
    response = post_form(client, "/support/", f"/support/access/{current.id}/revoke")
    assert response.status_code == 302
    session().refresh(current)
    assert current.status == GrantStatus.REVOKED
    page = client.get("/support/").get_data(as_text=True)
    assert "Support has access to your account" not in page


def test_portal_list_forgets_expired_access(app, agent, ticket, customer):
    grant = accepted(agent, ticket)
    set_expiry(grant, timedelta(seconds=-1))
    page = client_for(app, customer).get("/support/").get_data(as_text=True)
    assert "Support has access to your account" not in page
