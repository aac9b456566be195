"""The RQ path against the real Redis (set HELPDESK_TEST_REDIS_URL): jobs wait in the queue
until a worker runs them in an app context; failures are retried and then kept as failed."""

from __future__ import annotations

import threading
import time

import pytest
from rq import SimpleWorker
from sqlalchemy import select

from flask_helpdesk.jobs import make_worker
from flask_helpdesk.models import AuditEvent, Message, MessageKind
from flask_helpdesk.services import base
from flask_helpdesk.services.agents import make_agent
from flask_helpdesk.services.base import unit_of_work
from flask_helpdesk.services.identity import agent_as_actor, contact_as_actor, sync_contact
from flask_helpdesk.services.messages import post_message
from flask_helpdesk.services.tickets import NewTicket, open_ticket
from tests.conftest import make_member
from tests.jobs.conftest import EXTERNAL_URL


@pytest.fixture
def app(rq_app):
    """Every fixture here (departments, customer) works on the RQ-backed app."""
    return rq_app


def setup_ticket(app, departments, customer):
    agent = agent_as_actor(
        make_agent(str(make_member("Sara", "sara@shop.example.com").id), ["billing"])
    )
    customer_actor = contact_as_actor(sync_contact(customer))
    ticket = open_ticket(
        customer_actor, NewTicket(departments["billing"].id, "Invoice missing", "Where is it?")
    )
    return agent, customer_actor, ticket


def queue_of(app):
    return app.extensions["helpdesk"].dispatcher.queue


def notification_jobs(queue) -> list:
    """The queued notification jobs (each change also queues a webhook sweep: not ours here)."""
    return [job for job in queue.get_jobs() if ".notifications." in job.func_name]


def release_session(app) -> None:
    # The worker uses its own session; do not hold a transaction open under it (SQLite locks).
    app.extensions["helpdesk"].db.session.remove()


def failed_events(app):
    return list(
        app.extensions["helpdesk"].db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "notification.failed")
            .order_by(AuditEvent.id)
        )
    )


def test_agent_reply_waits_in_the_queue_until_a_worker_sends_it(
    rq_app, smtp, departments, customer
):
    agent, _customer, ticket = setup_ticket(rq_app, departments, customer)
    code = ticket.code
    queue = queue_of(rq_app)
    queue.empty()  # the staff notification of the new ticket: not this test's concern

    post_message(agent, ticket, "Your invoice is on its way.")

    [job] = notification_jobs(queue)
    assert job.func_name == "flask_helpdesk.services.notifications.tickets.customer_of_reply"
    assert job.get_status() == "queued"
    assert job.retries_left == 2
    assert smtp.messages == []  # enqueued, not executed

    release_session(rq_app)
    make_worker(rq_app).work(burst=True, with_scheduler=True)

    assert job.get_status(refresh=True) == "finished"
    [mail] = smtp.to("lan@example.com")
    assert mail.message["Subject"] == f"[{code}] Invoice missing"
    assert "Your invoice is on its way." in mail.text
    # No request in the worker: the link still is absolute, from HELPDESK_EXTERNAL_URL.
    assert f"{EXTERNAL_URL}/support/tickets/{code}" in mail.text
    assert f'href="{EXTERNAL_URL}/support/tickets/{code}"' in mail.html


def test_cli_worker_burst_sends_the_staff_notification(rq_app, smtp, departments, customer):
    _agent, customer_actor, ticket = setup_ticket(rq_app, departments, customer)
    code = ticket.code
    assert smtp.messages == []
    assert len(notification_jobs(queue_of(rq_app))) == 1  # the new-ticket one, waiting
    post_message(customer_actor, ticket, "Any news?")
    assert len(notification_jobs(queue_of(rq_app))) == 2
    release_session(rq_app)

    result = rq_app.test_cli_runner().invoke(args=["helpdesk", "worker", "--burst"])

    assert result.exit_code == 0, result.output
    assert queue_of(rq_app).name in result.output
    subjects = sorted(m.message["Subject"] for m in smtp.to("sara@shop.example.com"))
    assert subjects == [
        f"[{code}] Customer replied: Invoice missing",
        f"[{code}] New request: Invoice missing",
    ]


