"""Inbound mail on RQ, against the real Redis (set HELPDESK_TEST_REDIS_URL) and a real RQ worker:
the mails of a burst are processed by one job (not one job a mail plus one a notification),
each still in its own transaction, the staff notifications sent by that worker right after each
mail's commit; a notification that fails there is retried on RQ without mailing anyone twice; a
worker killed in the middle of a batch loses no mail and sends no notification twice."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from redis.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError
from rq import get_current_job
from rq.registry import StartedJobRegistry
from sqlalchemy import select, text

from flask_helpdesk import jobs
from flask_helpdesk.jobs import make_worker
from flask_helpdesk.models import AuditEvent, InboundMail, InboundStatus, Ticket
from flask_helpdesk.scheduler import Scheduler
from flask_helpdesk.services import intake, mail_auth
from flask_helpdesk.services.agents import make_agent
from flask_helpdesk.services.base import session
from tests.conftest import make_member
from tests.jobs.conftest import redis_url, rq_app  # noqa: F401  (fixtures)
from tests.jobs.test_rq_worker import work_until
from tests.mail.conftest import make_mail

SARA = "sara@shop.example.com"
MINH = "minh@shop.example.com"


@pytest.fixture
def app(rq_app):  # noqa: F811  (every fixture here works on the RQ-backed app)
    return rq_app


@pytest.fixture
def billing(support):
    """Sara works in Billing: she is told of every new request mailed to billing@."""
    make_agent(str(make_member("Sara", SARA).id), ["billing"])
    return support


def request_mail(n: int, **extra) -> bytes:
    return make_mail(
        sender=f"Customer {n} <customer{n}@example.org>",
        to="billing@example.com",
        subject=f"Invoice {n} is wrong",
        body=f"Invoice {n} charges us twice.\n",
        **extra,
    )


def queue_of(app):
    return app.extensions["helpdesk"].dispatcher.queue


def released(app) -> None:
    # The worker has its own session; none of ours may stay open under it (SQLite locks).
    session().remove()


def senders_known() -> None:
    """The customers' domain in this process's DNS cache, as in a worker that took mail from
    them before (a forked worker inherits it): on PostgreSQL their mail is then claimed and
    checked in a batch (intake.process_batch), not one by one with its DNS lookups."""
    mail_auth.check(request_mail(0))


def statuses() -> dict[str, str]:
    session().expire_all()
    return {row.subject: row.status.value for row in session().scalars(select(InboundMail))}


def ticket_subjects() -> list[str]:
    return sorted(session().scalars(select(Ticket.subject)))


def refuse_sara_once(smtp) -> None:
    """The mail server says 451 to the first mail for Sara, then takes everything."""
    original = smtp.handle_DATA
    refused: list[str] = []

    async def handle_data(server, smtp_session, envelope):
        if SARA in envelope.rcpt_tos and not refused:
            refused.append(SARA)
            return "451 4.2.0 Mailbox busy"
        return await original(server, smtp_session, envelope)

    smtp.handle_DATA = handle_data


def test_a_burst_of_mail_is_one_job_and_each_mail_is_notified_once(app, smtp, billing):
    for n in range(1, 6):
        intake.receive(request_mail(n), "pipe")
    queue = queue_of(app)
    [job] = queue.get_jobs()  # one drain job, not five processing jobs
    assert job.func_name == "flask_helpdesk.services.intake.process_received"
    assert set(statuses().values()) == {"received"}
    released(app)

    make_worker(app).work(burst=True, with_scheduler=True)

    assert set(statuses().values()) == {"processed"}
    assert ticket_subjects() == [f"Invoice {n} is wrong" for n in range(1, 6)]
    subjects = sorted(m.message["Subject"].split("] ", 1)[1] for m in smtp.to(SARA))
    assert subjects == [f"New request: Invoice {n} is wrong" for n in range(1, 6)]
    # The notifications were sent by the drain itself: no other job ever ran or waits.
    assert queue.finished_job_registry.get_job_ids() == [job.id]
    assert queue.count == 0 and queue.scheduled_job_registry.get_job_ids() == []


def test_mail_arriving_while_a_worker_waits_is_done_by_the_same_run(app, billing, monkeypatch):
    """A worker that runs until stopped keeps a drain waiting a moment for more mail when its
    list is empty (jobs.DRAIN_LINGER_SECONDS), instead of ending the run: mail arriving a few
    at a time is not one RQ job each (about 3 ms of a worker's CPU a job). A burst worker
    ends at once; here it waits as a long-running one would."""
    monkeypatch.setattr(jobs, "_linger_for", lambda burst: 1.0)
    runs: dict[str, str] = {}
    process = intake.process

    def recorded(inbound_id: int, **kwargs):
        row = process(inbound_id, **kwargs)
        runs[row.subject] = get_current_job().id
        if len(runs) == 1:  # the second mail comes while the run waits for more
            threading.Timer(0.2, receive_in_another_request).start()
        return row

    def receive_in_another_request() -> None:
        with app.app_context():
            intake.receive(request_mail(2), "pipe")
            session().remove()

    monkeypatch.setattr(intake, "process", recorded)
    intake.receive(request_mail(1), "pipe")
    released(app)

    make_worker(app).work(burst=True)

    assert set(statuses().values()) == {"processed"}
    assert len(runs) == 2 and len(set(runs.values())) == 1, runs


def test_a_drain_that_cannot_wait_for_more_mail_ends_its_run_as_before(app, billing, monkeypatch):
    """Redis refusing the wait (a connection with a short socket timeout, say) ends the run
    for want of items, as it did before it waited: the job does not fail."""
    monkeypatch.setattr(jobs, "_linger_for", lambda burst: 1.0)

    def refused(self, *args, **kwargs):
        raise RedisConnectionError("Timeout reading from socket")

    monkeypatch.setattr(type(queue_of(app).connection), "blpop", refused)
    intake.receive(request_mail(1), "pipe")
    queue = queue_of(app)
    [job] = queue.get_jobs()
    released(app)

    make_worker(app).work(burst=True)

    assert set(statuses().values()) == {"processed"}
    assert queue.finished_job_registry.get_job_ids() == [job.id]
    assert queue.failed_job_registry.get_job_ids() == []


def test_a_stored_mail_is_queued_by_one_command_to_redis(app, billing, monkeypatch):
    """The mail's id pushed on the drain's list and the drain's run queued unless one is: one
    command (a script), not a MULTI/EXEC of an RPUSH and a SET (four commands and four
    replies for Redis and for the receiving process); a run queued by the first mail only."""
    connection_class = queue_of(app).connection.connection_pool.connection_class
    real_send = connection_class.send_packed_command
    sent: list[list[bytes]] = []

    def commands(packed: bytes) -> list[bytes]:
        # Each command is an array ("*<n>") whose first element is its name.
        return [part.split(b"\r\n")[2].upper() for part in packed.split(b"\r\n*")]

    def counting_send(self, command, *args, **kwargs):
        sent.append(commands(command if isinstance(command, bytes) else b"".join(command)))
        return real_send(self, command, *args, **kwargs)

    # A Redis that has not run the scripts yet (a fresh server, the first test of a run) is
    # sent each one whole once (EVAL after EVALSHA's NOSCRIPT): loaded first, the count below
    # is the steady one whatever ran before.
    redis = queue_of(app).connection
    assert redis.script_load(jobs._ITEMS_SCRIPT).encode() == jobs._ITEMS_SHA
    assert redis.script_load(jobs._ENQUEUE_SCRIPT).encode() == jobs._ENQUEUE_SHA
    monkeypatch.setattr(connection_class, "send_packed_command", counting_send)
    first = intake.receive(request_mail(1), "pipe").inbound.id
    assert [names[0] for names in sent] == [b"EVALSHA", b"EVALSHA"]  # the list, the run
    sent.clear()
    second = intake.receive(request_mail(2), "pipe").inbound.id
    assert sent == [[b"EVALSHA"]]
    monkeypatch.undo()

    dispatcher = app.extensions["helpdesk"].dispatcher
    assert redis.lrange(dispatcher.drain_key(intake.process_received, "items"), 0, -1) == [
        str(first).encode(),
        str(second).encode(),
    ]
    assert 0 < redis.ttl(dispatcher.drain_key(intake.process_received, "armed")) <= 30
    [job] = queue_of(app).get_jobs()
    assert job.func_name.endswith("process_received")
    released(app)
    make_worker(app).work(burst=True)
    assert statuses() == {"Invoice 1 is wrong": "processed", "Invoice 2 is wrong": "processed"}


def test_a_drained_mail_with_its_notification_takes_three_round_trips_to_redis(
    app, smtp, billing, monkeypatch
):
    """The drain's own round trips (its list, its job's meta): the meta saved before the
    notification runs and after it sent (a worker killed later sends nothing twice), and the
    meta saved at the end together with the next mail's LPOP. Five before (and an LPOP)."""
    from redis import Redis

    for n in range(1, 6):
        intake.receive(request_mail(n), "pipe")
    [job] = queue_of(app).get_jobs()
    released(app)
    ours = (f"rq:job:{job.id}".encode(), b"helpdesk:drain:")
    round_trips: list[list[str]] = []

    def note(commands) -> None:
        def ours_(command) -> bool:
            key = command[1] if len(command) > 1 else b""
            key = key if isinstance(key, bytes) else str(key).encode()
            meta = command[0] == "HSET" and len(command) > 2 and command[2] == "meta"
            return (meta or command[0] == "LPOP") and key.startswith(ours)

        if any(ours_(command) for command in commands):
            round_trips.append([str(command[0]) for command in commands])

    execute_command, execute = Redis.execute_command, Pipeline.execute

    def one(self, *args, **options):
        note([args])
        return execute_command(self, *args, **options)

    def pipeline(self, *args, **options):
        note([command for command, _options in self.command_stack])
        return execute(self, *args, **options)

    monkeypatch.setattr(Redis, "execute_command", one)
    monkeypatch.setattr(Pipeline, "execute", pipeline)
    make_worker(app).work(burst=True, with_scheduler=True)
    monkeypatch.undo()

    assert len(smtp.to(SARA)) == 5
    if intake.batches():
        # PostgreSQL: the five mails are one batch (one LPOP), one commit, then their five
        # notifications in a row: the meta saved once before they run, as each one's
        # recipient is mailed and after each but the last, then with the last LPOP.
        assert len(round_trips) == 1 + 1 + 2 * 5 - 1 + 1
    else:
        # The first LPOP, then three a mail; the last pipeline's LPOP finds the list empty.
        assert len(round_trips) == 1 + 3 * 5
    assert round_trips[-1] == ["HSET", "LPOP"]


