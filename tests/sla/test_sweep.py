"""Escalation: warnings and breaches raised once per ticket and target (also with two sweeps at
once on PostgreSQL), events on the ticket, signals, notifications that wait for opening hours,
bounded batches, the scheduler and the cron commands."""

from __future__ import annotations

import os
import threading
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from example_app import mail
from flask_helpdesk import signals
from flask_helpdesk.models import Message, MessageKind, SlaEvent
from flask_helpdesk.scheduler import Scheduler, registered_sweeps
from flask_helpdesk.services import messages, tickets
from flask_helpdesk.services.base import session
from flask_helpdesk.services.calendars import create_calendar
from flask_helpdesk.services.identity import SYSTEM
from flask_helpdesk.services.sla_policies import PolicyData, create_policy
from flask_helpdesk.services.sla_sweep import sweep
from tests.conftest import DATABASE_URL_VARIABLE, REDIS_URL_VARIABLE, make_test_app

HOURS_8_17 = {day: "08:00-17:00" for day in range(5)}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def policy(admin):
    calendar = create_calendar(admin, "Office", "UTC", HOURS_8_17)
    return create_policy(
        admin,
        PolicyData(
            "Standard",
            first_response_minutes=120,
            resolution_minutes=480,
            warn_before_minutes=30,
            calendar_id=calendar.id,
            is_default=True,
        ),
    )


@pytest.fixture
def heard():
    """What the sla signals announced: (signal name, ticket code, target)."""
    seen: list[tuple[str, str, str]] = []

    def warned(app, ticket, target, **extra):
        seen.append(("warned", ticket.code, target))

    def breached(app, ticket, target, **extra):
        seen.append(("breached", ticket.code, target))

    signals.sla_warned.connect(warned)
    signals.sla_breached.connect(breached)
    yield seen
    signals.sla_warned.disconnect(warned)
    signals.sla_breached.disconnect(breached)


def _events(ticket) -> list[tuple[str, str]]:
    rows = session().execute(
        select(SlaEvent.target, SlaEvent.kind)
        .where(SlaEvent.ticket_id == ticket.id)
        .order_by(SlaEvent.id)
    )
    return [tuple(row) for row in rows]


def test_warning_then_breach_each_once(policy, lan, agent, clock, open_for, heard):
    clock.set("2026-03-02T09:00+00:00")
    ticket = open_for(lan)  # first response due 11:00, warning from 10:30
    assert sweep(at("2026-03-02T10:00")).warned == 0
    result = sweep(at("2026-03-02T10:31"))
    assert (result.warned, result.breached) == (1, 0)
    assert sweep(at("2026-03-02T10:45")).warned == 0  # once
    result = sweep(at("2026-03-02T11:01"))
    assert (result.warned, result.breached) == (0, 1)
    assert sweep(at("2026-03-02T11:30")).breached == 0
    assert _events(ticket) == [("first_response", "warned"), ("first_response", "breached")]
    assert heard == [
        ("warned", ticket.code, "first_response"),
        ("breached", ticket.code, "first_response"),
    ]
    session().expire_all()
    assert tickets.find_ticket(SYSTEM, ticket.code).first_response_breached
    notes = (
        session()
        .scalars(
            select(Message).where(Message.ticket_id == ticket.id, Message.kind == MessageKind.NOTE)
        )
        .all()
    )
    assert [n.data["event"] for n in notes] == ["sla_warned", "sla_breached"]


def test_the_events_are_internal_notes_the_customer_never_sees(policy, lan, clock, open_for, app):
    ticket = open_for(lan)
    sweep(at("2026-03-02T11:01"))
    assert all(m.kind != MessageKind.NOTE for m in messages.thread(lan, ticket))


def test_a_response_in_time_raises_nothing_more(policy, lan, agent, clock, open_for):
    ticket = open_for(lan)
    sweep(at("2026-03-02T10:31"))
    clock.set("2026-03-02T10:40+00:00")
    messages.post_message(agent, ticket, "On it.")
    assert sweep(at("2026-03-02T12:00")).breached == 0
    assert _events(ticket) == [("first_response", "warned")]


