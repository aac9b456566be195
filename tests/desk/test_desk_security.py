"""Security of every desk route, enumerated from the app's URL map (a new route is covered
without anyone adding it here): customers get 403, agents outside the ticket's department 404,
POSTs without a valid CSRF token are refused with nothing changed, and forged department,
assignee and status values are refused by the services with a form error."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.routing import Rule

from flask_helpdesk.models import (
    Attachment,
    AuditEvent,
    HelpdeskModel,
    Message,
    Ticket,
    TicketStatus,
)
from flask_helpdesk.services import canned, departments, messages, queues, saved_views
from flask_helpdesk.services.attachments import Upload
from flask_helpdesk.services.base import session
from flask_helpdesk.services.identity import SYSTEM, agent_as_actor, contact_as_actor, sync_contact
from tests.conftest import clean_tables, client_for, csrf_from, make_member, make_test_app
from tests.desk.conftest import DESK, open_as

# Tables that a mere page view writes (who is looking at which ticket, what they have read):
# not what "nothing changed" is about.
VOLATILE_TABLES = {"helpdesk_ticket_viewer", "helpdesk_ticket_read"}


def desk_rules(app: Flask) -> list[Rule]:
    """Every route under the desk's URL prefix, whatever blueprint registered it."""
    prefix = app.extensions["helpdesk"].config["HELPDESK_DESK_URL_PREFIX"]
    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith(prefix + "/")]
    assert len(rules) > 30, "the URL map lost the desk"
    return sorted(rules, key=lambda r: (r.rule, r.endpoint))


def methods(rule: Rule) -> list[str]:
    return sorted(rule.methods - {"HEAD", "OPTIONS"})


@dataclass
class World:
    """One of each thing a desk URL can point at, in the Account department."""

    values: dict[str, object]

    def url(self, rule: Rule) -> str:
        missing = sorted(set(rule.arguments) - set(self.values))
        assert not missing, f"{rule.rule}: give test_desk_security.World a value for {missing}"
        adapter = _adapter()
        return adapter.build(rule.endpoint, {a: self.values[a] for a in rule.arguments})


def _adapter():
    from flask import current_app

    return current_app.url_map.bind("localhost")


@pytest.fixture
def world(app, departments, agent, admin, lan) -> World:
    ticket = open_as(lan, departments["account"], "Account secret", "private words")
    messages.post_message(
        lan, ticket, "with a file", uploads=[Upload("invoice.pdf", io.BytesIO(b"%PDF-1.4"))]
    )
    attachment = session().scalar(select(Attachment).where(Attachment.ticket_id == ticket.id))
    view = saved_views.save_view(agent.actor, "Mine", queues.QueueFilter.from_args({}))
    reply = canned.create_reply(agent.actor, canned.CannedReplyData("Hello", "Hi {customer}"))
    return World(
        {
            "code": ticket.code,
            "attachment_id": attachment.id,
            "filename": attachment.filename,
            "agent_id": agent.actor.agent.id,
            "department_id": departments["account"].id,
            "view_id": view.id,
            "reply_id": reply.id,
            # Refused before any lookup, so an id that need not exist.
            "grant_id": 1,
            "inbound_id": 1,
            "token_id": 1,
            "endpoint_id": 1,
            "delivery_id": 1,
            "calendar_id": 1,
            "policy_id": 1,
            "rule_id": 1,
            "article_id": 1,
            "category_id": 1,
            "day": "2026-04-03",
        }
    )


def database_state() -> dict[str, list[tuple]]:
    """Every row of every helpdesk table (but page-view bookkeeping): 'nothing changed'."""
    session().expire_all()
    state = {}
    for table in HelpdeskModel.metadata.sorted_tables:
        if table.name in VOLATILE_TABLES:
            continue
        rows = session().execute(select(table)).all()
        state[table.name] = sorted(tuple(map(repr, row)) for row in rows)
    return state


def _token(client) -> str:
    """A valid CSRF token of this client's session (from a page everyone logged in can see)."""
    return csrf_from(client.get("/support/new").get_data(as_text=True))


def test_every_desk_route_refuses_customers_with_403(app, world, customer):
    client = client_for(app, customer)
    token = _token(client)
    before = database_state()
    for rule in desk_rules(app):
        url = world.url(rule)
        for method in methods(rule):
            data = {"csrf_token": token} if method == "POST" else None
            response = client.open(url, method=method, data=data)
            assert response.status_code == 403, (method, rule.rule, response.status_code)
            assert b"Account secret" not in response.data
    assert database_state() == before


def test_every_desk_route_sends_anonymous_visitors_to_login(app, world):
    client = client_for(app, None)
    token = csrf_from(client.get("/login").get_data(as_text=True))  # the host's login form
    before = database_state()
    for rule in desk_rules(app):
        for method in methods(rule):
            data = {"csrf_token": token} if method == "POST" else None
            response = client.open(world.url(rule), method=method, data=data)
            assert response.status_code == 302, (method, rule.rule, response.status_code)
            assert "/login" in response.headers["Location"], rule.rule
    assert database_state() == before


def test_ticket_routes_are_404_for_agents_outside_the_department(app, world, billing_agent):
    client = client_for(app, billing_agent.member)
    token = _token(client)
    ticket_rules = [r for r in desk_rules(app) if "code" in r.arguments]
    assert len(ticket_rules) >= 12
    before = database_state()
    for rule in ticket_rules:
        for method in methods(rule):
            data = {"csrf_token": token} if method == "POST" else None
            response = client.open(world.url(rule), method=method, data=data)
            assert response.status_code == 404, (method, rule.rule, response.status_code)
            assert b"Account secret" not in response.data and b"private words" not in response.data
    assert database_state() == before


