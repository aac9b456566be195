"""Every POST route the helpdesk mounts refuses a request without a valid CSRF token and changes
nothing, even in a host without Flask-WTF's global CSRFProtect. The list of routes is read from
the app's URL map, so a new form route is covered the day it is added."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import func, select

from flask_helpdesk.models import HelpdeskModel, Ticket
from flask_helpdesk.services import (
    api_tokens,
    canned,
    consent,
    intake,
    knowledge,
    messages,
    rule_admin,
    saved_views,
    webhooks,
)
from flask_helpdesk.services.base import session
from flask_helpdesk.services.calendars import add_holiday, create_calendar
from flask_helpdesk.services.departments import create_department
from flask_helpdesk.services.identity import (
    SYSTEM,
    agent_as_actor,
    contact_as_actor,
    sync_agent,
    sync_contact,
)
from flask_helpdesk.services.queues import QueueFilter
from flask_helpdesk.services.reply_ratings import rating_token
from flask_helpdesk.services.sla_policies import PolicyData, create_policy
from flask_helpdesk.services.tickets import NewTicket, open_ticket
from tests.conftest import clean_tables, client_for, csrf_from, make_member, make_test_app

# Authenticated by a shared secret instead of a session: no browser form posts there.
TOKEN_AUTHENTICATED = {"helpdesk_hooks.inbound_mail"}
# The API's answer to paths and methods it does not have (404/405), whatever is sent.
NO_ROUTE = {"helpdesk_api.not_found"}
MAIL = b"From: someone@example.com\r\nTo: help@example.com\r\nSubject: Hi\r\n\r\nHello\r\n"


def snapshot() -> dict:
    session().expire_all()
    counts = {
        table.name: session().scalar(select(func.count()).select_from(table))
        for table in HelpdeskModel.metadata.sorted_tables
        if table.name != "helpdesk_audit_event"  # refusals may be audited; changes may not
    }
    tickets = [
        (t.code, t.status, t.priority, t.department_id, t.assignee_id, t.updated_at)
        for t in session().scalars(select(Ticket).order_by(Ticket.id))
    ]
    return {"counts": counts, "tickets": tickets}


# Refused only while an agent acts as a customer; tests/access checks it there.
ONLY_WHILE_ACTING = {"helpdesk_access.stop"}
FIELDS = {
    **{"body": "x", "subject": "x", "stars": "5", "title": "x", "name": "x"},
    **{"reason": "x", "scope": "view", "duration_hours": "2"},
}


def outcome(client, url: str, token: str | None, fields: dict) -> tuple:
    """What the browser sees: status, where it is sent, the messages flashed for the next page,
    whether the page says the form expired. Redirects are not followed (a GET may write)."""
    data = {**FIELDS, **fields}
    if token:
        data["csrf_token"] = token
    response = client.post(url, data=data)
    with client.session_transaction() as stored:
        flashes = stored.pop("_flashes", [])
    expired = "The form expired. Please try again." in response.get_data(as_text=True)
    return response.status_code, response.headers.get("Location"), tuple(flashes), expired


def token_of(client, page: str) -> str:
    return csrf_from(client.get(page).get_data(as_text=True))


@pytest.fixture
def bare_csrf_app(_schema, database_url, tmp_path):
    app = make_test_app(database_url, tmp_path, WTF_CSRF_CHECK_DEFAULT=False)
    with app.app_context():
        try:
            yield app
        finally:
            clean_tables(app)


def test_every_helpdesk_post_route_needs_a_csrf_token(bare_csrf_app):
    app = bare_csrf_app
    department = create_department(SYSTEM, "Billing", slug="billing")
    customer = make_member("Lan Nguyen", "lan@example.com")
    admin = make_member("Alex Admin", "alex@example.com", admin=True)
    customer_client, admin_client = client_for(app, customer), client_for(app, admin)
    assert admin_client.get("/support/desk/").status_code == 200  # the admin is staff now
    # ... and a customer too: the portal mirrors them (menu entries only read, never sync).
    assert admin_client.get("/support/").status_code == 200
    staff = agent_as_actor(sync_agent(admin, is_admin=True), host_admin=True)

    lan = contact_as_actor(sync_contact(customer))
    ticket, other = (
        open_ticket(lan, NewTicket(department_id=department.id, subject=s, body="Please"))
        for s in ("Help", "Other")
    )
    article = knowledge.create_article(
        staff, knowledge.ArticleData("Refund policy", "Within 30 days.", "en", status="published")
    )
    answer = messages.post_message(staff, ticket, "Try this.")  # a reply the customer may rate
    calendar = create_calendar(staff, "Office", "UTC", {0: "09:00-17:00"})
    add_holiday(staff, calendar.id, date(2099, 1, 1), "New Year")
    ids = {
        "code": ticket.code,
        "message_id": answer.id,
        "token": rating_token(answer),
        # On another ticket, so this one's access page still offers to ask.
        "grant_id": consent.request_access(staff, other, "To look at your settings").id,
        "reply_id": canned.create_reply(staff, canned.CannedReplyData("Hi", "Hello")).id,
        "view_id": saved_views.save_view(staff, "Mine", QueueFilter()).id,
        "inbound_id": intake.receive(MAIL, "pipe", department_id=department.id).inbound.id,
        "agent_id": staff.agent.id,
        "department_id": create_department(SYSTEM, "Spare", slug="spare").id,
        "delivery_id": 1,  # redelivery: past the CSRF check it is a 404, not a 403
        "token_id": api_tokens.create_token(staff, "t")[0].id,
        "endpoint_id": webhooks.create_endpoint(staff, "https://example.com/hook").id,
        "language": "en",
        "slug": article.slug,
        "article_id": article.id,
        "category_id": knowledge.create_category(staff, "spare", {"en": "Spare"}).id,
        "rule_id": rule_admin.create_rule(
            staff, rule_admin.RuleData("R", "ticket_created", {}, [{"type": "close"}])
        ).id,
        "calendar_id": calendar.id,
        "day": "2099-01-01",
        "policy_id": create_policy(staff, PolicyData("All", first_response_minutes=60)).id,
    }
    # Enough for the forms to pass with a valid token, so the token is what makes a difference.
    fields = {
        "department_id": department.id,
        "requester_id": lan.contact.id,
        "helpful": "yes",
        "good": "good",
    }
    before = snapshot()

    routes = [
        (rule.endpoint, re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(ids[m.group(1)]), rule.rule))
        for rule in app.url_map.iter_rules()
        if "POST" in rule.methods
        and rule.endpoint.startswith("helpdesk")
        and rule.endpoint not in TOKEN_AUTHENTICATED | ONLY_WHILE_ACTING | NO_ROUTE
    ]
    assert len(routes) >= 25, routes
    # A visitor who is not logged in: the help center's contact form is theirs alone.
    clients = {"customer": customer_client, "admin": admin_client, "visitor": app.test_client()}
    without = {
        (endpoint, who): {outcome(client, url, token, fields) for token in (None, "forged-token")}
        for endpoint, url in routes
        for who, client in clients.items()
    }
    assert snapshot() == before, "a POST without a valid CSRF token changed something"
    for (endpoint, who), outcomes in without.items():
        assert all(status >= 300 for status, *_ in outcomes), (endpoint, who, outcomes)

    # The token was the reason: with a valid one, whoever may use the route gets further.
    tokens = {
        "customer": token_of(customer_client, "/support/new"),
        "admin": token_of(admin_client, "/support/desk/new"),
        "visitor": token_of(clients["visitor"], "/support/help/contact"),
    }
    for endpoint, url in routes:
        got_further = [
            who
            for who, client in clients.items()
            if outcome(client, url, tokens[who], fields) not in without[(endpoint, who)]
        ]
        assert got_further, f"{endpoint}: a valid token changes nothing, so what refused it?"
