"""A small world for throwing untrusted input at every route: a customer with a ticket that has
an attachment and an accepted access grant, an agent of its department with a canned reply and
a saved view, a host admin, and their clients (each request in its own app context)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from flask_helpdesk.models import Attachment, Ticket
from flask_helpdesk.services import canned, consent, saved_views, tickets
from flask_helpdesk.services.agents import make_agent
from flask_helpdesk.services.attachments import Upload
from flask_helpdesk.services.base import session
from flask_helpdesk.services.identity import agent_as_actor, contact_as_actor, sync_contact
from flask_helpdesk.services.queues import QueueFilter
from tests.conftest import make_member
from tests.views.conftest import isolated_client

TOKEN = "hook-secret-for-untrusted-input"


@dataclass
class World:
    ticket: Ticket
    code: str  # kept apart: a route may delete the ticket (the row object then fails to load)
    ids: dict[str, int]  # real ids of each kind, so routes are reached past their lookups
    clients: dict[str, FlaskClient]


@pytest.fixture
def world(app, departments, customer) -> World:
    config = app.extensions["helpdesk"].config
    config["HELPDESK_INBOUND_MAIL_TOKEN"] = TOKEN
    # Forms are checked like any other input; the CSRF token has tests of its own.
    app.config["WTF_CSRF_ENABLED"] = False
    staff = make_member("Minh Tran", "minh@example.com")
    agent = make_agent(staff.get_id(), ["account"])
    admin = make_member("Alex Admin", "alex@example.com", admin=True)
    lan = contact_as_actor(sync_contact(customer))
    ticket = tickets.open_ticket(
        lan,
        tickets.NewTicket(
            department_id=departments["account"].id,
            subject="Cannot change my email",
            body="Saving the profile does nothing.",
            uploads=[Upload("screen.txt", io.BytesIO(b"what I saw"))],
        ),
    )
    actor = agent_as_actor(agent, user=staff)
    grant = consent.request_access(actor, ticket, "To see it.", "view", timedelta(hours=1))
    consent.accept(lan, grant)
    reply = canned.create_reply(actor, canned.CannedReplyData(title="Hi", body="Hello"))
    view = saved_views.save_view(actor, "Mine", QueueFilter())
    ids = {
        "attachment_id": session().scalar(select(Attachment.id)),
        "grant_id": grant.id,
        "reply_id": reply.id,
        "view_id": view.id,
        "agent_id": agent.id,
        "department_id": departments["account"].id,
    }
    clients = {
        "anonymous": isolated_client(app),
        "customer": isolated_client(app, customer),
        "agent": isolated_client(app, staff),
        "admin": isolated_client(app, admin),
    }
    return World(ticket, ticket.code, ids, clients)