def test_a_run_hands_over_to_a_new_job_well_before_the_job_timeout(app, smtp, billing, monkeypatch):
    """A run stops after a third of HELPDESK_JOB_TIMEOUT and queues the next one: the timeout
    never strikes in the middle of a mail (which would fail it). On PostgreSQL the six mails
    are one batch (3.6 s of mail, longer than the timeout): it stops once its second mail
    ends past the run's second, commits, and lists the other four again for the next run."""
    monkeypatch.setenv(intake.TESTING_HOOKS_ENV, "1")
    app.extensions["helpdesk"].dispatcher.timeout = 3  # a run may take 1 s
    senders_known()
    for n in range(1, 7):
        intake.receive(request_mail(n, headers={"X-Helpdesk-Test-Sleep": "0.6"}), "pipe")
    released(app)

    make_worker(app).work(burst=True)

    assert set(statuses().values()) == {"processed"}
    runs = queue_of(app).finished_job_registry.get_job_ids()
    assert len(runs) >= 3  # 3.6 s of mail: not one run, nor two
    assert not queue_of(app).failed_job_registry.get_job_ids()
    assert len(smtp.to(SARA)) == 6
    in_order = session().scalars(select(Ticket.subject).order_by(Ticket.id))
    assert list(in_order) == [f"Invoice {n} is wrong" for n in range(1, 7)]