def test_notifications_wait_for_opening_hours(policy, lan, agent, clock, open_for):
    clock.set("2026-03-06T16:50+00:00")  # Friday: first response due Monday 09:50
    ticket = open_for(lan)
    with mail.record_messages() as outbox:
        result = sweep(at("2026-03-09T03:00"))  # not at 3 a.m.: nothing is due yet anyway
        assert result.notifications == 0
        result = sweep(at("2026-03-09T09:51"))
        assert result.breached == 1 and result.notifications == 1
    assert len(outbox) >= 1
    assert "overdue" in outbox[0].subject and ticket.code in outbox[0].subject


def test_a_breach_found_at_night_is_notified_when_the_office_opens(
    policy, lan, agent, clock, open_for
):
    clock.set("2026-03-02T15:00+00:00")  # Monday: first response due 17:00
    ticket = open_for(lan)
    with mail.record_messages() as outbox:
        night = sweep(at("2026-03-03T03:00"))  # the sweep did not run in the evening
        assert (night.breached, night.notifications) == (1, 0)
        assert outbox == []
        morning = sweep(at("2026-03-03T08:00"))
        assert (morning.breached, morning.notifications) == (0, 1)
        assert sweep(at("2026-03-03T08:05")).notifications == 0
    assert len(outbox) == 1 and ticket.code in outbox[0].subject


def test_batches_are_bounded_and_the_next_run_goes_on(policy, lan, clock, open_for):
    for _ in range(7):
        open_for(lan)
    first = sweep(at("2026-03-02T11:01"), batch_size=3, max_batches=2)
    assert (first.tickets, first.breached) == (6, 6)
    second = sweep(at("2026-03-02T11:01"), batch_size=3, max_batches=2)
    assert second.breached == 1
    assert session().scalar(select(func.count()).select_from(SlaEvent)) == 7


def test_an_event_already_recorded_is_not_raised_again(policy, lan, clock, open_for, heard):
    ticket = open_for(lan)
    # Another sweep recorded the breach a moment ago, before this one read the ticket.
    session().add(
        SlaEvent(
            ticket_id=ticket.id,
            target="first_response",
            kind="breached",
            cycle=0,
            due_at=at("2026-03-02T11:00"),
            created_at=at("2026-03-02T11:00"),
        )
    )
    session().commit()
    result = sweep(at("2026-03-02T11:01"))
    assert result.breached == 0 and heard == []


@pytest.mark.skipif(
    not os.environ.get(DATABASE_URL_VARIABLE, "").startswith("postgresql"),
    reason=f"set {DATABASE_URL_VARIABLE} to a PostgreSQL URL",
)
def test_two_sweeps_at_once_raise_each_breach_once(
    policy, lan, clock, open_for, heard, database_url, tmp_path
):
    codes = [open_for(lan).code for _ in range(40)]
    session().commit()
    # A timeout and abort() so a thread that fails cannot leave the other waiting for ever.
    start = threading.Barrier(2, timeout=60)
    errors: list[BaseException] = []
    counts: list[int] = []
    # Both apps are built here, one after the other: the test is about two sweeps at once,
    # not about two app factories at once.
    apps = [make_test_app(database_url, tmp_path) for _ in range(2)]

    def run(other) -> None:
        try:
            with other.app_context():
                try:
                    start.wait()
                    counts.append(sweep(at("2026-03-02T11:01"), batch_size=4).breached)
                finally:
                    other.extensions["helpdesk"].db.session.remove()
        except BaseException as error:  # surfaced below
            start.abort()
            errors.append(error)

    threads = [threading.Thread(target=run, args=(other,)) for other in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a sweep did not finish"
    assert not errors
    assert sum(counts) == 40
    assert sorted(code for kind, code, _t in heard if kind == "breached") == sorted(codes)
    assert session().scalar(select(func.count()).select_from(SlaEvent)) == 40


def test_cron_commands(policy, lan, clock, open_for, app):
    open_for(lan)
    clock.set("2026-03-02T11:01+00:00")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["helpdesk", "sla-sweep"])
    assert result.exit_code == 0 and "1 breach(es)" in result.output
    result = runner.invoke(args=["helpdesk", "sweep", "--list"])
    assert "sla" in result.output and "access" in result.output
    result = runner.invoke(args=["helpdesk", "sweep", "sla", "access"])
    assert result.exit_code == 0 and "0 breach(es)" in result.output


