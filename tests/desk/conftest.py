"""Desk fixtures: agents in departments, an admin, and a quick way to open tickets."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from flask_helpdesk.models import Contact, Priority, Ticket
from flask_helpdesk.services import tickets
from flask_helpdesk.services.agents import make_agent
from flask_helpdesk.services.identity import Actor, agent_as_actor, contact_as_actor, sync_contact
from tests.conftest import make_member

DESK = "/support/desk"


@dataclass
class Staff:
    member: object
    actor: Actor


@pytest.fixture
def agent(app, departments) -> Staff:
    """Minh works in Account."""
    member = make_member("Minh Tran", "minh@example.com")
    return Staff(member, agent_as_actor(make_agent(member.get_id(), ["account"])))


@pytest.fixture
def other_agent(app, departments) -> Staff:
    """Sara works in Account and Billing."""
    member = make_member("Sara Ahmadi", "sara@example.com")
    return Staff(member, agent_as_actor(make_agent(member.get_id(), ["account", "billing"])))


@pytest.fixture
def billing_agent(app, departments) -> Staff:
    """Bao works in Billing only: Account tickets are not his."""
    member = make_member("Bao Le", "bao@example.com")
    return Staff(member, agent_as_actor(make_agent(member.get_id(), ["billing"])))


@pytest.fixture
def admin(app, departments) -> Staff:
    member = make_member("Alex Admin", "admin@example.com", admin=True)
    return Staff(member, agent_as_actor(make_agent(member.get_id(), [], role="admin")))


@pytest.fixture
def lan(app, customer) -> Actor:
    return contact_as_actor(sync_contact(customer))


@pytest.fixture
def reza(app, other_customer) -> Actor:
    return contact_as_actor(sync_contact(other_customer))


def open_as(
    actor: Actor,
    department,
    subject: str = "Help",
    body: str = "Please help",
    priority: Priority = Priority.NORMAL,
    requester: Contact | None = None,
    send_to_user: bool = False,
) -> Ticket:
    return tickets.open_ticket(
        actor,
        tickets.NewTicket(
            department_id=department.id, subject=subject, body=body, priority=priority
        ),
        requester=requester,
        send_to_user=send_to_user,
    )
