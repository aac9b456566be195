"""The guard around a session as the customer: forged switch-backs, the banner on pages the host
did not prepare, the desk workspace, the host's never-allowed pages, the expiry sweep, failed
requests, and the customer's own session that goes on untouched."""

from __future__ import annotations

from datetime import timedelta

from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select

from example_app.models import Member, db
from flask_helpdesk import signals
from flask_helpdesk.models import AccessGrant, AuditEvent, GrantStatus, ImpersonationLog, Message
from flask_helpdesk.services import consent
from flask_helpdesk.services.agents import make_agent
from flask_helpdesk.services.base import session
from flask_helpdesk.views.guard import SALT, SESSION_KEY
from tests.access.conftest import accepted, ask, customer_of, set_expiry
from tests.access.test_access_impersonation import BANNER, desk_page, portal_page, start, stop
from tests.conftest import client_for, post_form
from tests.views.conftest import isolated_client


def workspace(ticket) -> str:
    return f"/support/desk/tickets/{ticket.code}"


def actions(name: str) -> list[AuditEvent]:
    return list(session().scalars(select(AuditEvent).where(AuditEvent.action == name)))


def logged_out(client) -> bool:
    """The portal sends an anonymous visitor to the site's login page."""
    response = client.get("/support/")
    return response.status_code == 302 and "/login" in response.headers["Location"]


def plant_switch(client, token: str) -> None:
    with client.session_transaction() as data:
        data[SESSION_KEY] = token


# -- forged switch-back ----------------------------------------------------------------------


def test_garbage_switch_back_logs_out_and_restores_nobody(app, agent, ticket):
    grant = accepted(agent, ticket)
    client = client_for(app, agent.member)
    start(client, ticket, grant)
    plant_switch(client, "not-a-signed-token")
    response = client.get("/support/")
    assert response.status_code == 302
    assert logged_out(client)
    assert len(actions("access.impersonation_refused")) == 1
    assert actions("access.impersonation_ended") == []


def test_switch_back_signed_with_another_key_is_refused(app, agent, colleague, ticket):
    """The agent rewrites the way back to land in a colleague's account: refused."""
    grant = accepted(agent, ticket)
    client = client_for(app, agent.member)
    start(client, ticket, grant)
    forged = URLSafeTimedSerializer("guessed-secret", salt=SALT).dumps(
        {"g": grant.id, "a": colleague.agent.user_id, "c": ticket.requester.user_id}
    )
    plant_switch(client, forged)
    assert client.get("/support/").status_code == 302  # refused, with a notice
    assert logged_out(client)
    assert client.get(desk_page(ticket)).status_code == 302  # nobody, let alone the colleague


def test_switch_back_not_bound_to_the_grant_is_refused(app, agent, colleague, ticket):
    """Even correctly signed, a switch-back naming someone else than the grant's agent fails."""
    from flask_helpdesk.views.guard import Switch, sign_switch

    grant = accepted(agent, ticket)
    client = client_for(app, agent.member)
    start(client, ticket, grant)
    with app.test_request_context():
        token = sign_switch(Switch(grant.id, colleague.agent.user_id, ticket.requester.user_id))
    plant_switch(client, token)
    assert client.get("/support/").status_code == 302
    assert logged_out(client)
    refused = actions("access.impersonation_refused")
    assert [event.data["grant_id"] for event in refused] == [grant.id]


def test_customer_cannot_plant_a_way_into_the_agents_account(app, agent, ticket, customer):
    grant = accepted(agent, ticket)
    client = client_for(app, customer)
    forged = URLSafeTimedSerializer("guessed-secret", salt=SALT).dumps(
        {"g": grant.id, "a": agent.agent.user_id, "c": ticket.requester.user_id}
    )
    plant_switch(client, forged)
    assert client.get("/support/").status_code == 302
    assert logged_out(client)
    assert client.get(desk_page(ticket)).status_code == 302