def test_scheduler_starts_each_sweep_once_per_interval(app, policy, lan, clock, open_for):
    open_for(lan)
    clock.set("2026-03-02T11:01+00:00")
    seconds = [0.0]
    scheduler = Scheduler(app, clock=lambda: seconds[0])
    assert sorted(scheduler.tick()) == sorted(s.name for s in registered_sweeps())
    seconds[0] = 30.0
    assert scheduler.tick() == []  # nothing is due yet
    seconds[0] = 61.0
    again = scheduler.tick()  # a minute later the SLA sweep again, not the access one
    assert "sla" in again and "access" not in again
    assert session().scalar(select(func.count()).select_from(SlaEvent)) == 1


def test_the_schedule_survives_a_redis_flush(policy, lan, clock, open_for, database_url, tmp_path):
    redis_url = os.environ.get(REDIS_URL_VARIABLE)
    if not redis_url:
        pytest.skip(f"set {REDIS_URL_VARIABLE} to run the scheduler against a real Redis")
    from flask_helpdesk.jobs import make_worker

    open_for(lan)
    clock.set("2026-03-02T11:01+00:00")
    rq_app = make_test_app(
        database_url,
        tmp_path,
        HELPDESK_REDIS_URL=redis_url,
        HELPDESK_QUEUE_NAME=f"helpdesk-test-{uuid.uuid4().hex[:12]}",
    )
    with rq_app.app_context():
        connection = rq_app.extensions["helpdesk"].dispatcher.queue.connection
        seconds = [0.0]
        scheduler = Scheduler(rq_app, clock=lambda: seconds[0])
        assert "sla" in scheduler.tick()  # queued for a worker, not run here
        assert session().scalar(select(func.count()).select_from(SlaEvent)) == 0
        connection.flushdb()  # the queued job and the schedulers' locks are gone
        seconds[0] = 61.0
        assert "sla" in scheduler.tick()  # queued again: no lock survived the flush
        make_worker(rq_app).work(burst=True)
        session().remove()
        assert session().scalar(select(func.count()).select_from(SlaEvent)) == 1


def test_the_worker_runs_the_sweeps_and_stops_its_scheduler(
    policy, lan, clock, open_for, database_url, tmp_path
):
    """``flask helpdesk worker`` (--with-scheduler by default): its scheduler thread queues the
    SLA sweep, the worker runs it, and a shutdown ends the worker and the thread."""
    redis_url = os.environ.get(REDIS_URL_VARIABLE)
    if not redis_url:
        pytest.skip(f"set {REDIS_URL_VARIABLE} to run the worker against a real Redis")
    from rq import Worker
    from rq.command import send_shutdown_command

    ticket = open_for(lan)
    session().commit()
    ticket_id = ticket.id
    clock.set("2026-03-02T11:01+00:00")  # its first response is overdue
    queue_name = f"helpdesk-test-{uuid.uuid4().hex[:12]}"
    rq_app = make_test_app(
        database_url, tmp_path, HELPDESK_REDIS_URL=redis_url, HELPDESK_QUEUE_NAME=queue_name
    )
    connection = rq_app.extensions["helpdesk"].dispatcher.queue.connection
    with rq_app.app_context():
        engine = rq_app.extensions["helpdesk"].db.engine
    stopped: list[str] = []

    def shut_down_once_swept() -> None:
        # Another thread: the worker's signal handlers need the main one.
        for _ in range(600):
            with engine.connect() as db:
                count = db.scalar(
                    select(func.count())
                    .select_from(SlaEvent)
                    .where(SlaEvent.ticket_id == ticket_id)
                )
            workers = [
                w for w in Worker.all(connection=connection) if w.queues[0].name == queue_name
            ]
            if count and workers:
                send_shutdown_command(connection, workers[0].name)
                stopped.append(workers[0].name)
                return
            threading.Event().wait(0.1)

    helper = threading.Thread(target=shut_down_once_swept)
    helper.start()
    try:
        with rq_app.app_context():  # the command's app, not the test's
            result = rq_app.test_cli_runner().invoke(args=["helpdesk", "worker"])
    finally:
        helper.join(timeout=70)
    assert stopped, f"the scheduler thread never got the SLA sweep run: {result.output}"
    assert result.exit_code == 0, result.output
    assert _events(ticket) == [("first_response", "breached")]
    assert not [t for t in threading.enumerate() if t.name == "helpdesk-scheduler"]
