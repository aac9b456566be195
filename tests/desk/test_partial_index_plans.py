"""The queries that read the indexes migration 0037 made partial on SQLite (only the rows whose
column is set) still read them: the database's own EXPLAIN, on 10,000 tickets whose column is
NULL in most (a customer's new tickets without an SLA policy nobody answered yet). A query not
implying the column is set could not use such an index and would scan the table instead.
With the indexes whole, the creator filter and an agent's report scope did not read theirs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from flask_helpdesk.models import AuditEvent, Rule, TicketFact
from flask_helpdesk.services import permissions, rule_sweep, sla_sweep
from flask_helpdesk.services.queues import QueueFilter
from flask_helpdesk.services.rule_sweep import candidates
from tests.desk.conftest import open_as
from tests.desk.test_lookup_plans import plan_of
from tests.desk.test_queue_plan import TICKETS, clone, run_plan, ticket_query_plan


@pytest.fixture
def many(app, departments, lan) -> None:
    """10,000 tickets of a customer; support answered one in ten, whose SLA clock runs."""
    first = open_as(lan, departments["account"], "First")
    clone(app, first, TICKETS)
    session = app.extensions["helpdesk"].db.session
    session.execute(
        text(
            "UPDATE helpdesk_ticket SET last_agent_reply_at = updated_at,"
            " sla_due_at = updated_at, sla_check_at = updated_at WHERE id % 10 = 0"
        )
    )
    # Their facts, as many: one in ten assigned and done by an agent (not the one asking).
    columns = [c.name for c in TicketFact.__table__.columns if c.name not in ("id",)]
    session.execute(
        text(
            f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :n)"
            f" INSERT INTO helpdesk_ticket_fact ({', '.join(columns)})"
            f" SELECT {', '.join('f.' + c for c in columns)} FROM helpdesk_ticket_fact AS f, n"
        ),
        {"n": TICKETS},
    )
    session.execute(
        text("UPDATE helpdesk_ticket_fact SET assignee_id = -1, agent_id = -1 WHERE id % 10 = 0")
    )
    session.execute(text("ANALYZE"))
    session.commit()


def is_sqlite(app) -> bool:
    return app.extensions["helpdesk"].engine.dialect.name == "sqlite"


def reads(plan: list[str], index: str) -> bool:
    return any(step.startswith(("SEARCH", "SCAN")) and index in step for step in plan)


def test_the_due_sort_and_the_creator_filter_read_their_indexes(app, agent, many):
    due = ticket_query_plan(app, agent.actor, QueueFilter(sort="due"))
    mine = QueueFilter(creator=f"agent:{agent.actor.agent.id}")
    by_agent = ticket_query_plan(app, agent.actor, mine)

    if is_sqlite(app):
        assert reads(due, "ix_helpdesk_ticket_sla_due"), "\n".join(due)
        assert reads(by_agent, "ix_helpdesk_ticket_creator_agent_id"), "\n".join(by_agent)


def test_the_escalation_sweep_reads_its_batch_through_the_check_index(app, many):
    def sweep() -> None:
        sla_sweep.check_tickets(datetime.now(UTC), 50, sla_sweep.SweepResult())

    plan = run_plan(app, sweep, "sla_check_at <=")

    if is_sqlite(app):
        assert reads(plan, "ix_helpdesk_ticket_sla_check"), "\n".join(plan)


@pytest.mark.parametrize(
    "trigger, index",
    [
        ("time_since_agent", "ix_helpdesk_ticket_status_last_agent"),
        ("time_since_customer", "ix_helpdesk_ticket_status_last_customer"),
    ],
)
def test_time_rules_read_their_anchors_index(app, many, trigger, index):
    rule = Rule(id=1, trigger=trigger, schedule={"after": 2, "unit": "hours"}, conditions={})
    now = datetime.now(UTC)

    plan = plan_of(app, candidates(rule, now, rule_sweep.default_calendar()).limit(50))

    if is_sqlite(app):
        assert reads(plan, index), "\n".join(plan)


def test_an_agents_report_scope_and_their_audit_events_read_their_indexes(app, agent, many):
    scope, _own = permissions.visible_facts(agent.actor)
    since = datetime.now(UTC) - timedelta(days=30)
    facts = plan_of(
        app,
        select(func.count())
        .select_from(TicketFact)
        .where(scope, TicketFact.kind == "created", TicketFact.at >= since),
    )
    audit = plan_of(
        app, select(AuditEvent.id).where(AuditEvent.actor_agent_id == agent.actor.agent.id)
    )

    if is_sqlite(app):
        assert reads(facts, "ix_helpdesk_ticket_fact_assignee"), "\n".join(facts)
        assert reads(facts, "ix_helpdesk_ticket_fact_agent"), "\n".join(facts)
        assert reads(audit, "ix_helpdesk_audit_event_actor_agent_id"), "\n".join(audit)