def test_mail_received_while_a_drain_runs_is_not_left_behind(app, smtp, billing, monkeypatch):
    intake.receive(request_mail(1), "pipe")
    released(app)
    real_process = intake.process
    arrived: list[int] = []

    def process_and_receive(inbound_id: int, **kwargs):
        result = real_process(inbound_id, **kwargs)
        if not arrived:  # a mail arrives while the drain works: the list or a new job has it
            arrived.append(intake.receive(request_mail(2), "pipe").inbound.id)
        return result

    monkeypatch.setattr(intake, "process", process_and_receive)
    work_until(app, lambda: set(statuses().values()) == {"processed"})
    assert ticket_subjects() == ["Invoice 1 is wrong", "Invoice 2 is wrong"]
    assert len(smtp.to(SARA)) == 2


def test_a_notification_failing_in_the_drain_is_retried_without_mailing_anyone_twice(
    app, smtp, billing
):
    make_agent(str(make_member("Minh", MINH).id), ["billing"])
    intake.receive(request_mail(1), "pipe")
    released(app)
    refuse_sara_once(smtp)
    make_worker(app).work(burst=True, with_scheduler=True)

    # The mail is stored whatever its notification does; Minh has his, Sara's waits on RQ.
    assert statuses() == {"Invoice 1 is wrong": "processed"}
    assert len(smtp.to(MINH)) == 1 and smtp.to(SARA) == []
    queue = queue_of(app)
    [retry_id] = queue.scheduled_job_registry.get_job_ids()
    failed = (
        session()
        .scalars(select(AuditEvent).where(AuditEvent.action == "notification.failed"))
        .all()
    )
    assert [(e.data["recipients"], e.data["will_retry"]) for e in failed] == [([SARA], True)]
    released(app)

    work_until(app, lambda: queue.fetch_job(retry_id).get_status() == "finished")

    assert len(smtp.to(SARA)) == 1
    assert len(smtp.to(MINH)) == 1  # not mailed again by the retry


