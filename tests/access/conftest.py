"""Fixtures for account access: an agent and a colleague in the ticket's department, a ticket of
the customer, and helpers that drive the real forms (with their CSRF tokens) like a browser."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest

from example_app.models import Member
from flask_helpdesk.models import AccessGrant, Agent, Ticket
from flask_helpdesk.services import consent, tickets
from flask_helpdesk.services.agents import make_agent
from flask_helpdesk.services.base import session
from flask_helpdesk.services.identity import agent_as_actor, contact_as_actor, sync_contact
from tests.conftest import make_member


@dataclass
class Staff:
    member: Member
    agent: Agent

    @property
    def actor(self):
        return agent_as_actor(self.agent, user=self.member)


def _staff(name: str, departments: list[str], role: str = "agent") -> Staff:
    member = make_member(name)
    return Staff(member, make_agent(member.get_id(), departments, role))


@pytest.fixture
def agent(departments) -> Staff:
    return _staff("Minh Tran", ["account"])


@pytest.fixture
def colleague(departments) -> Staff:
    return _staff("Sara Ahmadi", ["account"])


@pytest.fixture
def ticket(departments, customer) -> Ticket:
    actor = contact_as_actor(sync_contact(customer))
    return tickets.open_ticket(
        actor,
        tickets.NewTicket(
            department_id=departments["account"].id,
            subject="Cannot change my email",
            body="Saving the profile does nothing.",
            phone="+84900000001",
            notify_sms=True,
        ),
    )


def ask(staff: Staff, ticket: Ticket, scope: str = "act", hours: int = 24) -> AccessGrant:
    return consent.request_access(
        staff.actor, ticket, "I need to see your profile page.", scope, timedelta(hours=hours)
    )


def customer_of(ticket: Ticket):
    return contact_as_actor(ticket.requester)


def accepted(staff: Staff, ticket: Ticket, scope: str = "act") -> AccessGrant:
    grant = ask(staff, ticket, scope)
    return consent.accept(customer_of(ticket), grant)


def set_expiry(grant: AccessGrant, delta: timedelta) -> None:
    """Time travel: move the grant's expiry relative to now, through the database."""
    from flask_helpdesk.models import utcnow

    session().execute(
        AccessGrant.__table__.update()
        .where(AccessGrant.id == grant.id)
        .values(expires_at=utcnow() + delta)
    )
    session().commit()


__all__ = ["Staff", "accepted", "ask", "customer_of", "set_expiry"]