def work_until(app, done, deadline_seconds: float = 20.0) -> None:
    """Run burst workers (with the scheduler, which re-queues due retries) until *done*."""
    deadline = time.monotonic() + deadline_seconds
    while not done():
        assert time.monotonic() < deadline, "the job did not settle in time"
        make_worker(app).work(burst=True, with_scheduler=True)
        time.sleep(0.3)


def test_failing_mail_is_retried_per_config_then_lands_in_failed_registry(
    rq_app, smtp, departments, customer
):
    agent, _customer, ticket = setup_ticket(rq_app, departments, customer)
    queue = queue_of(rq_app)
    queue.empty()
    smtp.reject_with = "451 4.3.0 Try again later"
    post_message(agent, ticket, "Reply that cannot be delivered.")
    [job] = notification_jobs(queue)
    ticket_id = ticket.id  # the ticket object is gone with the session released below
    release_session(rq_app)

    work_until(rq_app, lambda: job.id in queue.failed_job_registry.get_job_ids())

    assert smtp.messages == []
    # HELPDESK_JOB_RETRIES=2: the first attempt and two retries, each leaving a trace.
    events = failed_events(rq_app)
    assert [e.data["will_retry"] for e in events] == [True, True, False]
    assert {e.data["recipients"][0] for e in events} == {"lan@example.com"}
    assert all("451" in e.data["error"] for e in events)
    # Only the final failure shows on the ticket: one internal note, not one per attempt.
    db = rq_app.extensions["helpdesk"].db
    notes = db.session.scalars(
        select(Message).where(Message.ticket_id == ticket_id, Message.kind == MessageKind.NOTE)
    ).all()
    assert [n.data["event"] for n in notes] == ["send_failed"]
    assert "lan@example.com" in notes[0].body and "451" in notes[0].body


def test_retry_delivers_once_the_mail_server_is_back(rq_app, smtp, departments, customer):
    agent, _customer, ticket = setup_ticket(rq_app, departments, customer)
    queue = queue_of(rq_app)
    queue.empty()
    smtp.reject_with = "451 4.3.0 Try again later"
    post_message(agent, ticket, "Second try will work.")
    [job] = notification_jobs(queue)
    release_session(rq_app)

    make_worker(rq_app).work(burst=True, with_scheduler=True)
    assert job.get_status(refresh=True) == "scheduled"  # waits for its retry interval
    assert smtp.messages == []
    smtp.reject_with = None

    work_until(rq_app, lambda: job.get_status(refresh=True) == "finished")

    assert len(smtp.to("lan@example.com")) == 1
    assert [e.data["will_retry"] for e in failed_events(rq_app)] == [True]


def test_retry_of_staff_mail_skips_those_already_sent(rq_app, smtp, departments, customer):
    make_agent(str(make_member("Minh", "minh@shop.example.com").id), ["billing"])
    _agent, customer_actor, ticket = setup_ticket(rq_app, departments, customer)
    queue = queue_of(rq_app)
    queue.empty()
    post_message(customer_actor, ticket, "Hello?")
    [job] = notification_jobs(queue)
    release_session(rq_app)

    # Only Sara's mail fails the first time (the server refuses her address for now).
    original = smtp.handle_DATA
    refused_once: list[str] = []

    async def refuse_sara_once(server, session, envelope):
        if "sara@shop.example.com" in envelope.rcpt_tos and not refused_once:
            refused_once.append("sara")
            return "451 4.2.0 Mailbox busy"
        return await original(server, session, envelope)

    smtp.handle_DATA = refuse_sara_once
    work_until(rq_app, lambda: job.get_status(refresh=True) == "finished")

    assert len(smtp.to("minh@shop.example.com")) == 1  # not mailed again by the retry
    assert len(smtp.to("sara@shop.example.com")) == 1