def test_a_worker_killed_mid_batch_loses_no_mail_and_sends_nothing_twice(
    app, smtp, billing, monkeypatch
):
    """A worker is killed (SIGKILL) while it processes the second mail of four: the first is
    stored and notified, the second's transaction dies with the worker, the last two are
    still listed. RQ's maintenance then finds the drain job abandoned and runs it again, and
    the drain's own sweep takes up the mail the killed worker had in hand.

    On PostgreSQL the four are one batch (one transaction, a savepoint a mail): the first
    mail's ticket is written but not committed when the worker dies in the second, so all
    four stay ``received``, none notified, none listed any more; the sweep takes them up."""
    batched = intake.batches()
    senders_known()
    monkeypatch.setenv(intake.TESTING_HOOKS_ENV, "1")
    mails = [request_mail(1), request_mail(2, headers={"X-Helpdesk-Test-Sleep": "60"})]
    mails += [request_mail(3), request_mail(4)]
    for raw in mails:
        intake.receive(raw, "pipe")
    queue = queue_of(app)
    dispatcher = app.extensions["helpdesk"].dispatcher
    items = dispatcher.drain_key(intake.process_received, "items")
    engine = app.extensions["helpdesk"].engine
    released(app)
    engine.dispose()  # the worker must not share our connections

    pid = os.fork()
    if pid == 0:  # the worker: never returns into pytest
        try:
            engine.dispose(close=False)
            make_worker(app).work(burst=True)
        finally:
            os._exit(0)
    try:
        deadline = time.monotonic() + 60
        # The first mail done and the second taken from the list: the worker sleeps in it.
        while not (first_done(batched) and queue.connection.llen(items) == (0 if batched else 2)):
            assert time.monotonic() < deadline, "the worker never reached the second mail"
            released(app)
            time.sleep(0.1)
        released(app)
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)

    assert statuses() == {
        # In a batch, the first mail's result dies with the batch's transaction.
        "Invoice 1 is wrong": "received" if batched else "processed",
        "Invoice 2 is wrong": "received",  # its transaction died with the worker
        "Invoice 3 is wrong": "received",
        "Invoice 4 is wrong": "received",
    }
    assert len(smtp.to(SARA)) == (0 if batched else 1)
    assert not ticket_subjects() if batched else True
    released(app)

    monkeypatch.delenv(intake.TESTING_HOOKS_ENV)
    monkeypatch.setattr(intake, "SWEEP_FROM_DRAIN_SECONDS", 1)
    time.sleep(1.1)
    # What a worker's maintenance does once the killed worker's job is past its heartbeat.
    StartedJobRegistry(queue=queue).cleanup(timestamp=time.time() + 3600)
    work_until(app, lambda: set(statuses().values()) == {"processed"})

    assert ticket_subjects() == [f"Invoice {n} is wrong" for n in range(1, 5)]
    subjects = sorted(m.message["Subject"].split("] ", 1)[1] for m in smtp.to(SARA))
    assert subjects == [f"New request: Invoice {n} is wrong" for n in range(1, 5)]
    rows = session().scalars(select(InboundMail).order_by(InboundMail.id)).all()
    assert [row.status for row in rows] == [InboundStatus.PROCESSED] * 4