# -- starting: signals and who may be impersonated ------------------------------------------


def test_start_and_stop_send_signals(app, agent, ticket):
    grant = accepted(agent, ticket)
    seen: list[tuple[str, int, str]] = []

    def started(sender, grant, ticket, actor, **extra):
        seen.append(("started", grant.id, actor.agent.display_name))

    def ended(sender, grant, ticket, actor, reason, **extra):
        seen.append(("ended:" + reason, grant.id, actor.agent.display_name))

    signals.impersonation_started.connect(started)
    signals.impersonation_ended.connect(ended)
    try:
        client = client_for(app, agent.member)
        start(client, ticket, grant)
        stop(client)
    finally:
        signals.impersonation_started.disconnect(started)
        signals.impersonation_ended.disconnect(ended)
    assert seen == [("started", grant.id, "Minh Tran"), ("ended:stopped", grant.id, "Minh Tran")]


def test_cannot_act_as_a_customer_who_became_an_agent(app, agent, ticket, customer):
    grant = accepted(agent, ticket)
    make_agent(customer.get_id(), ["billing"])
    client = client_for(app, agent.member)
    start(client, ticket, grant)
    assert "Nobody may act as an admin or an agent." in client.get(desk_page(ticket)).get_data(
        as_text=True
    )
    assert actions("access.impersonation_started") == []


# -- the desk workspace ----------------------------------------------------------------------


def test_agent_asks_from_the_ticket_workspace(app, agent, colleague, ticket):
    client = client_for(app, agent.member)
    page = client.get(workspace(ticket)).get_data(as_text=True)
    assert "Ask the customer for access" in page
    response = post_form(
        client,
        workspace(ticket),
        desk_page(ticket),
        {"reason": "I need to see your settings.", "scope": "view", "duration_hours": 500},
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"{workspace(ticket)}#access")
    grant = session().scalar(select(AccessGrant))
    assert grant.scope == "view" and grant.duration == timedelta(hours=72)  # capped by config
    consent.accept(customer_of(ticket), grant)
    page = client.get(workspace(ticket)).get_data(as_text=True)
    assert "Start session as customer" in page and "I need to see your settings." in page
    # The colleague sees the grant on the ticket but gets no button to use it.
    other = client_for(app, colleague.member).get(workspace(ticket)).get_data(as_text=True)
    assert "I need to see your settings." in other and "Start session as customer" not in other


# -- the banner everywhere --------------------------------------------------------------------


def test_banner_is_added_to_host_pages_that_do_not_render_it(app, agent, ticket):
    @app.get("/plain")
    def plain():
        return "<!doctype html><html><body class='x'><p>Plain host page</p></body></html>"

    @app.get("/data.json")
    def data():
        return {"ok": True}

    grant = accepted(agent, ticket)
    client = client_for(app, agent.member)
    start(client, ticket, grant)
    page = client.get("/plain").get_data(as_text=True)
    assert page.count(BANNER) == 1
    assert page.index("<body class='x'>") < page.index(BANNER) < page.index("Plain host page")
    assert client.get("/").get_data(as_text=True).count(BANNER) == 1  # layout renders it once
    assert client.get("/data.json").get_json() == {"ok": True}  # JSON left alone
    stop(client)
    assert BANNER not in client.get("/plain").get_data(as_text=True)


# -- what the host marks never allowed -------------------------------------------------------


