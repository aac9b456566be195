"""Two workers distributing at once never exceed a capacity, read each other's turn, leave out an
agent who went on a break meanwhile, and never deadlock, also while agents go on and off their
breaks: real parallel transactions on PostgreSQL (SQLite has one writer at a time, so there is
no race to test there)."""

from __future__ import annotations

import threading
import time

from flask import current_app
from sqlalchemy import func, select, text

from flask_helpdesk.models import Agent, Availability, Message, MessageKind, Ticket
from flask_helpdesk.services import agents, distribution
from flask_helpdesk.services.base import session
from flask_helpdesk.services.identity import SYSTEM, agent_as_actor
from tests.parallel import only_postgres, run_at_once

pytestmark = only_postgres


def _run_at_once(database_url, tmp_path, work, threads: int = 2) -> None:
    """Run ``work(index)`` in *threads* threads at once, each with its own app and connection."""
    run_at_once(database_url, tmp_path, work, threads)


def _loads() -> dict[int, int]:
    session().expire_all()
    rows = session().execute(
        select(Ticket.assignee_id, func.count())
        .where(Ticket.assignee_id.is_not(None))
        .group_by(Ticket.assignee_id)
    )
    return dict(rows.all())


def _until_someone_waits_for_a_lock() -> None:
    """Return once another backend of this database waits for a lock (fail after 10 s). Asked
    on a connection of its own: a transaction sees one snapshot of pg_stat_activity."""
    engine = current_app.extensions["helpdesk"].engine
    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            if connection.scalar(query):
                return
        time.sleep(0.02)
    raise AssertionError("nobody waited for the lock")


def _waiting(team, open_in, count: int) -> list[int]:
    """*count* tickets opened while nobody was available, then A, B and C available again
    behind the services (nothing offered): they wait for the test's workers."""
    for agent in (team.a, team.b, team.c):
        agents.set_availability(agent_as_actor(agent), "away")
    ids = [open_in().id for _ in range(count)]
    for agent in (team.a, team.b, team.c):
        agent.availability = Availability.AVAILABLE
    session().commit()
    return ids


def _waiting_in_two_departments(
    team, departments, open_in, capacity: int, count: int, mode: str
) -> dict[str, list[int]]:
    """A, B and C work in Account and Billing (*capacity* each); *count* tickets wait in each
    department, which both distribute (*mode*: set behind the services, nothing offered)."""
    account, billing = departments["account"], departments["billing"]
    for agent in (team.a, team.b, team.c):
        agents.update_agent(SYSTEM, agent, "agent", [account.id, billing.id], capacity, True)
    ids = {slug: [open_in(slug).id for _ in range(count)] for slug in ("account", "billing")}
    for department in (account, billing):
        department.distribution = mode
    session().commit()
    return ids


def _second_waits_for_the_first(database_url, tmp_path, ticket_ids: list[int]) -> list:
    """Two workers distribute ``ticket_ids[i]`` each, both reading their ticket first; the
    second starts once the first has written its choice and commits after the second waits for
    a lock. The agents they chose (None: nobody) by id."""
    first_holds_its_locks = threading.Event()

    def work(index: int) -> int | None:
        ticket = session().get(Ticket, ticket_ids[index])
        if index == 1:
            first_holds_its_locks.wait(10)
        chosen = distribution.distribute_ticket(ticket)
        if index == 0:
            session().flush()
            first_holds_its_locks.set()
            _until_someone_waits_for_a_lock()
        session().commit()
        return chosen.id if chosen is not None else None

    return run_at_once(database_url, tmp_path, work)


def test_a_distribution_that_waited_reads_the_turn_the_other_wrote(
    team, round_robin, open_in, database_url, tmp_path
):
    ids = _waiting(team, open_in, 2)
    chosen = _second_waits_for_the_first(database_url, tmp_path, ids)  # on the department's row
    assert [team.by_id(agent_id) for agent_id in chosen] == ["A", "B"]
    session().expire_all()
    assert [team.by_id(session().get(Ticket, i).assignee_id) for i in ids] == ["A", "B"]


def test_one_ticket_distributed_by_two_workers_at_once_is_handed_out_once(
    team, round_robin, open_in, database_url, tmp_path
):
    [ticket_id] = _waiting(team, open_in, 1)
    # Both read it unassigned; the second waits on the ticket's row.
    chosen = _second_waits_for_the_first(database_url, tmp_path, [ticket_id, ticket_id])
    assert [team.by_id(agent_id) for agent_id in chosen] == ["A", None]
    session().expire_all()
    assert team.by_id(session().get(Ticket, ticket_id).assignee_id) == "A"
    events = session().scalars(
        select(Message).where(Message.ticket_id == ticket_id, Message.kind == MessageKind.EVENT)
    )
    assert [m.data["event"] for m in events] == ["assigned"]


def test_an_agent_going_on_a_break_while_a_distribution_waits_is_left_out(
    team, round_robin, open_in, database_url, tmp_path
):
    agents.set_availability(agent_as_actor(team.a), "away")
    ticket_id = open_in().id  # B's turn (the first after nobody)
    assert team.by_id(session().get(Ticket, ticket_id).assignee_id) == "B"
    session().get(Ticket, ticket_id).assignee = None  # behind the services: waits again
    session().commit()
    b_id = team.b.id
    break_is_flushed = threading.Event()

    def work(index: int) -> None:
        if index == 0:  # B sets a break: their row is locked until the commit
            agent = session().get(Agent, b_id)
            agent.availability = Availability.ON_BREAK
            session().flush()
            break_is_flushed.set()
            _until_someone_waits_for_a_lock()  # the distribution, on B's row
            session().commit()
        else:
            break_is_flushed.wait(10)
            distribution.distribute_ticket(session().get(Ticket, ticket_id))
            session().commit()

    _run_at_once(database_url, tmp_path, work)
    session().expire_all()
    assert team.by_id(session().get(Ticket, ticket_id).assignee_id) == "C"


def test_distributing_in_two_departments_while_agents_take_breaks_never_deadlocks(
    team, departments, open_in, database_url, tmp_path
):
    ids = _waiting_in_two_departments(team, departments, open_in, 4, 8, "round_robin")
    agent_ids = [team.a.id, team.b.id, team.c.id]
    slugs = ["account", "billing"]

    def work(index: int) -> None:
        if index < 2:  # a worker per department, one ticket per transaction
            for ticket_id in ids[slugs[index]]:
                distribution.distribute_ticket(session().get(Ticket, ticket_id))
                session().commit()
            return
        for round_ in range(6):  # the agents, one after another, on a break and back
            agent = session().get(Agent, agent_ids[round_ % 3])
            agents.set_availability(agent_as_actor(agent), "on_break")
            agents.set_availability(agent_as_actor(agent), "available")

    # A deadlock would fail a thread with DeadlockDetected (PostgreSQL breaks the circle).
    _run_at_once(database_url, tmp_path, work, threads=3)
    loads = _loads()
    assert all(count <= 4 for count in loads.values()), loads
    assert sum(loads.values()) <= 12


def test_two_workers_in_two_departments_sharing_agents_respect_capacity(
    team, departments, open_in, database_url, tmp_path
):
    # 12 tickets wait, 6 places exist.
    ids = _waiting_in_two_departments(team, departments, open_in, 2, 6, "least_loaded")
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
