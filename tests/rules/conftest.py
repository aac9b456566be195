"""Rules fixtures: an admin, an agent, a customer, a clock, and a helper to make rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from flask_helpdesk.models import Ticket
from flask_helpdesk.services import rule_admin, tickets
from flask_helpdesk.services.agents import make_agent
from flask_helpdesk.services.identity import Actor, agent_as_actor, contact_as_actor, sync_contact
from tests.conftest import make_member
from tests.sla.conftest import Clock


@pytest.fixture
def admin(app, departments) -> Actor:
    member = make_member("Alex Admin", "admin@example.com", admin=True)
    return agent_as_actor(make_agent(member.get_id(), [], role="admin"))


@pytest.fixture
def agent(app, departments) -> Actor:
    member = make_member("Minh Tran", "minh@example.com")
    return agent_as_actor(make_agent(member.get_id(), ["account"]))


@pytest.fixture
def lan(app, customer) -> Actor:
    return contact_as_actor(sync_contact(customer))


@pytest.fixture
def clock(app, monkeypatch) -> Clock:
    return Clock(monkeypatch, datetime(2026, 3, 2, 9, 0, tzinfo=UTC))


@pytest.fixture
def open_for(departments):
    """Open a ticket in Account as *actor*."""

    def _open(actor: Actor, subject: str = "Cannot log in", body: str = "Help", **data) -> Ticket:
        return tickets.open_ticket(
            actor,
            tickets.NewTicket(
                department_id=departments["account"].id, subject=subject, body=body, **data
            ),
        )

    return _open


@pytest.fixture
def make_rule(admin):
    """Create an active rule: ``make_rule("status_changed", conditions, [actions])``."""

    def _make(trigger, conditions, actions, name=None, **extra):
        return rule_admin.create_rule(
            admin,
            rule_admin.RuleData(
                name=name or f"{trigger} rule",
                trigger=trigger,
                conditions=conditions,
                actions=actions,
                is_active=True,
                **extra,
            ),
        )

    return _make
