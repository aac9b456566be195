"""A job goes to RQ or runs inline, never both (the real Redis: set HELPDESK_TEST_REDIS_URL).

The jobs of a commit are written by one script (jobs._ENQUEUE_SCRIPT); when they were a
MULTI/EXEC transaction, Redis applied its commands one by one: one could fail while the others
were applied. Queued jobs used to be run inline too whenever any reply was an error, and the
agent got the new ticket's notification twice (once inline, once from the worker).
"""

from __future__ import annotations

import socket
import threading
from contextlib import suppress

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import inspect

from flask_helpdesk import jobs
from flask_helpdesk.jobs import make_worker
from flask_helpdesk.services.agents import make_agent
from flask_helpdesk.services.identity import contact_as_actor, sync_contact
from flask_helpdesk.services.tickets import NewTicket, open_ticket, open_ticket_with_message
from tests.conftest import count_queries, make_member

AGENT = "sara@shop.example.com"


@pytest.fixture
def app(rq_app):
    return rq_app


@pytest.fixture
def queue(rq_app):
    return rq_app.extensions["helpdesk"].dispatcher.queue


def _open_ticket(departments, customer) -> None:
    make_agent(str(make_member("Sara", AGENT).id), ["billing"])
    customer_actor = contact_as_actor(sync_contact(customer))
    open_ticket(customer_actor, NewTicket(departments["billing"].id, "Invoice", "Where is it?"))


def _run_worker(app) -> None:
    app.extensions["helpdesk"].db.session.remove()  # the worker has its own session
    make_worker(app).work(burst=True)


def _jobs_of(queue) -> list[bytes]:
    """The job hashes in Redis that belong to this test's queue."""
    connection = queue.connection
    return [
        key
        for key in connection.scan_iter(match="rq:job:*", count=1000)
        if connection.hget(key, "origin") == queue.name.encode()
    ]


def test_a_step_refused_after_the_push_leaves_the_jobs_queued_and_not_run_inline(
    app, queue, smtp, departments, customer, caplog
):
    # The queue's registration (SADD on the set of queues) fails: that set is a string now.
    # A key of this test's own, not RQ's shared one (other tests may use this Redis).
    queue.redis_queues_keys = f"{queue.key}:registry"
    queue.connection.set(queue.redis_queues_keys, "not a set")
    try:
        _open_ticket(departments, customer)
        assert smtp.to(AGENT) == []  # not run inline: a worker will
        assert queue.count == 1
        _run_worker(app)
    finally:
        queue.connection.delete(queue.redis_queues_keys)
    assert len(smtp.to(AGENT)) == 1  # before: 2, one inline and one from the worker
    assert "Redis refused a step" in caplog.text


def test_a_refused_push_runs_the_jobs_inline_once_and_leaves_no_job_behind(
    app, queue, smtp, departments, customer, caplog
):
    queue.connection.set(queue.key, "not a list")  # RPUSH fails: WRONGTYPE
    try:
        _open_ticket(departments, customer)
        assert len(smtp.to(AGENT)) == 1  # run inline, since no worker can see it
        assert _jobs_of(queue) == []  # its hash, written in the same transaction, deleted
    finally:
        queue.connection.delete(queue.key)
    _run_worker(app)
    assert len(smtp.to(AGENT)) == 1
    assert "Redis refused the jobs" in caplog.text


def test_a_lost_reply_of_a_transaction_that_ran_leaves_the_jobs_to_the_worker(
    app, queue, smtp, departments, customer, monkeypatch, caplog
):
    real_run = jobs._run_enqueue_script

    def run_then_lose_the_reply(*args, **kwargs):
        real_run(*args, **kwargs)
        raise RedisConnectionError("Connection reset by peer")

    monkeypatch.setattr(jobs, "_run_enqueue_script", run_then_lose_the_reply)
    _open_ticket(departments, customer)
    monkeypatch.undo()
    assert smtp.to(AGENT) == []
    _run_worker(app)
    assert len(smtp.to(AGENT)) == 1
    assert "Redis answered late" in caplog.text


def test_a_transaction_that_never_reached_redis_runs_the_jobs_inline(
    app, queue, smtp, departments, customer, monkeypatch
):
    def lose_it(*args, **kwargs):
        raise RedisConnectionError("Connection refused")

    monkeypatch.setattr(jobs, "_run_enqueue_script", lose_it)
    _open_ticket(departments, customer)
    monkeypatch.undo()
    assert len(smtp.to(AGENT)) == 1
    assert queue.count == 0 and _jobs_of(queue) == []


