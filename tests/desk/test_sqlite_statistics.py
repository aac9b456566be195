"""The ``statistics`` sweep keeps SQLite's planner statistics, which SQLite never gathers by
itself: without them an agent's queue page was planned from the departments' and assignee's
indexes and sorted every ticket they hold (137 to 157 ms of CPU at 100,000 tickets, 2.7 ms once
analyzed; docs/performance.rst). PostgreSQL analyzes by itself: the sweep leaves it alone."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from flask_helpdesk.scheduler import get_sweep
from flask_helpdesk.services.queues import QueueFilter
from tests.desk.conftest import open_as
from tests.desk.test_queue_plan import clone, ticket_query_plan


def analyzed_tickets(app) -> int | None:
    """The tickets SQLite counted when it last analyzed them (its whole indexes' entries)."""
    session = app.extensions["helpdesk"].db.session
    exists = session.execute(
        text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
    ).scalar()
    if not exists:
        return None
    stats = session.execute(
        text("SELECT stat FROM sqlite_stat1 WHERE tbl = 'helpdesk_ticket'")
    ).scalars()
    return max((int(stat.split()[0]) for stat in stats), default=None)


@pytest.fixture
def statistics_forgotten(app):
    """SQLite's statistics of this test's desk do not outlive it (the suite empties the tables
    between tests, not ``sqlite_stat1``): later tests' plans are their own."""
    yield
    if app.extensions["helpdesk"].engine.dialect.name == "sqlite":
        with app.app_context():
            session = app.extensions["helpdesk"].db.session
            session.rollback()
            if analyzed_tickets(app) is not None:
                session.execute(text("DELETE FROM sqlite_stat1"))
                session.execute(text("ANALYZE sqlite_schema"))
                session.commit()


def test_the_sweep_analyzes_a_grown_desk_once_and_the_queue_walks_its_order(
    app, departments, agent, lan, statistics_forgotten
):
    sweep = get_sweep("statistics")
    sqlite = app.extensions["helpdesk"].engine.dialect.name == "sqlite"
    if sqlite and analyzed_tickets(app) is not None:
        # A desk never analyzed: an earlier test's ANALYZE in this database file is forgotten
        # (the suite empties the tables between tests, not SQLite's statistics).
        session = app.extensions["helpdesk"].db.session
        session.execute(text("DELETE FROM sqlite_stat1"))
        session.execute(text("ANALYZE sqlite_schema"))  # the planner reloads its statistics
        session.commit()
    first = open_as(lan, departments["account"], "First")
    second = open_as(lan, departments["billing"], "Second")

    # A small desk: nothing to analyze (statistics of a nearly empty desk would mislead later).
    with app.app_context():
        said = sweep.run()
    if not sqlite:
        assert "nothing to do" in said
        return
    assert "too few" in said
    assert analyzed_tickets(app) is None

    clone(app, first, 10_000)
    session = app.extensions["helpdesk"].db.session
    # Agents have read most tickets: the unread tickets' partial index holds two, and its
    # statistics row says 2 where the whole indexes' say 10,002.
    session.execute(
        text("UPDATE helpdesk_ticket SET agent_seen_at = last_customer_reply_at WHERE id > 2")
    )
    session.commit()
    # Never analyzed: an agent's queue sorts every ticket of the agent's departments.
    before = ticket_query_plan(app, agent.actor, QueueFilter())
    assert [s for s in before if "TEMP B-TREE FOR ORDER BY" in s], before

    with app.app_context():
        said = sweep.run()

    assert "analyzed" in said
    assert analyzed_tickets(app) == 10_002
    after = ticket_query_plan(app, agent.actor, QueueFilter())
    drives = next(s for s in after if s.startswith(("SCAN", "SEARCH")))
    assert "ix_helpdesk_ticket_updated" in drives, after
    assert not [s for s in after if "TEMP B-TREE FOR ORDER BY" in s], after

    # The next run (hourly) finds the statistics fresh until the tickets double.
    with app.app_context():
        assert "up to date (10002 tickets then, 10002 now)" in sweep.run()
    clone(app, second, 10_002)  # twice the 10,002 analyzed
    with app.app_context():
        assert "analyzed" in sweep.run()
    assert analyzed_tickets(app) == 20_004
