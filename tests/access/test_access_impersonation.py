"""Acting as the customer through the browser: consent, the banner, stop, scope, expiry,
revocation, refused endpoints and the log the customer reads. Every POST carries its CSRF token
taken from the page, like a browser."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from flask_helpdesk import signals
from flask_helpdesk.models import AccessGrant, AuditEvent, GrantStatus, ImpersonationLog, Message
from flask_helpdesk.services import consent
from flask_helpdesk.services.base import session
from tests.access.conftest import accepted, ask, customer_of, set_expiry
from tests.conftest import client_for, csrf_from, post_form

BANNER = "is acting as"


def desk_page(ticket) -> str:
    return f"/support/desk/tickets/{ticket.code}/access"


def portal_page(ticket) -> str:
    return f"/support/tickets/{ticket.code}"


def start(client, ticket, grant):
    return post_form(client, desk_page(ticket), f"/support/desk/access/{grant.id}/start")


def stop(client):
    return post_form(client, "/support/", "/support/access/stop")


def whoami(client) -> str:
    """The name in the demo site's avatar menu: who the host thinks is logged in."""
    html = client.get("/").get_data(as_text=True)
    return html


def audit(action: str) -> list[AuditEvent]:
    return list(session().scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_the_whole_journey(app, agent, ticket, customer):
    agent_client = client_for(app, agent.member)
    response = post_form(
        agent_client,
        desk_page(ticket),
        data={"reason": "I need to see your profile page.", "scope": "act", "duration_hours": 24},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    grant = session().scalar(select(AccessGrant))
    assert grant.status == GrantStatus.REQUESTED

    # Nothing can start before the customer says yes.
    start(agent_client, ticket, grant)
    assert BANNER not in agent_client.get("/").get_data(as_text=True)

    customer_client = client_for(app, customer)
    listing = customer_client.get("/support/").get_data(as_text=True)
    assert "Support asks for access to your account" in listing
    assert "I need to see your profile page." in listing
    response = post_form(
        customer_client, "/support/", f"/support/access/{grant.id}/accept", follow_redirects=True
    )
    page = response.get_data(as_text=True)
    assert "Revoke now" in page and "Accepted" in page

    response = start(agent_client, ticket, grant)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(portal_page(ticket))
    home = agent_client.get("/").get_data(as_text=True)
    assert "Minh Tran is acting as Lan Nguyen" in home  # the host's own page has the banner
    assert "Stop acting as the customer" in home
    ticket_page = agent_client.get(portal_page(ticket)).get_data(as_text=True)
    assert ticket_page.count(BANNER) == 1  # host layout + helpdesk page: shown once
    assert "Saving the profile does nothing." in ticket_page

    # The customer keeps working, unaware of any switch in their own session.
    own = customer_client.get(portal_page(ticket))
    assert own.status_code == 200 and BANNER not in own.get_data(as_text=True)

    response = stop(agent_client)
    assert response.status_code == 302
    back = agent_client.get(desk_page(ticket))
    assert back.status_code == 200  # an agent again: the desk opens
    assert BANNER not in back.get_data(as_text=True)

    # The customer reads what was done as them.
    page = customer_client.get(portal_page(ticket)).get_data(as_text=True)
    assert "What support did in your account" in page
    # In words, not HTTP lines ("POST /support/access/stop 302").
    assert f"Opened support request {ticket.code}" in page
    assert "Ended the session" in page
    assert "<code>/support/access/stop</code>" not in page
    assert [a.action for a in audit("access.impersonation_started")] == [
        "access.impersonation_started"
    ]
    assert [e.data["reason"] for e in audit("access.impersonation_ended")] == ["stopped"]


def test_every_request_is_logged_without_query_string(app, agent, ticket):
    grant = accepted(agent, ticket)
    client = client_for(app, agent.member)
    start(client, ticket, grant)
    client.get("/support/?q=secret-token-123")
    client.get("/support/tickets/HD-NOPE00")
    rows = list(session().scalars(select(ImpersonationLog).order_by(ImpersonationLog.id)))
    seen = [(r.method, r.path, r.status_code) for r in rows]
    assert ("GET", "/support/", 200) in seen
    assert ("GET", "/support/tickets/HD-NOPE00", 404) in seen
    assert all("secret" not in r.path for r in rows)
    assert all(r.grant_id == grant.id for r in rows)


def test_another_agent_cannot_use_the_grant(app, agent, colleague, ticket):
    grant = accepted(agent, ticket)
    client = client_for(app, colleague.member)
    response = start(client, ticket, grant)
    assert response.status_code == 302
    page = client.get(desk_page(ticket)).get_data(as_text=True)
    assert "Only the agent who asked for this access can use it." in page
    assert BANNER not in page
    assert audit("access.impersonation_started") == []


def test_no_start_after_decline_revoke_or_expiry(app, agent, ticket):
    client = client_for(app, agent.member)
    declined = ask(agent, ticket)
    consent.decline(customer_of(ticket), declined)
    start(client, ticket, declined)
    revoked = accepted(agent, ticket)
    consent.revoke(customer_of(ticket), revoked)
    start(client, ticket, revoked)
    expired = accepted(agent, ticket)
    set_expiry(expired, timedelta(seconds=-1))
    start(client, ticket, expired)
    assert BANNER not in client.get("/").get_data(as_text=True)
    assert audit("access.impersonation_started") == []
    session().refresh(expired)
    assert expired.status == GrantStatus.EXPIRED


def test_grant_only_works_for_its_customer(app, agent, ticket, other_customer):
    grant = accepted(agent, ticket)
    # The ticket changes hands (a merge, a fix by an admin): the grant does not follow.
    from flask_helpdesk.services.identity import sync_contact

    ticket.requester_id = sync_contact(other_customer).id
    session().commit()
    client = client_for(app, agent.member)
    start(client, ticket, grant)
    assert BANNER not in client.get("/").get_data(as_text=True)
    assert audit("access.impersonation_started") == []


def test_cannot_act_as_an_agent_or_admin(app, agent, ticket, customer):
    grant = accepted(agent, ticket)
    customer.is_superuser = True  # the customer became an admin after accepting
    session().commit()
    client = client_for(app, agent.member)
    start(client, ticket, grant)
    page = client.get(desk_page(ticket)).get_data(as_text=True)
    assert "Nobody may act as an admin or an agent." in page
    assert audit("access.impersonation_started") == []


def test_expiry_ends_the_session_on_the_next_request(app, agent, ticket):
    grant = accepted(agent, ticket)
    client = client_for(app, agent.member)
    start(client, ticket, grant)
    assert client.get("/support/").status_code == 200
    set_expiry(grant, timedelta(seconds=-1))
    response = client.get("/support/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith(f"/support/desk/tickets/{ticket.code}")
    page = client.get(desk_page(ticket)).get_data(as_text=True)
    assert "expired" in page and BANNER not in page
    session().refresh(grant)
    assert grant.status == GrantStatus.EXPIRED
    assert [e.data["reason"] for e in audit("access.impersonation_ended")] == ["expired"]


def test_revocation_from_the_customers_device_ends_the_session(app, agent, ticket, customer):
    grant = accepted(agent, ticket)
    agent_client = client_for(app, agent.member)
    start(agent_client, ticket, grant)
    ended: list[str] = []

    def on_end(sender, grant, ticket, actor, reason, **extra):
        ended.append(reason)

    # The agent has the reply form open, with its token, when the customer revokes.
    token = csrf_from(agent_client.get(portal_page(ticket)).get_data(as_text=True))
    signals.impersonation_ended.connect(on_end)
    try:
        customer_client = client_for(app, customer)
        response = post_form(
            customer_client, portal_page(ticket), f"/support/access/{grant.id}/revoke"
        )
        assert response.status_code == 302
        # The agent's very next request, whatever it is, runs as the agent again.
        response = agent_client.post(
            f"/support/tickets/{ticket.code}/reply", data={"body": "x", "csrf_token": token}
        )
        assert response.status_code == 302
    finally:
        signals.impersonation_ended.disconnect(on_end)
    assert ended == ["revoked"]
    assert session().scalar(select(Message).where(Message.body == "x")) is None
    assert BANNER not in agent_client.get(desk_page(ticket)).get_data(as_text=True)


def test_view_only_refuses_unsafe_methods(app, agent, ticket):
    grant = accepted(agent, ticket, scope="view")
    client = client_for(app, agent.member)
    start(client, ticket, grant)
    response = post_form(
        client, portal_page(ticket), f"/support/tickets/{ticket.code}/reply", {"body": "hello"}
    )
    assert response.status_code == 403
    assert "view-only access" in response.get_data(as_text=True)
    for method in ("put", "patch", "delete"):
        assert getattr(client, method)("/support/").status_code in (400, 403)
    assert session().scalar(select(Message).where(Message.body == "hello")) is None
    # Stopping is always allowed.
    assert stop(client).status_code == 302
    assert BANNER not in client.get("/").get_data(as_text=True)


def test_act_scope_can_reply_as_the_customer(app, agent, ticket):
    grant = accepted(agent, ticket, scope="act")
    client = client_for(app, agent.member)
    start(client, ticket, grant)
    response = post_form(
        client, portal_page(ticket), f"/support/tickets/{ticket.code}/reply", {"body": "hello"}
    )
    assert response.status_code == 302
    message = session().scalar(select(Message).where(Message.body == "hello"))
    assert message.author_contact_id == ticket.requester_id
    logged = session().scalar(select(ImpersonationLog).where(ImpersonationLog.method == "POST"))
    assert logged.path == f"/support/tickets/{ticket.code}/reply" and logged.status_code == 302


def test_sensitive_endpoints_are_refused_even_with_act_scope(app, agent, colleague, ticket):
    grant = accepted(agent, ticket, scope="act")
    pending = ask(colleague, ticket)
    client = client_for(app, agent.member)
    start(client, ticket, grant)
    # The host's logout is marked @helpdesk.not_while_impersonating in the demo.
    response = post_form(client, "/support/", "/logout")
    assert response.status_code == 403
    assert "never available to someone acting for the customer" in response.get_data(as_text=True)
    # An agent cannot answer access requests on the customer's behalf...
    response = post_form(client, portal_page(ticket), f"/support/access/{pending.id}/accept")
    assert response.status_code == 403
    response = post_form(client, portal_page(ticket), f"/support/access/{grant.id}/revoke")
    assert response.status_code == 403
    # ...nor rate support (HELPDESK_ACCESS_REFUSED_ENDPOINTS).
    response = post_form(client, portal_page(ticket), f"/support/tickets/{ticket.code}/rate")
    assert response.status_code == 403
    session().refresh(pending)
    assert pending.status == GrantStatus.REQUESTED
    assert BANNER in client.get("/").get_data(as_text=True)  # still acting, nothing broke
    statuses = session().scalars(
        select(ImpersonationLog.status_code).where(ImpersonationLog.method == "POST")
    )
    assert sorted(statuses) == [403, 403, 403, 403]


def test_csrf_on_every_step(app, agent, ticket, customer):
    agent_client = client_for(app, agent.member)
    response = agent_client.post(
        desk_page(ticket), data={"reason": "r", "scope": "act", "duration_hours": 1}
    )
    assert response.status_code == 400
    assert session().scalar(select(AccessGrant)) is None
    grant = ask(agent, ticket)
    customer_client = client_for(app, customer)
    assert customer_client.post(f"/support/access/{grant.id}/accept").status_code == 400
    session().refresh(grant)
    assert grant.status == GrantStatus.REQUESTED
    consent.accept(customer_of(ticket), grant)
    assert agent_client.post(f"/support/desk/access/{grant.id}/start").status_code == 400
    assert BANNER not in agent_client.get("/").get_data(as_text=True)
    start(agent_client, ticket, grant)
    assert agent_client.post("/support/access/stop").status_code == 400
    assert BANNER in agent_client.get("/").get_data(as_text=True)
    assert customer_client.post(f"/support/access/{grant.id}/revoke").status_code == 400
    session().refresh(grant)
    assert grant.status == GrantStatus.ACCEPTED


def test_asking_twice_says_why_on_the_ticket_page(app, agent, ticket):
    """The request form is hidden while a request is open; a second POST (another tab, a double
    click) is refused with its reason on the page the agent lands on, not a bare error."""
    agent_client = client_for(app, agent.member)
    data = {"reason": "I need to see your profile page.", "scope": "view", "duration_hours": 2}
    assert post_form(agent_client, desk_page(ticket), data=data).status_code == 302
    page = desk_page(ticket)
    token = csrf_from(agent_client.get(page).get_data(as_text=True))
    second = agent_client.post(page, data={**data, "csrf_token": token}, follow_redirects=True)
    assert second.status_code == 200
    assert "You already asked for access on this ticket." in second.get_data(as_text=True)
    assert session().scalar(select(func.count()).select_from(AccessGrant)) == 1
