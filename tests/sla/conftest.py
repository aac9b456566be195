"""SLA fixtures: an admin and an agent (for permission checks)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import pytest

from flask_helpdesk.models import Ticket, utcnow
from flask_helpdesk.services import tickets
from flask_helpdesk.services.agents import make_agent
from flask_helpdesk.services.identity import Actor, agent_as_actor, contact_as_actor, sync_contact
from tests.conftest import make_member


@pytest.fixture
def admin(app, departments) -> Actor:
    member = make_member("Alex Admin", "admin@example.com", admin=True)
    return agent_as_actor(make_agent(member.get_id(), [], role="admin"))


@pytest.fixture
def agent_member(app, departments):
    return make_member("Minh Tran", "minh@example.com")


@pytest.fixture
def agent(agent_member) -> Actor:
    return agent_as_actor(make_agent(agent_member.get_id(), ["account"]))


class Clock:
    """The helpdesk's notion of now, moved by the test (every module's ``utcnow``)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, now: datetime) -> None:
        self.now = now
        for module in list(sys.modules.values()):
            name = getattr(module, "__name__", "")
            if name.startswith("flask_helpdesk.") and getattr(module, "utcnow", None) is utcnow:
                monkeypatch.setattr(module, "utcnow", lambda: self.now)

    def set(self, text: str) -> datetime:
        self.now = datetime.fromisoformat(text).astimezone(UTC)
        return self.now


@pytest.fixture
def clock(app, monkeypatch) -> Clock:
    return Clock(monkeypatch, datetime(2026, 3, 2, 9, 0, tzinfo=UTC))


@pytest.fixture
def lan(app, customer) -> Actor:
    return contact_as_actor(sync_contact(customer))


@pytest.fixture
def open_for(departments):
    """Open a ticket in Account as *actor*."""

    def _open(actor: Actor, priority: str = "normal", **data) -> Ticket:
        return tickets.open_ticket(
            actor,
            tickets.NewTicket(
                department_id=departments["account"].id,
                subject="Cannot log in",
                body="Help",
                priority=priority,
                **data,
            ),
        )

    return _open