def test_host_change_password_is_never_allowed_while_acting(app, agent, ticket, customer):
    grant = accepted(agent, ticket, scope="act")
    client = client_for(app, agent.member)
    start(client, ticket, grant)
    response = client.get("/account/password")
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert "Not allowed while acting as the customer" in page and BANNER in page
    response = client.post("/account/password", data={"current": "secret", "new": "owned"})
    assert response.status_code in (400, 403)
    db.session.expire_all()
    assert db.session.get(Member, customer.id).check_password("secret")
    logged = session().scalars(
        select(ImpersonationLog.status_code).where(ImpersonationLog.path == "/account/password")
    )
    assert list(logged) == [403, response.status_code]
    # The customer, on their own, changes it as usual.
    own = client_for(app, customer)
    response = post_form(own, "/account/password", data={"current": "secret", "new": "better"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Member, customer.id).check_password("better")


# -- the customer goes on working; failed requests -------------------------------------------


def test_customer_keeps_working_while_support_acts(app, agent, ticket, customer):
    grant = accepted(agent, ticket, scope="view")
    agent_client = isolated_client(app, agent.member)
    customer_client = isolated_client(app, customer)
    start(agent_client, ticket, grant)
    response = post_form(
        customer_client,
        portal_page(ticket),
        f"/support/tickets/{ticket.code}/reply",
        {"body": "Still here"},
    )
    assert response.status_code == 302  # the view-only grant limits the agent, not the customer
    set_expiry(grant, timedelta(seconds=-1))
    assert agent_client.get("/support/").status_code == 302  # the agent's session ended...
    page = customer_client.get(portal_page(ticket))
    assert page.status_code == 200 and "Still here" in page.get_data(as_text=True)  # ...not hers
    customer_posts = session().scalars(
        select(ImpersonationLog).where(ImpersonationLog.method == "POST")
    )
    assert list(customer_posts) == []  # her own requests are not in the log
    assert session().scalar(select(Message).where(Message.body == "Still here")) is not None


def test_a_failed_request_is_logged_but_its_half_work_not_committed(app, agent, ticket):
    app.config["PROPAGATE_EXCEPTIONS"] = False  # production behaviour: a 500 page

    @app.post("/boom")
    def boom():
        db.session.add(Member(email="half@example.com", display_name="Half", password_hash="x"))
        db.session.flush()
        raise RuntimeError("the host's view fails")

    grant = accepted(agent, ticket, scope="act")
    client = client_for(app, agent.member)
    start(client, ticket, grant)
    response = post_form(client, "/support/", "/boom")
    assert response.status_code == 500
    db.session.remove()
    assert db.session.scalar(select(Member).where(Member.email == "half@example.com")) is None
    logged = session().scalar(select(ImpersonationLog).where(ImpersonationLog.path == "/boom"))
    assert logged.status_code == 500


# -- expiry without anybody using the grant --------------------------------------------------


def test_sweep_turns_due_grants_into_expiry_events(app, agent, colleague, ticket):
    due = accepted(agent, ticket)
    valid = accepted(colleague, ticket)
    set_expiry(due, timedelta(seconds=-1))
    expired: list[int] = []

    def on_expired(sender, grant, **extra):
        expired.append(grant.id)

    signals.access_expired.connect(on_expired)
    try:
        result = app.test_cli_runner().invoke(args=["helpdesk", "access-sweep"])
        again = consent.expire_due_grants()
    finally:
        signals.access_expired.disconnect(on_expired)
    assert result.exit_code == 0 and "1 access grant(s) expired" in result.output
    assert again == 0
    assert expired == [due.id]
    session().expire_all()
    assert session().get(AccessGrant, due.id).status == GrantStatus.EXPIRED
    assert session().get(AccessGrant, valid.id).status == GrantStatus.ACCEPTED
    assert [e.data["grant_id"] for e in actions("access.expired")] == [due.id]


# -- CSRF on the remaining steps --------------------------------------------------------------


def test_decline_and_release_need_the_forms_token(app, agent, ticket, customer):
    pending = ask(agent, ticket)
    assert client_for(app, customer).post(f"/support/access/{pending.id}/decline").status_code == (
        400
    )
    agent_client = client_for(app, agent.member)
    assert agent_client.post(f"/support/desk/access/{pending.id}/release").status_code == 400
    session().refresh(pending)
    assert pending.status == GrantStatus.REQUESTED
