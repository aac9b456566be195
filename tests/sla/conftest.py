"""SLA fixtures: an admin and an agent (for permission checks)."""

from __future__ import annotations

import pytest

from flask_helpdesk.services.agents import make_agent
from flask_helpdesk.services.identity import Actor, agent_as_actor
from tests.conftest import make_member


@pytest.fixture
def admin(app, departments) -> Actor:
    member = make_member("Alex Admin", "admin@example.com", admin=True)
    return agent_as_actor(make_agent(member.get_id(), [], role="admin"))


@pytest.fixture
def agent(app, departments) -> Actor:
    member = make_member("Minh Tran", "minh@example.com")
    return agent_as_actor(make_agent(member.get_id(), ["account"]))