def first_done(batched: bool) -> bool:
    """Whether the worker is past the first mail: committed, or in a batch, its ticket
    written in the batch's open transaction (the worker's lock on the tickets' table)."""
    if not batched:
        return statuses()["Invoice 1 is wrong"] == "processed"
    written = text(
        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
        " WHERE c.relname = :table AND l.mode = 'RowExclusiveLock' AND l.pid <> pg_backend_pid()"
    )
    return bool(session().scalar(written, {"table": Ticket.__tablename__}))


def test_a_lost_reply_at_receive_processes_the_mail_here_and_the_drain_does_not_again(
    app, smtp, billing, monkeypatch
):
    """Redis took the mail's id but its reply was lost: the mail is processed inline at once
    (nothing may wait on a list no run is queued for), and the next run, queued by the next
    mail, finds it done."""
    real_send = jobs._send

    def send_then_lose_the_reply(client, command):
        real_send(client, command)
        raise RedisConnectionError("Connection reset by peer")

    monkeypatch.setattr(jobs, "_send", send_then_lose_the_reply)
    intake.receive(request_mail(1), "pipe")
    monkeypatch.undo()
    assert statuses() == {"Invoice 1 is wrong": "processed"}

    intake.receive(request_mail(2), "pipe")
    queue = queue_of(app)
    assert [job.func_name.rsplit(".", 1)[1] for job in queue.get_jobs()] == [
        "staff_of_customer_activity",  # mail 1's, queued by its inline processing
        "process_received",
    ]
    released(app)
    make_worker(app).work(burst=True)
    assert ticket_subjects() == ["Invoice 1 is wrong", "Invoice 2 is wrong"]
    assert statuses() == {"Invoice 1 is wrong": "processed", "Invoice 2 is wrong": "processed"}
    assert len(smtp.to(SARA)) == 2


def test_a_mail_listed_by_a_command_sent_again_after_a_late_reply_gets_a_run(
    app, smtp, billing, monkeypatch
):
    """A ``HELPDESK_REDIS_URL`` with ``socket_timeout`` and ``retry_on_timeout``: redis-py
    sends a command again when its reply is late. Redis had run the script listing the mail
    and setting its drain's key: the script run again must still answer that the key is this
    command's (a run to queue), else no run is queued and the mail waits on its list until
    another mail comes once the key has expired."""
    from redis.backoff import NoBackoff
    from redis.exceptions import TimeoutError as RedisTimeoutError
    from redis.retry import Retry

    pool = queue_of(app).connection.connection_pool
    monkeypatch.setitem(pool.connection_kwargs, "retry", Retry(NoBackoff(), 1))
    pool.reset()  # connections made anew, with the URL's retry
    connection_class = pool.connection_class
    real_send, real_read = connection_class.send_packed_command, connection_class.read_response
    sent: list[bytes] = []
    late: list[object] = []

    def send(self, command, *args, **kwargs):
        sent.append(command if isinstance(command, bytes) else b"".join(command))
        return real_send(self, command, *args, **kwargs)

    def read_late(self, *args, **kwargs):
        reply = real_read(self, *args, **kwargs)
        listing = jobs._ITEMS_SHA in sent[-1] or jobs._ITEMS_SCRIPT.encode() in sent[-1]
        if not late and listing:
            late.append(reply)  # run by Redis, its reply too late for the client
            raise RedisTimeoutError("Timeout reading from socket")
        return reply

    monkeypatch.setattr(connection_class, "send_packed_command", send)
    monkeypatch.setattr(connection_class, "read_response", read_late)
    intake.receive(request_mail(1), "pipe")
    monkeypatch.undo()
    pool.reset()
    assert late == [[1]]
    assert statuses() == {"Invoice 1 is wrong": "received"}  # listed, not processed here
    items = app.extensions["helpdesk"].dispatcher.drain_key(intake.process_received, "items")
    assert len(queue_of(app).connection.lrange(items, 0, -1)) == 1  # run twice, listed once
    assert [job.func_name.rsplit(".", 1)[1] for job in queue_of(app).get_jobs()] == [
        "process_received"
    ]
    released(app)
    make_worker(app).work(burst=True)
    assert statuses() == {"Invoice 1 is wrong": "processed"}
    assert ticket_subjects() == ["Invoice 1 is wrong"]


