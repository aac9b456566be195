"""What a host hooks onto its engine after the first ticket still sees a ticket's statements,
now that SQLite runs them on the driver's cursor when nothing needs SQLAlchemy's execution
context (services/prepared.py): a listener on the ``Engine`` class (SQLAlchemy's profiling
recipe), a driver level ``do_execute`` hook, and SQL logging switched on by logging config."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from flask_helpdesk.models import Contact, Ticket
from flask_helpdesk.services import tickets
from flask_helpdesk.services.base import session
from flask_helpdesk.services.identity import contact_as_actor, sync_contact

TICKET_INSERT = "INSERT INTO helpdesk_ticket "


@pytest.fixture
def lan(app, customer):
    return sync_contact(customer).id


@pytest.fixture
def sqlite_only(app):
    # PostgreSQL writes a ticket with its rows in one statement, by exec_driver_sql as before.
    if session().get_bind(mapper=Ticket).dialect.name != "sqlite":
        pytest.skip("the driver's cursor is used on SQLite only")


def _open(lan, departments, subject: str) -> None:
    department_id = departments["account"].id
    session().remove()  # as between two requests
    tickets.open_ticket_with_message(
        contact_as_actor(session().get(Contact, lan)),
        tickets.NewTicket(department_id=department_id, subject=subject, body="Help"),
    )


def test_a_listener_on_the_engine_class_added_later_sees_the_insert(
    app, departments, lan, sqlite_only
):
    _open(lan, departments, "Warm")
    seen: list[tuple[str, bool]] = []

    def timing(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, context is not None))

    event.listen(Engine, "before_cursor_execute", timing)
    try:
        _open(lan, departments, "Profiled")
    finally:
        event.remove(Engine, "before_cursor_execute", timing)
    inserts = [context for statement, context in seen if statement.startswith(TICKET_INSERT)]
    assert inserts == [True]  # once, with SQLAlchemy's execution context


def test_a_driver_level_hook_added_later_runs_the_insert(app, departments, lan, sqlite_only):
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
    assert [s for s in seen if s.startswith(TICKET_INSERT)] != []


def test_sql_logging_switched_on_later_logs_the_insert(app, departments, lan, sqlite_only, caplog):
    _open(lan, departments, "Warm")
    with caplog.at_level(logging.INFO, logger="sqlalchemy.engine"):
        _open(lan, departments, "Logged")
    assert TICKET_INSERT in caplog.text