def test_worker_exit_does_not_wait_for_its_command_listener(rq_app):
    """The worker's listener for RQ commands ends as soon as it is told to, also when no
    message comes: RQ 3 waited up to 60 s in one read, so each burst run and each shutdown
    could hang for a minute (and the retry tests above ran out of time)."""
    worker = make_worker(rq_app)
    worker.subscribe()
    listener = worker.pubsub_thread
    pubsub = worker.pubsub
    reading = threading.Event()
    read = pubsub.get_message

    def get_message(*args, **kwargs):
        reading.set()
        return read(*args, **kwargs)

    pubsub.get_message = get_message
    try:
        # The listener is inside a read with nothing to receive: the case that hung.
        assert reading.wait(10), "the listener never read again"
        reading.clear()
        assert reading.wait(10)
        listener._running.clear()  # what stop() does before it waits for the thread
        listener.join(10)
        assert not listener.is_alive()
    finally:
        worker.unsubscribe()


def test_the_jobs_of_one_commit_reach_redis_in_one_round_trip_in_order(
    rq_app, smtp, departments, customer, monkeypatch
):
    """A commit's jobs go to RQ in one round trip (RQ's enqueue alone takes two round trips a
    job): all of them queued, in the order the services asked, and a worker runs them.

    The caches' check for keys changed in other processes (one HGETALL at most once a
    second, see services.base) is no job's round trip: it is made on every cache read here,
    as on a machine slow enough for a second to pass between two reads (this test failed
    once at load 15), and left out of the count."""
    _agent, customer_actor, ticket = setup_ticket(rq_app, departments, customer)
    queue = queue_of(rq_app)
    queue.empty()
    round_trips: list[bytes] = []
    cache_checks: list[bytes] = []
    connection_class = queue.connection.connection_pool.connection_class
    real_send = connection_class.send_packed_command

    def counting_send(self, command, *args, **kwargs):
        packed = command if isinstance(command, bytes) else b"".join(command)
        is_cache_check = packed.split(b"\r\n")[2:5:2] == [b"HGETALL", base.GENERATIONS_KEY.encode()]
        (cache_checks if is_cache_check else round_trips).append(packed)
        return real_send(self, command, *args, **kwargs)

    monkeypatch.setattr(base, "GENERATION_CHECK_SECONDS", 0.0)
    monkeypatch.setattr(connection_class, "send_packed_command", counting_send)
    with unit_of_work():  # two service calls, one commit: two notification jobs
        post_message(customer_actor, ticket, "First question.")
        post_message(customer_actor, ticket, "Second question.")
    assert len(round_trips) == 1, round_trips
    assert cache_checks  # what made it fail once: the cache read, not the jobs
    monkeypatch.undo()
    jobs = notification_jobs(queue)
    assert [job.func_name.rsplit(".", 1)[1] for job in jobs] == [
        "staff_of_customer_activity",
        "staff_of_customer_activity",
    ]
    first, second = (job.args for job in jobs)
    assert first[0] < second[0]  # the first message's job first
    release_session(rq_app)
    make_worker(rq_app).work(burst=True, with_scheduler=True)
    assert all(job.get_status(refresh=True) == "finished" for job in jobs)
    assert len(smtp.to("sara@shop.example.com")) == 2


def test_a_long_running_worker_freezes_what_starting_made_a_burst_run_does_not(rq_app, monkeypatch):
    """``flask helpdesk worker`` moves its start-up objects out of the garbage collector's
    generations (``jobs.freeze_start_up``) before it listens, unless it is a ``--burst`` run
    that ends with the queue. Stopped here right after (the worker's ``work`` stands in)."""
    import flask_helpdesk.cli as cli

    frozen: list[str] = []
    monkeypatch.setattr(cli, "freeze_start_up", lambda: frozen.append("frozen"))
    monkeypatch.setattr(SimpleWorker, "work", lambda self, **kwargs: frozen.append("worked"))
    runner = rq_app.test_cli_runner()

    result = runner.invoke(args=["helpdesk", "worker", "--burst"])
    assert result.exit_code == 0, result.output
    assert frozen == ["worked"]

    result = runner.invoke(args=["helpdesk", "worker", "--without-scheduler"])
    assert result.exit_code == 0, result.output
    assert frozen == ["worked", "frozen", "worked"]