def test_the_sweep_after_a_run_hands_over_before_the_job_timeout(app, smtp, billing, monkeypatch):
    """Redis lost the list (six mails still ``received``, listed nowhere): the next run finds
    it empty and sweeps them. The sweep keeps to the run's budget (a third of the job
    timeout) and hands the rest over to a new run: the job timeout never strikes in the
    middle of a mail, which would be set aside as failed. Before, the sweep took every mail
    it found in one go (up to 500), past the timeout."""
    monkeypatch.setenv(intake.TESTING_HOOKS_ENV, "1")
    monkeypatch.setattr(intake, "SWEEP_FROM_DRAIN_SECONDS", 1)
    dispatcher = app.extensions["helpdesk"].dispatcher
    dispatcher.timeout = 3  # a run may take 1 s; the six mails take 3.6 s
    for n in range(1, 7):
        intake.receive(request_mail(n, headers={"X-Helpdesk-Test-Sleep": "0.6"}), "pipe")
    redis = queue_of(app).connection
    redis.delete(dispatcher.drain_key(intake.process_received, "items"))  # the list is lost
    released(app)
    time.sleep(1.1)  # received more than SWEEP_FROM_DRAIN_SECONDS ago

    work_until(app, lambda: "received" not in statuses().values())

    # Not one JobTimeoutException: "Task exceeded maximum timeout value (3 seconds)".
    assert set(statuses().values()) == {"processed"}
    runs = queue_of(app).finished_job_registry.get_job_ids()
    assert len(runs) >= 2  # 3.6 s of mail: not one run
    assert len(smtp.to(SARA)) == 6


def test_mail_listed_while_its_run_was_lost_is_taken_up_by_the_scheduler(
    app, smtp, billing, monkeypatch
):
    """The key saying a run is queued is set, but its job never reached the queue (the process
    queueing it died between its two round trips, the job was deleted): a mail stored then
    is listed and no run is queued for it; with no other mail after it, no run ever comes.
    The scheduler's mail sweep takes it up (before: nothing did, but cron's
    ``process-mail``)."""
    monkeypatch.setattr(intake, "SWEEP_FROM_DRAIN_SECONDS", 1)  # a minute in production
    dispatcher = app.extensions["helpdesk"].dispatcher
    queue = queue_of(app)
    queue.connection.set(dispatcher.drain_key(intake.process_received, "armed"), 1, ex=30)
    intake.receive(request_mail(1), "pipe")
    assert queue.count == 0  # listed, no run queued
    released(app)
    time.sleep(1.1)

    assert "mail" in Scheduler(app).tick()
    make_worker(app).work(burst=True)

    assert statuses() == {"Invoice 1 is wrong": "processed"}
    assert len(smtp.to(SARA)) == 1


def test_a_worker_killed_right_after_handing_a_notification_over_does_not_send_it_twice(
    app, smtp, billing
):
    """The notification fails in the drain (the mail server says 451), goes to RQ as a job of
    its own, and the worker is killed (SIGKILL) right after: the drain job, run again, must
    not send it as well (the job on RQ does). Before, the follow-up was marked done in the
    drain job's meta only when it had sent something: Sara got it twice."""
    intake.receive(request_mail(1), "pipe")
    queue = queue_of(app)
    dispatcher = app.extensions["helpdesk"].dispatcher
    engine = app.extensions["helpdesk"].engine
    refuse_sara_once(smtp)
    released(app)
    engine.dispose()

    pid = os.fork()
    if pid == 0:  # the worker, killed right after the hand-over: never returns into pytest
        try:
            engine.dispose(close=False)
            real_hand_over = dispatcher.hand_over

            def hand_over_then_die(*args, **kwargs):
                real_hand_over(*args, **kwargs)
                os.kill(os.getpid(), signal.SIGKILL)

            dispatcher.hand_over = hand_over_then_die
            make_worker(app).work(burst=True)
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and smtp.to(SARA) == []
    assert statuses() == {"Invoice 1 is wrong": "processed"}
    released(app)

    StartedJobRegistry(queue=queue).cleanup(timestamp=time.time() + 3600)
    time.sleep(1.1)  # the handed-over job is due after the first retry interval (1 s)
    work_until(app, lambda: len(smtp.to(SARA)) >= 1 and queue.count == 0)
    make_worker(app).work(burst=True, with_scheduler=True)

    assert len(smtp.to(SARA)) == 1


