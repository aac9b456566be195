"""Lookups by key stay lookups by key at scale: the staff mail's message query and the SLA
signals' event query read their rows through the primary key, whatever the number of tickets.

Both join a ticket, which itself always joins its department. As a LEFT OUTER JOIN of
"ticket JOIN department", SQLite materialized that inner join over every ticket before picking
the one row (137 ms a staff mail at 100,000 tickets, measured in bench/distribution.py's
ticket creation); the plans are asserted with the database's own EXPLAIN on 10,000 tickets."""

from __future__ import annotations

from sqlalchemy import text

from flask_helpdesk.models import Message
from flask_helpdesk.services.notifications.tickets import _message_to_mail_query
from flask_helpdesk.services.sla_sweep import fired_events_query
from tests.desk.conftest import open_as
from tests.desk.test_queue_plan import TICKETS, clone


def plan_of(app, statement) -> list[str]:
    """The plan of *statement* (its parameters set), as the database explains it."""
    engine = app.extensions["helpdesk"].engine
    sql = str(statement.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
    with engine.connect() as connection:
        raw = connection.connection.dbapi_connection.cursor()
        if engine.dialect.name == "sqlite":
            raw.execute("EXPLAIN QUERY PLAN " + sql)
            return [row[-1] for row in raw.fetchall()]
        raw.execute("EXPLAIN " + sql)
        return [row[0] for row in raw.fetchall()]


def scans_tickets(plan: list[str]) -> bool:
    return any(
        step.startswith("SCAN helpdesk_ticket") or "Seq Scan on helpdesk_ticket " in step + " "
        for step in plan
    )


def grow(app, first) -> None:
    clone(app, first, TICKETS)
    session = app.extensions["helpdesk"].db.session
    session.execute(text("ANALYZE"))
    session.commit()


def test_the_staff_mail_reads_its_message_by_key_among_many_tickets(app, departments, lan):
    first = open_as(lan, departments["account"], "First")
    message_id = app.extensions["helpdesk"].db.session.scalar(
        Message.__table__.select()
        .with_only_columns(Message.id)
        .where(Message.ticket_id == first.id)
    )
    grow(app, first)

    plan = plan_of(app, _message_to_mail_query().params(message_id=message_id))

    assert not scans_tickets(plan), "\n".join(plan)


def test_the_sla_signals_read_their_events_by_key_among_many_tickets(app, departments, lan):
    first = open_as(lan, departments["account"], "First")
    grow(app, first)

    plan = plan_of(app, fired_events_query([1, 2]))

    assert not scans_tickets(plan), "\n".join(plan)
