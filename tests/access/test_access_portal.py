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


def test_ticket_page_queries_do_not_grow_with_the_log(app, agent, ticket, customer):
    from flask_helpdesk.services import consent
    from tests.views.test_portal_queries import TICKET_BUDGET, ticket_queries

    grant = accepted(agent, ticket)

    def log(n: int, start: int) -> None:
        for i in range(start, start + n):
            consent.record_request(grant.id, "GET", f"/page/{i}", 200, None)

    log(3, 0)
    few, _ = ticket_queries(app, customer, None, ticket.code, fresh_reply=False)
    log(60, 3)
    many, page = ticket_queries(app, customer, None, ticket.code, fresh_reply=False)
    assert "Opened /page/62" in page and "Opened /page/0" in page  # every entry, in words
    assert len(few) == len(many), "\n".join(many)
    assert len(many) <= TICKET_BUDGET + 1, "\n".join(many)  # + the log of the ticket's grants


def test_acting_adds_one_query_per_request(app, agent, ticket, customer):
    """The guard reads the grant with its agent, its customer and whether the customer is an
    agent now at once, and the log is one INSERT; a view-only session takes the customer's
    contact from that grant instead of reading (and refreshing) it."""
    from tests.access.test_access_impersonation import start
    from tests.conftest import count_queries
    from tests.views.conftest import isolated_client

    grant = accepted(agent, ticket, scope="view")
    own = isolated_client(app, customer)
    acting = isolated_client(app, agent.member)
    start(acting, ticket, grant)
    for client in (own, acting):
        client.get("/support/")  # warm up: mirrors in step, nothing left to create
    with count_queries(app) as plain:
        assert own.get("/support/").status_code == 200
    with count_queries(app) as guarded:
        assert acting.get("/support/").status_code == 200
    assert len(guarded) - len(plain) == 1, "\n".join(guarded)
