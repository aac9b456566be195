"""Distribution fixtures: agents A, B, C in Account (capacity 2), a customer, and a helper that
opens a ticket in a department."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from flask_helpdesk.models import Agent, Ticket
from flask_helpdesk.services import distribution, tickets
from flask_helpdesk.services.agents import make_agent
from flask_helpdesk.services.base import session
from flask_helpdesk.services.identity import (
    SYSTEM,
    Actor,
    agent_as_actor,
    contact_as_actor,
    sync_contact,
)
from tests.api.test_webhooks import receiver  # noqa: F401 (a real HTTP receiver, shared)
from tests.conftest import make_member


@dataclass
class Team:
    a: Agent
    b: Agent
    c: Agent

    def by_id(self, agent_id: int | None) -> str | None:
        names = {self.a.id: "A", self.b.id: "B", self.c.id: "C"}
        return names.get(agent_id) if agent_id is not None else None


@pytest.fixture
def team(app, departments) -> Team:
    """Agents A, B, C (created in that order, so in round-robin order), capacity 2, in Account."""
    made = []
    for name in ("Anh A", "Bao B", "Cyrus C"):
        member = make_member(name)
        made.append(make_agent(member.get_id(), ["account"], capacity=2))
    return Team(*made)


@pytest.fixture
def lan(app, customer) -> Actor:
    return contact_as_actor(sync_contact(customer))


@pytest.fixture
def open_in(departments, lan):
    """Open a ticket as Lan in the department *slug* (Account by default)."""

    def _open(slug: str = "account", subject: str = "Cannot log in") -> Ticket:
        return tickets.open_ticket(
            lan,
            tickets.NewTicket(
                department_id=departments[slug].id, subject=subject, body="Please help."
            ),
        )

    return _open


@pytest.fixture
def round_robin(departments):
    return distribution.set_mode(SYSTEM, departments["account"], "round_robin")


def assignee_names(team: Team, rows: list[Ticket]) -> list[str | None]:
    for row in rows:
        session().refresh(row)
    return [team.by_id(row.assignee_id) for row in rows]


@pytest.fixture
def distribute_rule(app) -> None:
    """An active rule handing every new ticket out by distribution (round robin where the
    department does not distribute)."""
    make_distribute_rule("ticket_created")


def make_distribute_rule(trigger: str) -> None:
    """An active rule on *trigger* whose one action is "distribute"."""
    from flask_helpdesk.services import rule_admin
    from flask_helpdesk.services.agents import make_agent
    from tests.conftest import make_member

    member = make_member("Alex Admin", "admin@example.com", admin=True)
    admin = agent_as_actor(make_agent(member.get_id(), [], role="admin"), host_admin=True)
    rule_admin.create_rule(
        admin,
        rule_admin.RuleData(
            name="Hand out Account",
            trigger=trigger,
            conditions={},
            actions=[{"type": "assign", "value": "distribute"}],
            is_active=True,
        ),
    )
