"""The ticket page's one query (the ticket with everything the page shows) reads the ticket by
its code and each related row by its key, whatever the number of tickets: on SQLite, the merged
ticket's department (a joined load chained under an outer join) was written as a nested
``LEFT OUTER JOIN (helpdesk_ticket JOIN helpdesk_department)``, which SQLite materialized whole
(every ticket with its department) before looking one up: 1.2 s a page at 100,000 tickets,
found with ``bench/queue_bench.py``. PostgreSQL plans either form well; on every database the
statement is written flat, and SQLite's plan is checked."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from flask_helpdesk.services import tickets
from tests.desk.conftest import open_as
from tests.desk.test_queue_plan import clone, explain


@pytest.mark.parametrize("desk", [True, False], ids=["desk", "portal"])
def test_the_ticket_page_looks_each_row_up_by_its_key(app, departments, agent, lan, desk):
    first = open_as(lan, departments["account"], "First")
    clone(app, first, 2_000)
    session = app.extensions["helpdesk"].db.session
    session.execute(text("ANALYZE"))
    session.commit()
    actor = agent.actor if desk else lan
    engine = app.extensions["helpdesk"].engine
    statement, page = explain(
        app, lambda: tickets.find_ticket(actor, first.code, page=True), "AS page_part"
    )
    # Written flat on every database: no join of tables nested in parentheses.
    assert "JOIN (helpdesk_" not in statement
    if engine.dialect.name == "sqlite":
        assert not [step for step in page if step.startswith("MATERIALIZE") and "join" in step]
        # No ticket is read but by its code or its key (the agents, a handful, may be scanned).
        assert not [s for s in page if s.startswith("SCAN helpdesk_ticket")], page
