"""Two workers distributing at once never exceed a capacity: real parallel transactions on
PostgreSQL (SQLite has one writer at a time, so there is no race to test there)."""

from __future__ import annotations

from sqlalchemy import func, select

from flask_helpdesk.models import Ticket
from flask_helpdesk.services import agents, distribution
from flask_helpdesk.services.base import session
from flask_helpdesk.services.identity import SYSTEM
from tests.parallel import only_postgres, run_at_once

pytestmark = only_postgres


def _run_at_once(database_url, tmp_path, work) -> None:
    """Run ``work(index)`` in two threads at once, each with its own app and connection."""
    run_at_once(database_url, tmp_path, work)


def _loads() -> dict[int, int]:
    session().expire_all()
    rows = session().execute(
        select(Ticket.assignee_id, func.count())
        .where(Ticket.assignee_id.is_not(None))
        .group_by(Ticket.assignee_id)
    )
    return dict(rows.all())


def test_two_workers_in_two_departments_sharing_agents_respect_capacity(
    team, departments, open_in, database_url, tmp_path
):
    account, billing = departments["account"], departments["billing"]
    # A, B and C work in both departments; both distribute. 12 tickets wait, 6 places exist.
    for agent in (team.a, team.b, team.c):
        agents.update_agent(SYSTEM, agent, "agent", [account.id, billing.id], 2, True)
    ids = {
        "account": [open_in("account").id for _ in range(6)],
        "billing": [open_in("billing").id for _ in range(6)],
    }
    for department in (account, billing):
        department.distribution = "least_loaded"  # behind the services: nothing offered yet
    session().commit()
    slugs = ["account", "billing"]

    def work(index: int) -> None:
        # One ticket per transaction, as ticket creations arriving in two web processes do.
        for ticket_id in ids[slugs[index]]:
            ticket = session().get(Ticket, ticket_id)
            distribution.distribute_ticket(ticket)
            session().commit()

    _run_at_once(database_url, tmp_path, work)
    loads = _loads()
    assert sum(loads.values()) == 6
    assert all(count <= 2 for count in loads.values()), loads


def test_two_sweeps_at_once_hand_each_ticket_out_once(
    team, departments, open_in, database_url, tmp_path
):
    rows = [open_in().id for _ in range(10)]
    account_id = departments["account"].id  # read here: the threads have their own sessions
    departments["account"].distribution = "round_robin"
    session().commit()
    assigned: list[int] = []

    def work(index: int) -> None:
        assigned.append(distribution.offer_waiting(account_id))

    _run_at_once(database_url, tmp_path, work)
    assert sum(assigned) == 6
    loads = _loads()
    assert sorted(loads.values()) == [2, 2, 2]
    assert sum(1 for i in rows if session().get(Ticket, i).assignee_id is None) == 4