def test_a_redis_that_does_not_know_the_script_yet_is_sent_it(
    app, queue, smtp, departments, customer, monkeypatch
):
    # As after a restart or SCRIPT FLUSH: EVALSHA answers NOSCRIPT, and EVAL sends the script.
    monkeypatch.setattr(jobs, "_ENQUEUE_SHA", b"0" * 40)
    _open_ticket(departments, customer)
    assert smtp.to(AGENT) == [] and queue.count == 1
    _run_worker(app)
    assert len(smtp.to(AGENT)) == 1


def test_thousands_of_jobs_of_one_commit_are_all_queued_in_order(app, queue):
    # The script pushes and deletes in slices: Lua's unpack() takes a few thousand values.
    dispatcher = app.extensions["helpdesk"].dispatcher
    queue.empty()
    assert dispatcher._queue_all([(record_call, (n,), {}) for n in range(2500)])
    ids = queue.job_ids
    assert len(ids) == 2500
    assert [queue.fetch_job(ids[n]).args for n in (0, 999, 1000, 2499)] == [
        (0,),
        (999,),
        (1000,),
        (2499,),
    ]
    queue.empty()


def test_every_queued_job_is_the_job_rq_would_save_and_a_stock_worker_runs_it(
    app, queue, smtp, departments, customer
):
    # The dispatcher makes the hash of a function's second and later jobs itself (cheaper than
    # RQ's Job.create and to_dict): the same fields and values as RQ's own for that call.
    dispatcher = app.extensions["helpdesk"].dispatcher
    _open_ticket(departments, customer)  # its notification: the first job of its function
    customer_actor = contact_as_actor(sync_contact(customer))
    open_ticket(customer_actor, NewTicket(departments["billing"].id, "Refund", "Still waiting."))
    calls = [((7,), {"new_ticket": True}), (("x", [1, 2]), {"note": {"é": None}}), ((), {})]
    for args, kwargs in calls:
        job_id, fields = dispatcher._job_hash(record_call, args, kwargs, {"request_id": "r1"})
        meta, retry = {"request_id": "r1"}, dispatcher.retry_policy()
        rq_job = queue.create_job(
            record_call, args, kwargs, dispatcher.timeout, retry=retry, meta=meta
        )
        expected = {k: v for k, v in rq_job.to_dict().items() if v != ""}
        assert set(fields) == set(expected)
        assert fields.pop("created_at") and expected.pop("created_at")  # a moment apart
        assert fields == expected
        assert job_id != rq_job.id
    second = queue.fetch_job(queue.job_ids[1])
    assert second.func_name.endswith(".staff_of_customer_activity") and second.retries_left == 2
    _run_worker(app)
    subjects = sorted(m.message["Subject"].rsplit(": ", 1)[1] for m in smtp.to(AGENT))
    assert subjects == ["Invoice", "Refund"]


def test_a_commits_jobs_are_stored_under_rqs_keys_created_as_they_are_queued(app, queue):
    # The queue's keys and each job's key prefix are packed once a dispatcher (not asked of
    # RQ for every job); a job made from its function's shape is created in the moment it is
    # queued: one timestamp for both.
    dispatcher = app.extensions["helpdesk"].dispatcher
    queue.empty()
    for _round in range(2):  # the first job of the function is RQ's own, the next ones ours
        assert dispatcher._queue_all([(record_call, (1,), {}), (record_call, (2,), {})])
    ids = queue.job_ids
    assert len(ids) == 4
    connection = queue.connection
    for job_id in ids:
        assert connection.exists(queue.job_class.key_for(job_id))
        assert queue.fetch_job(job_id).func_name.endswith(".record_call")
    assert queue.name in {q.name for q in type(queue).all(connection=connection)}
    for job_id in ids[1:]:
        stored = connection.hgetall(queue.job_class.key_for(job_id))
        assert stored[b"created_at"] == stored[b"enqueued_at"]
    queue.empty()
    # The fields' names packed once are the bytes the client's encoder packs.
    encode = connection.get_encoder().encode
    names = jobs._packed_queue(queue)[-1]
    fields = {"created_at": "2026-12-07T05:00:00.000000Z", "data": b"\x00\xff", "meta": "é"}
    assert jobs._packed(fields, encode, names) == jobs._packed(fields, encode)
    assert jobs._packed(fields, encode) == b"".join(
        jobs._bulk(encode(item)) for field in fields.items() for item in field
    )


def record_call(*args, **kwargs) -> None:
    """A job function for the hash comparison (never run)."""


def record_other_call(*args, **kwargs) -> None:
    """A job function whose hash this RQ release computes otherwise (never run)."""