def test_a_worker_asked_to_stop_ends_its_drain_after_the_mail_in_hand(app, billing, monkeypatch):
    """A warm shutdown (SIGTERM) waits for the job in hand; a drain that waits for more mail
    (jobs.DRAIN_LINGER_SECONDS) kept taking mail as long as some came within its wait, up to
    its budget (20 s: longer than a container's stop grace). It finishes the mail in hand and
    leaves the others to a new run, queued for the next worker."""
    monkeypatch.setattr(jobs, "_linger_for", lambda burst: 1.0)  # as a long-running worker
    # On PostgreSQL a batch is the work in hand: two mails a batch here.
    batch = 2 if intake.batches() else 1
    monkeypatch.setattr(intake, "BATCH_SIZE", batch)
    senders_known()
    process, process_batch = intake.process, intake.process_batch
    done: list[str] = []

    def then_stop(inbound_id: int, **kwargs):
        row = process(inbound_id, **kwargs)
        done.append(row.subject)
        if len(done) == 1:
            os.kill(os.getpid(), signal.SIGTERM)  # RQ's handler: stop after this job
        return row

    def batch_then_stop(ids: list[int], deadline: float) -> list[int]:
        left = process_batch(ids, deadline)
        taken = select(InboundMail.subject).where(InboundMail.id.in_(ids))
        done.extend(sorted(session().scalars(taken)))
        os.kill(os.getpid(), signal.SIGTERM)
        return left

    monkeypatch.setattr(intake, "process", then_stop)
    monkeypatch.setattr(intake, "process_batch", batch_then_stop)
    for n in range(1, 3 + batch):
        intake.receive(request_mail(n), "pipe")
    released(app)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        make_worker(app).work(burst=True)
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)

    assert done == [f"Invoice {n} is wrong" for n in range(1, 1 + batch)]
    assert sorted(statuses().values()) == ["processed"] * batch + ["received", "received"]
    [run] = queue_of(app).get_jobs()  # the rest: a new run of the drain
    assert run.func_name == "flask_helpdesk.services.intake.process_received"
    released(app)
    make_worker(app).work(burst=True)
    assert set(statuses().values()) == {"processed"}


def test_a_redis_that_does_not_know_the_queueing_script_is_sent_it(app, billing, monkeypatch):
    """Redis forgets scripts (a restart, SCRIPT FLUSH): the mail's id is queued all the same,
    the script sent whole (EVAL) when its SHA1 is unknown, nothing run inline."""
    monkeypatch.setattr(jobs, "_ITEMS_SHA", b"0" * 40)  # a script Redis never saw
    received = intake.receive(request_mail(1), "pipe")
    dispatcher = app.extensions["helpdesk"].dispatcher
    redis = queue_of(app).connection
    items = redis.lrange(dispatcher.drain_key(intake.process_received, "items"), 0, -1)
    assert items == [str(received.inbound.id).encode()]
    assert statuses() == {"Invoice 1 is wrong": "received"}  # not processed inline


def test_a_mail_redis_refuses_to_list_is_processed_here(app, billing, caplog):
    """Redis refuses the push (here: the list's key holds a string): the mail is processed
    inline at once, as when Redis is unreachable, and nothing waits on a list. The drain's
    key is not left set by the refused command: the next mail listed queues a run."""
    dispatcher = app.extensions["helpdesk"].dispatcher
    redis = queue_of(app).connection
    redis.set(dispatcher.drain_key(intake.process_received, "items"), "not a list")
    intake.receive(request_mail(1), "pipe")
    assert "Redis refused process" in caplog.text
    assert statuses() == {"Invoice 1 is wrong": "processed"}
    redis.delete(dispatcher.drain_key(intake.process_received, "items"))
    assert not redis.exists(dispatcher.drain_key(intake.process_received, "armed"))
    intake.receive(request_mail(2), "pipe")
    assert [job.func_name.rsplit(".", 1)[1] for job in queue_of(app).get_jobs()] == [
        "staff_of_customer_activity",  # mail 1's, queued by its inline processing
        "process_received",
    ]
