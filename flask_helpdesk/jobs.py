"""Background work: the one dispatcher, and what job functions may ask it.

Services call :func:`enqueue` while they work; the jobs wait in the session until the service
commits (:func:`services.base.commit`), so a job never sees uncommitted or rolled-back
data. Then they run inline (no ``HELPDESK_REDIS_URL``) or go to an RQ queue, where
``flask helpdesk worker`` runs them inside an app context.

Job functions are plain module-level functions taking ids, never objects, and live with the
service they belong to (:mod:`.services.notifications`, :func:`.services.intake.process`): this
module knows nothing of them, so services may import it without a cycle.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from .logs import NO_REQUEST, current_request_id

logger = logging.getLogger("flask_helpdesk.jobs")

PENDING_KEY = "helpdesk_pending_jobs"
DONE_META_KEY = "helpdesk_done"
# How long the worker's command listener (``rq:pubsub:<worker>``) waits in one read. RQ 3 waits
# 60 s and, on the way out, stops the listener with redis-py's ``stop()``, which since redis-py 8
# waits for the listener's read to end: when the UNSUBSCRIBE reply woke the listener before the
# stop flag was set, it went back into a new read and every worker exit (each ``--burst`` run,
# each shutdown) hung for a minute. With a short read the listener sees the flag at once.
COMMAND_POLL_SECONDS = 0.2


def _session():
    return current_app.extensions["helpdesk"].db.session


def enqueue(func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Schedule ``func(*args, **kwargs)`` to run once the current transaction commits."""
    _session().info.setdefault(PENDING_KEY, []).append((func, args, kwargs))


def discard_pending() -> None:
    """Forget jobs of a transaction that was rolled back."""
    _session().info.pop(PENDING_KEY, None)


def dispatch_pending() -> None:
    """Run or queue the jobs of the transaction that just committed."""
    pending = _session().info.pop(PENDING_KEY, None)
    if pending:
        current_app.extensions["helpdesk"].dispatcher.dispatch_all(pending)


@event.listens_for(Session, "after_soft_rollback")
def _forget_jobs_on_rollback(session: Session, previous_transaction: Any) -> None:
    # Whoever rolls back (a service, the host, Flask-SQLAlchemy on an error), the jobs of that
    # transaction must never run: they would act on rows that do not exist. Savepoint rollbacks
    # (``begin_nested``) keep them: the outer transaction may still commit.
    if previous_transaction.parent is None and not previous_transaction.nested:
        session.info.pop(PENDING_KEY, None)


def _job_name(func: Callable[..., Any]) -> str:
    return getattr(func, "__name__", repr(func))


def _names(jobs: list[tuple[Callable[..., Any], tuple, dict[str, Any]]]) -> str:
    return ", ".join(_job_name(func) for func, _args, _kwargs in jobs)