def test_an_rq_release_that_builds_a_hash_otherwise_makes_every_job_itself(
    app, queue, monkeypatch, caplog
):
    # A later RQ that writes the call string another way: the dispatcher's own hash would
    # differ from RQ's, so the first job of the function shows it and RQ makes every job.
    import rq.utils

    monkeypatch.setattr(rq.utils, "get_call_string", lambda *a, **k: "written another way")
    dispatcher = app.extensions["helpdesk"].dispatcher
    meta, retry = {"request_id": "r2"}, dispatcher.retry_policy()
    for args in [(1,), (2,), (3,)]:
        _, fields = dispatcher._job_hash(record_other_call, args, {}, meta)
        rq_job = queue.create_job(
            record_other_call, args, {}, dispatcher.timeout, retry=retry, meta=meta
        )
        expected = {k: v for k, v in rq_job.to_dict().items() if v != ""}
        assert fields.pop("created_at") and expected.pop("created_at")
        assert fields == expected
    assert "builds" in caplog.text and "record_other_call" in caplog.text


def test_a_ticket_opened_with_jobs_queued_comes_back_loaded(app, queue, departments, customer):
    """The ticket and first message open_ticket returns are as its commit stored them, with RQ
    as inline: what the page it redirects to reads of them (the code, the status) runs no
    statement (it used to refresh the ticket, in a transaction of its own)."""
    make_agent(str(make_member("Sara", AGENT).id), ["billing"])
    customer_actor = contact_as_actor(sync_contact(customer))
    ticket, message = open_ticket_with_message(
        customer_actor, NewTicket(departments["billing"].id, "Invoice", "Where is it?")
    )
    with count_queries(app) as statements:
        seen = [getattr(item, p.key) for item in (ticket, message)
                for p in inspect(item).mapper.column_attrs]  # fmt: skip
    assert statements == []
    assert ticket.code in seen and message.body == "Where is it?"
    assert queue.count == 1  # the staff notification, for the worker


class _ReplyLosingProxy:
    """A TCP proxy to Redis that, once armed, passes the next script command (EVALSHA or EVAL)
    on to Redis, waits for Redis's reply and drops the connection instead of passing it back:
    the script ran, its client sees a connection reset (a reply lost on the way)."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.armed = False
        self.lost = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            losing = threading.Event()  # this connection's next reply is lost
            pumps = ((self._to_redis, (client, server)), (self._to_client, (server, client)))
            for pump, ends in pumps:
                threading.Thread(target=pump, args=(*ends, losing), daemon=True).start()

    def _to_redis(self, client: socket.socket, server: socket.socket, losing) -> None:
        with suppress(OSError):
            while data := client.recv(65536):
                if self.armed and (b"EVALSHA" in data or b"\r\nEVAL\r\n" in data):
                    self.armed = False
                    losing.set()
                server.sendall(data)

    def _to_client(self, server: socket.socket, client: socket.socket, losing) -> None:
        with suppress(OSError):
            while data := server.recv(65536):
                if losing.is_set():  # Redis ran the script: its reply is never passed back
                    self.lost += 1
                    break
                client.sendall(data)
        for end in (client, server):
            with suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()

    def close(self) -> None:
        self.listener.close()


def test_a_reply_lost_after_the_script_ran_queues_the_jobs_once(
    app, queue, smtp, departments, customer, caplog
):
    """redis-py retries a command whose connection was lost (3 times by default): the script
    ran, its reply was lost, and the retry sent it again. Each run pushed the job ids, and a
    worker ran each job twice: the agent got the new ticket's notification twice."""
    from redis import Redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry
    from rq import Queue

    dispatcher = app.extensions["helpdesk"].dispatcher
    kwargs = queue.connection.connection_pool.connection_kwargs
    proxy = _ReplyLosingProxy(kwargs.get("host", "127.0.0.1"), kwargs.get("port", 6379))
    # redis-py 6 and later retry 3 times by default; 5.x only when asked.
    retry = Retry(NoBackoff(), 3)
    proxied = Redis(host="127.0.0.1", port=proxy.port, db=kwargs.get("db", 0), retry=retry)
    dispatcher._queue = Queue(queue.name, connection=proxied)
    queue.connection.script_load(jobs._ENQUEUE_SCRIPT)  # EVALSHA runs it: no NOSCRIPT
    try:
        proxy.armed = True
        _open_ticket(departments, customer)
        assert proxy.lost == 1
    finally:
        dispatcher._queue = queue
        proxied.close()
        proxy.close()
    assert smtp.to(AGENT) == [] and queue.count == 1  # queued once, not run inline
    _run_worker(app)
    assert len(smtp.to(AGENT)) == 1
