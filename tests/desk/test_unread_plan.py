"""The queue's "unread customer reply" filter reads the index of the unread tickets (migration
0038) for its page and for its heading's count, on a desk of 10,000 tickets agents have read.
No other index holds the condition (two of the ticket's columns compared): SQLite counted
through the visibility's department index, reading every visible ticket for its read markers
(419 ms of CPU a page at 1,000,000 tickets in ``bench/queue_bench.py``)."""

from __future__ import annotations

import pytest
from sqlalchemy import text, update

from flask_helpdesk.models import Ticket
from flask_helpdesk.services.queues import QueueFilter, count_matching, queue_page
from tests.desk.conftest import open_as
from tests.desk.test_queue_plan import TICKETS, clone, explain, ticket_query_plan

UNREAD = QueueFilter(unread=True)


@pytest.fixture
def unread(app, departments, lan) -> list[str]:
    """10,000 tickets an agent has read, then three a customer wrote since: their codes."""
    first = open_as(lan, departments["account"], "First")
    session = app.extensions["helpdesk"].db.session
    session.execute(
        update(Ticket)
        .where(Ticket.id == first.id)
        .values(agent_seen_at=Ticket.last_customer_reply_at)
    )
    session.commit()
    clone(app, first, TICKETS)
    codes = [open_as(lan, departments["account"], f"Waiting {i}").code for i in range(3)]
    # With statistics: without them SQLite plans an agent's queue, any filter or none, from
    # the visibility's indexes (department, assignee) and sorts what they hold.
    session.execute(text("ANALYZE"))
    session.commit()
    engine = app.extensions["helpdesk"].engine
    if engine.dialect.name == "postgresql":
        # The rows earlier tests deleted leave the table and its indexes as large as they were
        # (the planner weighs their pages): this desk's own sizes, as a live desk's would be.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM FULL ANALYZE helpdesk_ticket"))
    return codes


@pytest.mark.parametrize("as_admin", [False, True], ids=["agent", "admin"])
def test_the_unread_filter_and_its_count_read_the_unread_tickets_only(
    app, agent, admin, unread, as_admin
):
    actor = admin.actor if as_admin else agent.actor

    page_plan = ticket_query_plan(app, actor, UNREAD)
    _statement, count_plan = explain(app, lambda: count_matching(actor, UNREAD), "count(*)")

    for plan in (page_plan, count_plan):
        assert [s for s in plan if "ix_helpdesk_ticket_unread" in s], "\n".join(plan)
        if app.extensions["helpdesk"].engine.dialect.name == "sqlite":
            assert not [
                s
                for s in plan
                if s.split()[:2] == ["SCAN", "helpdesk_ticket"]
                and "ix_helpdesk_ticket_unread" not in s
            ], "\n".join(plan)
    # What the agent sees: the three tickets waiting for them, newest first, and their count.
    assert [t.code for t in queue_page(actor, UNREAD).items] == unread[::-1]
    assert count_matching(actor, UNREAD) == 3
