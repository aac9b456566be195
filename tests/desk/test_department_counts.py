"""The department counters are counts the database keeps (models/counts.py): after any sequence
of changes, through any door, and after two transactions at once, they equal a recount."""

from __future__ import annotations

import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from flask_helpdesk.models import Ticket, TicketStatus
from flask_helpdesk.services import NotFound, ValidationError, desk, queues
from flask_helpdesk.services.queues import department_counters
from tests.desk.conftest import open_as

SLUGS = ["account", "billing", "other"]
STATUSES = list(TicketStatus)

operations = st.lists(
    st.one_of(
        st.tuples(st.just("open"), st.sampled_from(SLUGS)),
        st.tuples(st.just("assign"), st.integers(0, 9), st.sampled_from([None, 0, 1])),
        st.tuples(st.just("transfer"), st.integers(0, 9), st.sampled_from(SLUGS)),
        st.tuples(st.just("status"), st.integers(0, 9), st.sampled_from(STATUSES)),
        st.tuples(st.just("bulk status"), st.sampled_from(STATUSES)),
        st.tuples(st.just("delete"), st.integers(0, 9)),
    ),
    min_size=1,
    max_size=12,
)


def recount(actor) -> dict[int, queues.DepartmentCounts]:
    return {
        department: counts
        for department, counts in queues._count_tickets_by_department(actor).items()
        if counts != queues.DepartmentCounts()
    }


def kept(actor) -> dict[int, queues.DepartmentCounts]:
    return {
        department: counts
        for department, counts in department_counters(actor).items()
        if counts != queues.DepartmentCounts()
    }


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=operations)
def test_counters_equal_a_recount_after_any_changes(
    app, departments, admin, agent, other_agent, lan, steps
):
    session = app.extensions["helpdesk"].db.session
    agents = [agent.actor.agent.id, other_agent.actor.agent.id]
    session.rollback()  # each example starts from what the last one committed
    for step in steps:
        session.expire_all()
        made = session.query(Ticket).order_by(Ticket.id).all()
        kind = step[0]
        try:
            if kind == "open":
                open_as(lan, departments[step[1]])
            elif kind == "bulk status":  # one UPDATE of every ticket, as an import might
                session.execute(Ticket.__table__.update().values(status=step[1].value))
                session.commit()
            elif not made:
                continue
            elif kind == "assign":
                target = made[step[1] % len(made)]
                desk.assign(admin.actor, target, None if step[2] is None else agents[step[2]])
            elif kind == "transfer":
                desk.transfer(admin.actor, made[step[1] % len(made)], departments[step[2]].id)
            elif kind == "status":  # straight to the row: spam, closed, reopened...
                made[step[1] % len(made)].status = step[2]
                session.commit()
            elif kind == "delete":
                session.delete(made[step[1] % len(made)])
                session.commit()
        except (ValidationError, NotFound):
            session.rollback()  # a refused change changes no count either
        for actor in (admin.actor, agent.actor, other_agent.actor):
            assert kept(actor) == recount(actor), (step, actor)


def test_two_transactions_at_once_keep_the_counts_right(app, departments, admin, agent, lan):
    """Two connections move tickets between the same counts at the same time, in opposite
    directions (PostgreSQL: row locks in key order, no deadlock; SQLite: one waits)."""
    made = [open_as(lan, departments["account"]) for _ in range(6)]
    made += [open_as(lan, departments["billing"]) for _ in range(6)]
    ids = [t.id for t in made]
    engine = app.extensions["helpdesk"].engine
    billing, account = departments["billing"].id, departments["account"].id
    barrier = threading.Barrier(2, timeout=10)
    errors: list[BaseException] = []

    def move(tickets: list[int], department: int, status: str) -> None:
        try:
            with engine.connect() as connection:
                barrier.wait()
                with connection.begin():
                    for ticket_id in tickets:
                        connection.execute(
                            text(
                                "UPDATE helpdesk_ticket SET department_id = :d, status = :s"
                                " WHERE id = :id"
                            ),
                            {"d": department, "s": status, "id": ticket_id},
                        )
        except BaseException as error:
            errors.append(error)

    threads = [
        threading.Thread(target=move, args=(ids[:6], billing, "closed")),
        threading.Thread(target=move, args=(ids[6:], account, "answered")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    if engine.dialect.name == "sqlite" and errors:
        # SQLite has one writer: the second may give up on the lock instead of waiting.
        assert all("locked" in str(e) for e in errors), errors
    else:
        assert errors == []
    app.extensions["helpdesk"].db.session.expire_all()
    assert kept(admin.actor) == recount(admin.actor)
    assert kept(agent.actor) == recount(agent.actor)
    if not errors:
        counts = kept(admin.actor)
        assert (counts[billing].closed, counts[account].open) == (6, 6)


def test_a_queue_page_reads_the_counts_without_counting_tickets(app, departments, agent, lan):
    open_as(lan, departments["account"])
    # The commit above expired the agent; a request loads its agent before any page reads
    # counts, so reload it here rather than count its refresh as the counters' statement.
    app.extensions["helpdesk"].db.session.refresh(agent.actor.agent)
    engine = app.extensions["helpdesk"].engine
    seen: list[str] = []
    from sqlalchemy import event

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        counts = department_counters(agent.actor)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert counts[departments["account"].id].new == 1
    assert len(seen) == 1
    # The only read of tickets is the late ones, by the due-time index's range.
    assert "helpdesk_ticket_count" in seen[0] and "sla_due_at <=" in seen[0]


@pytest.mark.parametrize("status", [TicketStatus.SPAM, TicketStatus.CLOSED])
def test_a_deleted_ticket_leaves_its_count(app, departments, admin, lan, status):
    session = app.extensions["helpdesk"].db.session
    ticket = open_as(lan, departments["other"])
    ticket.status = status
    session.commit()
    session.delete(ticket)
    session.commit()
    assert kept(admin.actor) == recount(admin.actor) == {}
