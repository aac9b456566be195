"""Statements compiled once (services/prepared.py) run on the driver's own cursor (SQLite's,
psycopg's) when nothing SQLAlchemy does around ``exec_driver_sql`` matters (issues 17 and 11):
what a host, a counter or an error handler sees must not change with it. The tests run on every
database."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import event, exc, select
from sqlalchemy.engine import Connection, Engine

from flask_helpdesk.models import AuditEvent, Contact, InboundMail, Message, Ticket
from flask_helpdesk.services import intake, tickets
from flask_helpdesk.services.base import insert_loaded, new_row, rollback, session
from flask_helpdesk.services.identity import contact_as_actor, sync_contact
from flask_helpdesk.services.prepared import listen_statements

# On PostgreSQL the ticket's INSERT is inside a WITH statement that writes its first message too.
TICKET_INSERT = "INSERT INTO helpdesk_ticket "


@pytest.fixture
def lan(app, customer):
    """Lan's contact id: each request reads its customer again (a session removed between)."""
    return sync_contact(customer).id


def _open(lan, departments, subject: str) -> Ticket:
    department_id = departments["account"].id  # read before the session goes
    session().remove()  # as between two requests
    return tickets.open_ticket_with_message(
        contact_as_actor(session().get(Contact, lan)),
        tickets.NewTicket(department_id=department_id, subject=subject, body="Help"),
    )[0]


def test_a_statement_counter_and_a_host_listener_see_the_same_statements(app, departments, lan):
    """A counter of listen_statements sees each statement the cursor runs directly; a host's
    own ``before_cursor_execute`` listener (which may read the execution context, as tracing
    libraries do) gets every statement with its context, the same ones."""
    _open(lan, departments, "Warm")  # the process's copies (departments, policies) loaded
    engine = session().get_bind(mapper=Ticket)
    counted: list[str] = []
    stop = listen_statements(engine, lambda statement, _parameters: counted.append(statement))
    try:
        first = _open(lan, departments, "Counted")
    finally:
        stop()

    traced: list[tuple[str, bool]] = []

    def host(conn, cursor, statement, parameters, context, executemany):
        traced.append((statement, context is not None))

    event.listen(engine, "before_cursor_execute", host)
    try:
        second = _open(lan, departments, "Traced")
    finally:
        event.remove(engine, "before_cursor_execute", host)

    assert [statement for statement, _context in traced] == counted
    assert all(has_context for _statement, has_context in traced)
    assert any(TICKET_INSERT in statement for statement in counted)
    session().remove()
    stored = session().scalars(select(Ticket).order_by(Ticket.id)).all()
    assert [t.subject for t in stored] == ["Warm", "Counted", "Traced"]
    assert {first.id, second.id} == {t.id for t in stored[-2:]}
    assert session().scalar(select(Message.body).where(Message.ticket_id == first.id)) == "Help"
    assert session().scalar(select(AuditEvent.action).where(AuditEvent.ticket_id == first.id)) == (
        "ticket.created"
    )


def test_a_refused_row_raises_sqlalchemys_error_and_its_handlers_run(app, departments, lan):
    """The driver's error comes as SQLAlchemy's ``IntegrityError``, through the engine's
    ``handle_error`` listeners, as it did through ``exec_driver_sql``; the session rolls
    back and goes on."""
    taken = _open(lan, departments, "First")
    engine = session().get_bind(mapper=Ticket)
    handled: list[type] = []

    def handle_error(context):
        handled.append(type(context.sqlalchemy_exception))

    event.listen(engine, "handle_error", handle_error)
    try:
        clash = new_row(Message, id=session().get(Message, _message_id(taken)).id, body="Again")
        clash.ticket_id = taken.id
        with pytest.raises(exc.IntegrityError):
            insert_loaded(clash)
    finally:
        event.remove(engine, "handle_error", handle_error)
    assert handled == [exc.IntegrityError]
    rollback()
    after = _open(lan, departments, "Second")
    assert session().get(Ticket, after.id).subject == "Second"


def test_a_stored_mail_is_inserted_on_the_drivers_cursor(app, monkeypatch):
    """The intake's INSERT (issue 11: every mail, on PostgreSQL too) runs on the driver's
    cursor, not through ``exec_driver_sql``, and a statement counter still sees it."""
    from tests.mail.mails import make_mail

    through: list[str] = []
    real = Connection.exec_driver_sql

    def spy(self, statement, *args, **kwargs):
        through.append(statement)
        return real(self, statement, *args, **kwargs)

    engine = session().get_bind(mapper=Ticket)
    counted: list[str] = []
    monkeypatch.setattr(Connection, "exec_driver_sql", spy)
    stop = listen_statements(engine, lambda statement, _parameters: counted.append(statement))
    try:
        stored = intake.receive(make_mail(subject="Direct"), "pipe")
    finally:
        stop()
    assert not stored.duplicate
    stored_id = stored.inbound.id
    store = "INSERT INTO helpdesk_inbound_mail "
    assert [s for s in counted if store in s] != []
    assert [s for s in through if store in s] == []
    session().remove()
    assert session().get(InboundMail, stored_id).subject == "Direct"