class JobDispatcher:
    """Sends a job to RQ when Redis is configured, else runs it inline in this process."""

    def __init__(
        self,
        app: Flask,
        redis_url: str | None,
        queue_name: str,
        retries: int,
        retry_intervals: tuple[int, ...],
        timeout: int | None = None,
    ) -> None:
        self.app = app
        self.redis_url = redis_url
        self.queue_name = queue_name
        self.retries = retries
        self.retry_intervals = list(retry_intervals)
        self.timeout = timeout
        self._queue = None

    @property
    def uses_rq(self) -> bool:
        return bool(self.redis_url)

    @property
    def queue(self):
        """The RQ queue (created on first use so that apps without Redis never import rq)."""
        if self._queue is None:
            from redis import Redis
            from rq import Queue

            self._queue = Queue(self.queue_name, connection=Redis.from_url(self.redis_url))
        return self._queue

    def retry_policy(self):
        """RQ's :class:`~rq.Retry` from ``HELPDESK_JOB_RETRIES``/``_RETRY_INTERVALS`` (or None)."""
        if not self.retries:
            return None
        from rq import Retry

        return Retry(max=self.retries, interval=self.retry_intervals or 0)

    def dispatch(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self.dispatch_all([(func, args, kwargs)])

    def dispatch_all(self, jobs: list[tuple[Callable[..., Any], tuple, dict[str, Any]]]) -> None:
        """Queue *jobs* (``(func, args, kwargs)``, in order) on RQ, or run them inline.

        Either or, never both: a job that reached the queue is never also run here (a worker
        runs it: two notifications), and one that did not is run here (the user's change is
        committed; an error page now would make them repeat it, and a lost notification is
        worse than a slower request). See :meth:`_queue_all`.
        """
        if self.uses_rq and self._queue_all(jobs):
            return
        for func, args, kwargs in jobs:
            self.run_inline(func, *args, **kwargs)

    def _queue_all(self, jobs: list[tuple[Callable[..., Any], tuple, dict[str, Any]]]) -> bool:
        """Put *jobs* on the RQ queue; False when none of them is there (Redis unreachable, or
        it refused the push), and the caller runs them inline.

        The jobs are RQ's own (:meth:`rq.Queue.create_job`, what ``enqueue_call`` builds),
        saved as RQ saves them, in one MULTI/EXEC round trip for the jobs of a transaction: the
        queue registered, each job's hash, then ONE push of every job id. Only the push makes
        a job visible to a worker, and Redis applies one command whole or not at all: all of
        the jobs are queued or none. Before, each job had its own push, and the first error
        among the transaction's replies (any command's: the queue's registration, say) sent
        every job inline, the queued ones too.

        Cheaper than ``enqueue_call`` per job (0.24 ms of CPU a job, a third of what ticket
        creation spent queueing): the status goes in the job's hash, not in a second HSET,
        and the hash leaves out RQ's empty fields (no callback, not started yet: RQ reads a
        missing field as an empty one), half the arguments redis-py encodes and packs.
        """
        from redis.exceptions import RedisError
        from rq.utils import now

        queue = self.queue
        retry = self.retry_policy()
        # The worker logs the job's lines under the request that queued it.
        request_id = current_request_id.get()
        ids: list[str] = []
        try:
            pipeline = queue.connection.pipeline()  # MULTI/EXEC
            pipeline.sadd(queue.redis_queues_keys, queue.key)
            enqueued_at = now()
            for func, args, kwargs in jobs:
                job = queue.create_job(
                    func,
                    args=args,
                    kwargs=kwargs,
                    timeout=self.timeout,
                    retry=retry,
                    meta={"request_id": request_id},
                )
                job.enqueued_at = enqueued_at
                pipeline.hset(job.key, mapping={k: v for k, v in job.to_dict().items() if v != ""})
                ids.append(job.id)
            pipeline.rpush(queue.key, *ids)
            replies = pipeline.execute(raise_on_error=False)
        except RedisError:
            if ids and self._stored(queue, ids[0]):
                # The reply was lost, but the transaction ran (it is applied whole): queued.
                logger.warning("helpdesk: Redis answered late, jobs %s queued", _names(jobs))
                return True
            logger.exception("helpdesk: Redis unreachable, running jobs %s inline", _names(jobs))
            return False
        if isinstance(replies[-1], Exception):
            logger.error(
                "helpdesk: Redis refused the jobs (%s), running %s inline",
                replies[-1],
                _names(jobs),
            )
            self._forget(queue, ids)
            return False
        for reply in replies[:-1]:
            if isinstance(reply, Exception):
                # Queued all the same (the push went through, a worker runs them): not inline.
                logger.error(
                    "helpdesk: jobs %s queued, Redis refused a step: %s", _names(jobs), reply
                )
        return True

    @staticmethod
    def _stored(queue: Any, job_id: str) -> bool:
        """Whether the job's hash is in Redis: the transaction that wrote it ran. False when
        Redis cannot be asked either: most likely the transaction never reached it (a
        duplicate then only if Redis ran it and became unreachable in the same moment)."""
        from redis.exceptions import RedisError

        try:
            return bool(queue.connection.exists(queue.job_class.key_for(job_id)))
        except RedisError:
            return False

    @staticmethod
    def _forget(queue: Any, ids: list[str]) -> None:
        """Delete the hashes of jobs whose push Redis refused: no worker will ever see them."""
        from redis.exceptions import RedisError

        try:
            queue.connection.delete(*(queue.job_class.key_for(job_id) for job_id in ids))
        except RedisError:
            logger.warning("helpdesk: could not delete the unqueued jobs %s", ", ".join(ids))

    def run_inline(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        try:
            func(*args, **kwargs)
        except Exception:
            # Inline mode: the user's action already committed; a failing follow-up (a mail
            # server down) must not turn it into an error page. It is logged for the operator
            # (and the job itself records an audit event the desk can show).
            logger.exception("helpdesk job %s failed", _job_name(func))
            _session().rollback()


def make_worker(app: Flask, queue_names: list[str] | None = None):
    """An RQ worker that runs every job inside an app context of *app*.

    A SimpleWorker (no fork per job): database connections are never shared across a fork,
    and jobs start fast. Run several worker processes for concurrency. Start it with
    ``worker.work(with_scheduler=True)`` so that retries with an interval are re-queued
    (``flask helpdesk worker`` does). *queue_names* default to ``HELPDESK_QUEUE_NAME``.
    """
    from rq import Queue, SimpleWorker

    state = app.extensions["helpdesk"]
    dispatcher = state.dispatcher
    if not dispatcher.uses_rq:
        raise RuntimeError("HELPDESK_REDIS_URL is not set: jobs run inline, no worker needed")
    connection = dispatcher.queue.connection
    queues = [Queue(name, connection=connection) for name in queue_names or [dispatcher.queue_name]]

    class AppContextWorker(SimpleWorker):
        def execute_job(self, job, queue):  # type: ignore[override]
            # Its own app context per job: its own database session, removed afterwards so a
            # long-running worker never carries stale objects or an aborted transaction along.
            token = current_request_id.set(job.meta.get("request_id") or NO_REQUEST)
            with app.app_context():
                try:
                    return super().execute_job(job, queue)
                finally:
                    state.db.session.remove()
                    current_request_id.reset(token)

        def subscribe(self) -> None:
            # RQ's own subscribe(), with a short read: see COMMAND_POLL_SECONDS.
            self.pubsub = self.connection.pubsub()
            self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
            self.pubsub_thread = self.pubsub.run_in_thread(
                sleep_time=COMMAND_POLL_SECONDS,
                daemon=True,
                exception_handler=self._pubsub_exception_handler,
            )

    return AppContextWorker(queues, connection=connection)


# -- helpers for job functions ----------------------------------------------------------------


def _current_rq_job():
    if not current_app.extensions["helpdesk"].dispatcher.uses_rq:
        return None
    from rq import get_current_job

    return get_current_job()


def will_retry() -> bool:
    """True when the running job fails now and RQ will try it again (never inline)."""
    job = _current_rq_job()
    return bool(job is not None and job.retries_left)


def already_done(key: str) -> bool:
    """Whether a previous attempt of the running RQ job already did step *key*.

    A job that sends several mails retries as a whole; this keeps a retry from mailing the
    recipients who already got theirs.
    """
    job = _current_rq_job()
    return job is not None and key in job.meta.get(DONE_META_KEY, [])


def report_progress(done: int) -> None:
    """Record how far a long job got (``job.meta["progress"]``, read by ``rq info`` or the
    desk); inline there is no one to tell but the log."""
    job = _current_rq_job()
    if job is not None:
        job.meta["progress"] = done
        job.save_meta()


def mark_done(key: str) -> None:
    job = _current_rq_job()
    if job is not None:
        job.meta.setdefault(DONE_META_KEY, []).append(key)
        job.save_meta()
