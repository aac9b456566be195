"""The queue's ticket query starts from the tickets, in the queue's order, whatever the data:
the plan is asserted with the database's own EXPLAIN, on a desk of 10,000 tickets (SQLite
started from the departments table there, and sorted every visible ticket for each page)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import event, text, update

from flask_helpdesk.models import Ticket
from flask_helpdesk.models.base import utcnow
from flask_helpdesk.services.queues import QueueFilter, department_counters, queue_page
from tests.desk.conftest import open_as

TICKETS = 10_000


def clone(app, ticket: Ticket, n: int) -> None:
    """*n* copies of *ticket*'s row (new ids and codes), in one statement."""
    columns = [c.name for c in Ticket.__table__.columns if c.name not in ("id", "code")]
    names = ", ".join(columns)
    copied = ", ".join(f"t.{c}" for c in columns)
    session = app.extensions["helpdesk"].db.session
    session.execute(
        text(
            f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :n) "
            f"INSERT INTO helpdesk_ticket (code, {names}) "
            f"SELECT t.code || '-' || n.i, {copied} FROM helpdesk_ticket AS t, n WHERE t.id = :id"
        ),
        {"n": n, "id": ticket.id},
    )
    session.commit()


def ticket_query_plan(app, actor, f: QueueFilter) -> list[str]:
    """The plan of the ticket query the queue page runs, as the database explains it."""
    return run_plan(app, lambda: queue_page(actor, f), "ORDER BY")


def run_plan(app, run: Callable[[], object], part: str) -> list[str]:
    """The plan of the first statement holding *part* that ``run()`` executes, with its
    parameters, as the database explains it."""
    return explain(app, run, part)[1]


def explain(app, run: Callable[[], object], part: str) -> tuple[str, list[str]]:
    """The first statement holding *part* that ``run()`` executes, and its plan with its
    parameters as the database explains it."""
    engine = app.extensions["helpdesk"].engine
    seen: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    statement, parameters = next(s for s in seen if part in s[0])
    with engine.connect() as connection:
        raw = connection.connection.dbapi_connection.cursor()
        if engine.dialect.name == "sqlite":
            raw.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            return statement, [row[-1] for row in raw.fetchall()]
        raw.execute("EXPLAIN " + statement, parameters)
        return statement, [row[0] for row in raw.fetchall()]


@pytest.mark.parametrize(
    "f",
    [
        QueueFilter(),
        QueueFilter(statuses=["open", "customer_replied"]),
        QueueFilter(sort="created"),
    ],
    ids=["queue", "status", "sort=created"],
)
def test_the_queue_walks_the_tickets_in_its_order_without_a_join_that_drives(
    app, departments, agent, lan, f
):
    first = open_as(lan, departments["account"], "First")
    open_as(lan, departments["billing"], "Second")
    clone(app, first, TICKETS)
    session = app.extensions["helpdesk"].db.session
    session.execute(text("ANALYZE"))
    session.commit()

    plan = ticket_query_plan(app, agent.actor, f)

    assert not any("helpdesk_department" in step for step in plan), "\n".join(plan)
    if app.extensions["helpdesk"].engine.dialect.name == "sqlite":
        drives = next(s for s in plan if s.startswith(("SCAN", "SEARCH")))
        order = "ix_helpdesk_ticket_created" if f.sort == "created" else "_updated"
        assert drives.startswith(("SCAN helpdesk_ticket", "SEARCH helpdesk_ticket")), plan
        assert order in drives, "\n".join(plan)
        assert not any("TEMP B-TREE FOR ORDER BY" in step for step in plan), "\n".join(plan)
    # The page still names every ticket's department (from the list the page loads).
    assert len(queue_page(agent.actor, f).items) == 25


@pytest.mark.parametrize("analyzed", [False, True], ids=["no-statistics", "analyzed"])
@pytest.mark.parametrize("as_admin", [False, True], ids=["agent", "admin"])
def test_the_late_counter_reads_the_late_tickets_not_the_queue(
    app, departments, agent, admin, lan, as_admin, analyzed
):
    """The departments' "late" counter (tickets past a due time) is counted from the due
    index: on SQLite, grouped by the department column, it read all 100,000 tickets of
    ``bench/queue_bench.py`` through the department index for every queue page (150 ms)."""
    first = open_as(lan, departments["account"], "First")
    clone(app, first, TICKETS)
    late = open_as(lan, departments["billing"], "Late")
    session = app.extensions["helpdesk"].db.session
    session.execute(
        update(Ticket).where(Ticket.id == late.id).values(sla_due_at=utcnow() - timedelta(hours=1))
    )
    if analyzed:  # many SQLite hosts never run ANALYZE: the plan must hold without it too
        session.execute(text("ANALYZE"))
    session.commit()
    actor = admin.actor if as_admin else agent.actor

    _statement, plan = explain(app, lambda: department_counters(actor), "sla_due_at <=")

    if app.extensions["helpdesk"].engine.dialect.name == "sqlite":
        assert not [s for s in plan if s.split()[:2] == ["SCAN", "helpdesk_ticket"]], plan
        assert [s for s in plan if "ix_helpdesk_ticket_sla_due" in s], plan
    else:
        assert not [s for s in plan if "Seq Scan on helpdesk_ticket " in s], "\n".join(plan)
    counts = department_counters(actor)
    # Minh (Account) does not see Billing's late ticket; the admin does.
    if as_admin:
        assert counts[departments["billing"].id].breached == 1
    else:
        assert departments["billing"].id not in counts
    assert counts[departments["account"].id].breached == 0
    assert counts[departments["account"].id].new == TICKETS + 1