def _message_id(ticket: Ticket) -> int:
    return session().scalar(select(Message.id).where(Message.ticket_id == ticket.id))


# What a host hooks onto its engine after the first ticket still sees its statements: a
# listener on the Engine class (SQLAlchemy's profiling recipe), a driver level do_execute hook,
# SQL logging switched on by logging config.


def test_a_listener_on_the_engine_class_added_later_sees_the_insert(app, departments, lan):
    _open(lan, departments, "Warm")
    seen: list[tuple[str, bool]] = []

    def timing(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, context is not None))

    event.listen(Engine, "before_cursor_execute", timing)
    try:
        _open(lan, departments, "Profiled")
    finally:
        event.remove(Engine, "before_cursor_execute", timing)
    inserts = [context for statement, context in seen if TICKET_INSERT in statement]
    assert inserts == [True]  # once, with SQLAlchemy's execution context


def test_a_driver_level_hook_added_later_runs_the_insert(app, departments, lan):
    _open(lan, departments, "Warm")
    engine = session().get_bind(mapper=Ticket)
    seen: list[str] = []

    def do_execute(cursor, statement, parameters, context):
        seen.append(statement)  # returns None: SQLAlchemy runs the statement itself

    event.listen(engine, "do_execute", do_execute)
    try:
        _open(lan, departments, "Hooked")
    finally:
        event.remove(engine, "do_execute", do_execute)
    assert [s for s in seen if TICKET_INSERT in s] != []


def test_sql_logging_switched_on_later_logs_the_insert(app, departments, lan, caplog):
    _open(lan, departments, "Warm")
    with caplog.at_level(logging.INFO, logger="sqlalchemy.engine"):
        _open(lan, departments, "Logged")
    assert TICKET_INSERT in caplog.text


def test_a_row_written_in_a_savepoint_goes_with_its_rollback(app, departments, lan):
    """Inside a savepoint the statement runs in it (on SQLite: on the driver's cursor): rolling
    the savepoint back removes the row and its object from the session, the ticket stays."""
    ticket = _open(lan, departments, "Kept")
    first = session().get(Message, _message_id(ticket))
    nested = session().begin_nested()
    extra = new_row(
        Message,
        ticket_id=ticket.id,
        body="Taken back",
        kind=first.kind,
        channel=first.channel,
        created_at=first.created_at,
        data={},
    )
    insert_loaded(extra)
    extra_id = extra.id
    assert session().get(Message, extra_id) is extra
    nested.rollback()
    assert session().scalar(select(Message.id).where(Message.id == extra_id)) is None
    assert session().get(Message, extra_id) is None
    ticket_id = ticket.id
    session().commit()
    session().remove()
    stored = session().scalars(select(Message.body).where(Message.ticket_id == ticket_id)).all()
    assert stored == ["Help"]


def test_a_timestamp_is_stored_as_sqlalchemy_stores_it_on_sqlite():
    """The timestamps' one-call conversion (UTCDateTime.sqlite_text_processor) writes what
    SQLAlchemy's UTCDateTime then SQLite DATETIME write: a release that changes SQLite's text
    format (or its default) makes this fail, and the conversion must follow it."""
    from datetime import UTC, datetime, timedelta, timezone

    from sqlalchemy.dialects import sqlite

    from flask_helpdesk.models.base import UTCDateTime

    dialect = sqlite.dialect()
    column_type = UTCDateTime()
    ours = column_type.sqlite_text_processor(dialect)
    theirs = column_type.dialect_impl(dialect).bind_processor(dialect)
    assert ours is not None
    paris = timezone(timedelta(hours=1))
    instants = [
        datetime(2026, 12, 7, 3, 30, 5, 123456, tzinfo=UTC),
        datetime(2026, 12, 7, 3, 30, 5, tzinfo=UTC),  # no microseconds: still six digits
        datetime(2026, 12, 7, 0, 15, tzinfo=paris),  # the day before in UTC
        datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        None,
    ]
    for instant in [*instants, instants[0], instants[0]]:  # the same object again: kept
        assert ours(instant) == theirs(instant)
    assert ours(datetime(2026, 12, 7, 23, 0, tzinfo=paris)) == "2026-12-07 22:00:00.000000"
    with pytest.raises(ValueError, match="naive"):
        ours(datetime(2026, 12, 7, 3, 30))


def test_a_new_tickets_timestamps_read_back_as_written(app, departments, lan):
    ticket = _open(lan, departments, "When was this")
    created = ticket.created_at
    ticket_id = ticket.id
    session().remove()
    stored = session().get(Ticket, ticket_id)
    assert stored.created_at == created and stored.created_at.tzinfo is not None
    assert stored.first_response_due_at is None or stored.first_response_due_at > created
    message = session().scalars(select(Message).where(Message.ticket_id == ticket_id)).one()
    assert message.created_at == created