def test_admin_routes_are_403_for_agents(app, world, agent):
    client = client_for(app, agent.member)
    token = _token(client)
    # A held mail's accept/discard is also the ticket's agents' (not found for other agents):
    # tests/mail/test_sender_policy.py::test_only_the_tickets_agents_and_admins_may_decide.
    held_mail_decisions = ("/accept", "/discard")
    admin_rules = [
        r
        for r in desk_rules(app)
        if ("/admin/" in r.rule or "/inbound-mail" in r.rule)
        and not r.rule.endswith(held_mail_decisions)
    ]
    assert len(admin_rules) >= 10
    before = database_state()
    for rule in admin_rules:
        for method in methods(rule):
            data = {"csrf_token": token} if method == "POST" else None
            response = client.open(world.url(rule), method=method, data=data)
            assert response.status_code == 403, (method, rule.rule, response.status_code)
    assert database_state() == before


@pytest.mark.parametrize("global_csrf", [True, False], ids=["CSRFProtect", "desk-only"])
def test_every_desk_post_without_a_valid_csrf_token_is_refused(
    _schema, database_url, tmp_path, global_csrf
):
    # With the host's CSRFProtect off, the desk must still refuse on its own.
    app = make_test_app(database_url, tmp_path, WTF_CSRF_CHECK_DEFAULT=global_csrf)
    with app.app_context():
        try:
            account = departments.create_department(SYSTEM, "Account", slug="account")
            departments.create_department(SYSTEM, "Billing", slug="billing")
            member = make_member("Alex Admin", "admin@example.com", admin=True)
            from flask_helpdesk.services.agents import make_agent

            admin = agent_as_actor(make_agent(member.get_id(), ["account"], role="admin"))
            lan = contact_as_actor(sync_contact(make_member("Lan Nguyen", "lan@example.com")))
            # The admin may do everything: a refusal can only be the missing token.
            world = _world_for(admin, lan, account)
            client = client_for(app, member)
            client.get(DESK + "/")  # a session exists; its token is simply not sent
            posts = [r for r in desk_rules(app) if "POST" in r.methods]
            assert len(posts) >= 20
            before = database_state()
            for rule in posts:
                for data in ({}, {"csrf_token": "forged"}):
                    payload = {
                        **data,
                        "body": "x",
                        "status": "closed",
                        "name": "x",
                        "action": "close",
                        "ticket_ids": [world.values["ticket_id"]],
                    }
                    response = client.post(world.url(rule), data=payload)
                    assert response.status_code in (400, 403), (rule.rule, response.status_code)
            assert database_state() == before
        finally:
            clean_tables(app)


def _world_for(admin, lan, account) -> World:
    ticket = open_as(lan, account, "Account secret")
    view = saved_views.save_view(admin, "Mine", queues.QueueFilter.from_args({}))
    reply = canned.create_reply(admin, canned.CannedReplyData("Hello", "Hi"))
    return World(
        {
            "code": ticket.code,
            "ticket_id": ticket.id,
            "attachment_id": 1,
            "filename": "x.pdf",
            "agent_id": admin.agent.id,
            "department_id": account.id,
            "view_id": view.id,
            "reply_id": reply.id,
            "grant_id": 1,
            "inbound_id": 1,
            "token_id": 1,
            "endpoint_id": 1,
            "delivery_id": 1,
            "calendar_id": 1,
            "policy_id": 1,
            "rule_id": 1,
            "article_id": 1,
            "category_id": 1,
            "day": "2026-04-03",
        }
    )


# -- forged values through the workspace forms -------------------------------------------------
def _post(client, code: str, action: str, data: dict):
    page = f"{DESK}/tickets/{code}"
    token = csrf_from(client.get(page).get_data(as_text=True))
    return client.post(f"{page}/{action}", data={"csrf_token": token, **data})


@pytest.mark.parametrize(
    ("action", "data", "error"),
    [
        ("transfer", {"department_id": "999999"}, "Unknown department."),
        ("transfer", {"department_id": "inactive"}, "Unknown department."),
        ("transfer", {"department_id": "1 or 1=1"}, "Unknown department."),
        ("assign", {"assignee_id": "999999"}, "Not an agent of this department."),
        ("assign", {"assignee_id": "billing-agent"}, "Not an agent of this department."),
        ("status", {"status": "deleted"}, "Not a valid status here."),
        ("status", {"status": "customer_replied"}, "Not a valid status here."),
        ("priority", {"priority": "99"}, "Unknown priority."),
    ],
)
def test_forged_values_are_refused_by_the_service_and_change_nothing(
    app, departments, agent, billing_agent, lan, action, data, error
):
    ticket = open_as(lan, departments["account"])
    departments_inactive = departments["other"]
    departments_inactive.is_active = False
    session().commit()
    values = {
        "inactive": str(departments_inactive.id),
        "billing-agent": str(billing_agent.actor.agent.id),
    }
    data = {k: values.get(v, v) for k, v in data.items()}
    client = client_for(app, agent.member)
    client.get(f"{DESK}/tickets/{ticket.code}")
    before = database_state()
    response = _post(client, ticket.code, action, data)
    assert response.status_code == 422, response.status_code
    assert error in response.get_data(as_text=True)
    assert database_state() == before
    fresh = session().get(Ticket, ticket.id)
    assert fresh.status == TicketStatus.OPEN and fresh.assignee_id is None
    assert fresh.department_id == departments["account"].id
    assert (
        not session().scalars(select(AuditEvent).where(AuditEvent.ticket_id == ticket.id)).all()[1:]
    )
    assert (
        not session()
        .scalars(select(Message).where(Message.ticket_id == ticket.id, Message.kind == "event"))
        .all()
    )
