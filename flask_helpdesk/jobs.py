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

import gc
import hashlib
import inspect
import logging
import os
import re
import zlib
from collections.abc import Callable
from contextlib import suppress
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from time import monotonic
from typing import Any, NamedTuple
from uuid import uuid4

from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session, configure_mappers

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
# Batched work (see enqueue_item): how long a queued drain job keeps the others from being
# queued (the drain deletes the key when it starts; the expiry only matters when a queued job
# was lost), and how long one drain job runs before it hands over to a new one (well under
# HELPDESK_JOB_TIMEOUT: a drain stopped by the timeout would fail the item in hand).
DRAIN_ARMED_SECONDS = 30
DRAIN_SECONDS = 20.0
# How long a drain whose list is empty waits for another item (one BLPOP) before it ends, in a
# worker that runs until stopped: each run of a drain is an RQ job, about 3 ms of a worker's
# CPU (RQ's dequeue, registries, status and heartbeat: measured with 300 jobs doing nothing),
# against 4 to 6 ms for processing a mail. Mail arriving a few milliseconds apart, faster than
# one worker takes it and slower than the intake fills the list, ended a run and queued a new
# one every few mails (44 to 123 runs for 1,000 mails in bench/mail_ingest.py with 2
# workers). Other jobs wait at most this long behind a waiting drain; a ``--burst`` worker
# (and the tests) ends the run as soon as the list is empty.
DRAIN_LINGER_SECONDS = 0.25
FOLLOW_UPS_META_KEY = "helpdesk_follow_ups"
# The fields of RQ's job hash that differ from one job of a function to the next (_job_hash;
# ``enqueued_at`` is added by the caller).
_PER_JOB_FIELDS = frozenset({"created_at", "data", "description", "meta", "enqueued_at"})
# What JobDispatcher._queue_all has Redis run for the jobs of a commit, whole (a script runs
# with no other command in between). KEYS: RQ's set of queues, the queue, each job's hash.
# ARGV: the queue's key (for the set), then for each job its id, the number of the hash's
# field and value arguments, and those. A refused hash or push deletes the hashes written and
# is the reply (an error): no job queued. The registration comes last; its refusal is the
# reply's second element, the jobs queued all the same. RQ's own scheduler needs scripts too,
# so a Redis that refuses them is no Redis RQ runs on.
_ENQUEUE_SCRIPT = """
local function refused(reply) return type(reply) == 'table' and reply.err ~= nil end
-- unpack() takes at most a few thousand values: a long list goes in slices (a push refused
-- after its first slice leaves ids without a hash, which a worker skips).
local function in_slices(command, key, list, first, last)
  local reply
  for i = first, last, 1000 do
    local j = math.min(i + 999, last)
    if key then reply = redis.pcall(command, key, unpack(list, i, j))
    else reply = redis.pcall(command, unpack(list, i, j)) end
    if refused(reply) then return reply end
  end
  return reply
end
-- Sent again after its reply was lost (redis-py retries a command whose connection failed):
-- it ran whole, the first job's hash is there (a new id each job). Pushing again would queue
-- every job twice.
if redis.call('EXISTS', KEYS[3]) == 1 then return {0} end
local ids, at = {}, 2
for k = 3, #KEYS do
  local n = tonumber(ARGV[at + 1])
  local written = redis.pcall('HSET', KEYS[k], unpack(ARGV, at + 2, at + 1 + n))
  if refused(written) then
    if k > 3 then in_slices('DEL', nil, KEYS, 3, k - 1) end
    return written
  end
  ids[#ids + 1] = ARGV[at]
  at = at + 2 + n
end
local pushed = in_slices('RPUSH', KEYS[2], ids, 1, #ids)
if refused(pushed) then
  in_slices('DEL', nil, KEYS, 3, #KEYS)
  return pushed
end
local registered = redis.pcall('SADD', KEYS[1], ARGV[1])
if refused(registered) then return {pushed, registered.err} end
return {pushed}
"""
_ENQUEUE_SHA = hashlib.sha1(_ENQUEUE_SCRIPT.encode()).hexdigest().encode()
# What JobDispatcher._queue_items has Redis run for the items of a commit (mail ids): for each
# drain, its items pushed on its list and its ``armed`` key set unless set (whoever sets it
# queues a run). KEYS: each drain's list and ``armed`` key. ARGV: the key's expiry (seconds),
# the command's token (its own, random), then for each drain the number of its items and the
# items. The reply: for each drain, 1 when this command set its key (a run is to be queued),
# else 0. The key holds the token of the command that set it: the same command sent again
# (redis-py's retry after a reply lost or late, with ``retry_on_timeout`` in the URL) finds
# its own token, pushes nothing twice and still answers 1; without it the retry answered 0,
# no run was queued, and the mail waited on its list for the next one. The push comes before
# the key is set: a refused push (an error, the mail done inline) leaves no key behind.
_ITEMS_SCRIPT = """
local armed, at = {}, 3
for k = 1, #KEYS, 2 do
  local n = tonumber(ARGV[at])
  local again = redis.call('GET', KEYS[k + 1]) == ARGV[2]
  local set = false
  if not again then  -- the push first: refused, it leaves the key unset
    for i = at + 1, at + n, 1000 do
      redis.call('RPUSH', KEYS[k], unpack(ARGV, i, math.min(i + 999, at + n)))
    end
    set = redis.call('SET', KEYS[k + 1], ARGV[2], 'NX', 'EX', ARGV[1])
  end
  at = at + 1 + n
  armed[#armed + 1] = (again or set) and 1 or 0
end
return armed
"""
_ITEMS_SHA = hashlib.sha1(_ITEMS_SCRIPT.encode()).hexdigest().encode()


class _Shape(NamedTuple):
    """What RQ's hashes of the jobs of one function hold alike (see JobDispatcher._job_hash)."""

    func_name: str
    common: dict[str, Any]
    serializer: Any
    packed: bytes  # the common fields and values in Redis's protocol (see _packed)
    length: int  # how many: twice the number of fields


def _session():
    return current_app._get_current_object().extensions["helpdesk"].db.session  # see base


def enqueue(func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Schedule ``func(*args, **kwargs)`` to run once the current transaction commits."""
    _session().info.setdefault(PENDING_KEY, []).append((func, args, kwargs))


@dataclass(frozen=True)
class Drain:
    """Stands for a batch job in the pending list: *item* is added to what *drain* does
    (see :func:`enqueue_item`); *each* is the job for one item, run inline without RQ."""

    drain: Callable[[], Any]
    each: Callable[[Any], Any]


def enqueue_item(drain: Callable[[], Any], each: Callable[[Any], Any], item: int) -> None:
    """Once the current transaction commits, have *item* done by a batch job.

    On RQ the item goes to a Redis list and ``drain`` (a job function taking no argument, which
    calls :func:`run_drain`) is queued only when no run of it is queued already: one RQ job,
    with RQ's own bookkeeping, for many items instead of one each. Inline, ``each(item)`` runs
    right after the commit as any job does. *drain* must tolerate an item it never gets (a
    worker killed with items taken): the item's own state, not the list, is what counts."""
    _session().info.setdefault(PENDING_KEY, []).append((Drain(drain, each), (item,), {}))


def discard_pending() -> None:
    """Forget jobs of a transaction that was rolled back."""
    _session().info.pop(PENDING_KEY, None)


def dispatch_pending() -> None:
    """Run or queue the jobs of the transaction that just committed."""
    pending = _session().info.pop(PENDING_KEY, None)
    if pending:
        current_app._get_current_object().extensions["helpdesk"].dispatcher.dispatch_all(pending)


@event.listens_for(Session, "after_soft_rollback")
def _forget_jobs_on_rollback(session: Session, previous_transaction: Any) -> None:
    # Whoever rolls back (a service, the host, Flask-SQLAlchemy on an error), the jobs of that
    # transaction must never run: they would act on rows that do not exist. Savepoint rollbacks
    # (``begin_nested``) keep them: the outer transaction may still commit.
    if previous_transaction.parent is None and not previous_transaction.nested:
        session.info.pop(PENDING_KEY, None)


def _job_name(func: Callable[..., Any]) -> str:
    return getattr(func, "__name__", repr(func))


def _each(drains: dict[Drain, list[Any]]) -> str:
    return ", ".join(_job_name(drain.each) for drain in drains)


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
        # A job function -> what RQ's hash of each of its jobs holds alike, or None when this
        # RQ release computes a hash otherwise (see _job_hash).
        self._job_shapes: dict[Callable[..., Any], _Shape | None] = {}
        self._packed_drain_keys: dict[Callable[[], Any], list[bytes]] = {}
        self._packed_queue: tuple[Any, ...] | None = None  # see _packed_queue

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
        here = _RUN_HERE.get()
        if here is not None and self.uses_rq:
            token = _RUN_HERE.set(None)  # what these jobs queue in turn goes to RQ as usual
            try:
                here.run(self, jobs)
            finally:
                _RUN_HERE.reset(token)
            return
        items = [job for job in jobs if isinstance(job[0], Drain)]
        if items:
            jobs = [job for job in jobs if not isinstance(job[0], Drain)]
            if not (self.uses_rq and self._queue_items(items)):
                for drain, args, _kwargs in items:
                    self.run_inline(drain.each, *args)
            if not jobs:
                return
        if self.uses_rq and self._queue_all(jobs):
            return
        for func, args, kwargs in jobs:
            self.run_inline(func, *args, **kwargs)

    def _queue_items(self, items: list[tuple[Drain, tuple, dict[str, Any]]]) -> bool:
        """Add the items to their drains' Redis lists and queue a run of each drain that has
        none queued (see :func:`enqueue_item`); False when the caller must do them inline.

        One command (:data:`_ITEMS_SCRIPT`), not a MULTI/EXEC of an RPUSH and a SET: one
        command and one reply where the transaction was four of each, packed here (see
        :func:`_run_script`). Taking an item twice is harmless (the drain's job finds it
        done: a mail is claimed atomically), so a lost reply or a refused step is simply
        done here too."""
        from redis.exceptions import RedisError, ResponseError

        drains: dict[Drain, list[Any]] = {}
        for drain, args, _kwargs in items:
            drains.setdefault(drain, []).append(args[0])
        connection = self.queue.connection
        encode = connection.get_encoder().encode
        keys, argv = [], [_bulk(b"%d" % DRAIN_ARMED_SECONDS), _bulk(os.urandom(8).hex().encode())]
        for drain, listed in drains.items():
            keys += self._drain_keys(drain.drain, connection)
            argv.append(_bulk(b"%d" % len(listed)))
            argv += [_bulk(b"%d" % item if type(item) is int else encode(item)) for item in listed]
        arguments = b"%s%s%s" % (_bulk(b"%d" % len(keys)), b"".join(keys), b"".join(argv))
        try:
            armed = _run_script(
                connection, _ITEMS_SCRIPT, _ITEMS_SHA, 1 + len(keys) + len(argv), arguments
            )
        except ResponseError as refused:
            logger.error("helpdesk: Redis refused %s (%s), running it inline", _each(drains),
                         refused)  # fmt: skip
            return False
        except RedisError:
            logger.exception("helpdesk: Redis unreachable, running %s inline", _each(drains))
            # Had the script run (the reply lost), no run would be queued for as long as
            # the key lasts: the next item queues one instead (an extra run is harmless).
            with suppress(RedisError):
                connection.delete(*(self.drain_key(d.drain, "armed") for d in drains))
            return False
        for drain, queued in zip(drains, armed, strict=True):
            if queued and not self._queue_all([(drain.drain, (), {})]):
                # No run queued: this commit's items are done here (a later run skips them),
                # and the next item tries to queue one again.
                with suppress(RedisError):  # else it expires within DRAIN_ARMED_SECONDS
                    connection.delete(self.drain_key(drain.drain, "armed"))
                return False
        return True

    def _drain_keys(self, drain: Callable[[], Any], connection: Any) -> list[bytes]:
        """*drain*'s ``items`` and ``armed`` keys packed as arguments (see :func:`_bulk`),
        built once a drain."""
        packed = self._packed_drain_keys.get(drain)
        if packed is None:
            encode = connection.get_encoder().encode
            packed = self._packed_drain_keys[drain] = [
                _bulk(encode(self.drain_key(drain, what))) for what in ("items", "armed")
            ]
        return packed

    def drain_key(self, drain: Callable[[], Any], what: str) -> str:
        """The Redis key of *drain*'s items (``items``) or of its queued run (``armed``)."""
        return f"helpdesk:drain:{self.queue_name}:{_job_name(drain)}:{what}"

    def queue_drain(self, drain: Callable[[], Any]) -> None:
        """Queue a run of *drain* unless one is queued (a run that stops with items left)."""
        from redis.exceptions import RedisError

        armed = self.drain_key(drain, "armed")
        try:
            queued = self.queue.connection.set(armed, 1, nx=True, ex=DRAIN_ARMED_SECONDS)
            if queued and not self._queue_all([(drain, (), {})]):
                self.queue.connection.delete(armed)
        except RedisError:
            # The key expires, and the next item queues a run; the drain's sweep takes up
            # what is left meanwhile.
            logger.exception("helpdesk: Redis unreachable, %s not queued", _job_name(drain))

    def _queue_all(self, jobs: list[tuple[Callable[..., Any], tuple, dict[str, Any]]]) -> bool:
        """Put *jobs* on the RQ queue; False when none of them is there (Redis unreachable, or
        it refused a job's hash or the push), and the caller runs them inline.

        The jobs are RQ's own (:meth:`rq.Queue.create_job`, what ``enqueue_call`` builds),
        saved as RQ saves them, by one script Redis runs whole (:data:`_ENQUEUE_SCRIPT`, one
        round trip for the jobs of a transaction): each job's hash, then ONE push of every
        job id, then the queue's registration. Only the push makes a job visible to a worker:
        all of the jobs are queued or none (a refused hash or push deletes the hashes written,
        in the script, so no worker ever meets half a job). A refused registration leaves the
        jobs queued (a worker of the queue runs them): logged, not inline.

        Cheaper than ``enqueue_call`` per job (0.24 ms of CPU a job, a third of what ticket
        creation spent queueing): the status goes in the job's hash, not in a second HSET,
        and the hash leaves out RQ's empty fields (no callback, not started yet: RQ reads a
        missing field as an empty one), half the arguments to encode and pack. One script
        instead of a MULTI/EXEC of SADD, HSET and RPUSH, packed here (see
        :func:`_run_enqueue_script`): one command and one reply instead of five commands and a
        transaction's replies, 0.10-0.15 → 0.06-0.09 ms of CPU a job (issue 17).
        """
        if not jobs:
            return True
        from redis.exceptions import RedisError, ResponseError
        from rq.utils import now, utcformat

        queue = self.queue
        packed = self._packed_queue
        if packed is None or packed[0] is not queue:
            packed = self._packed_queue = _packed_queue(queue)
        _queue, encode, keys_of_queue, queue_key, job_key, names = packed
        # The worker logs the job's lines under the request that queued it.
        meta = {"request_id": current_request_id.get()}
        stamp = utcformat(now())  # created and queued in the same moment
        enqueued_at = _bulk(b"enqueued_at") + _bulk(encode(stamp))
        keys = [keys_of_queue]
        argv = [queue_key]
        ids: list[str] = []
        count = 1
        for func, args, kwargs in jobs:
            job_id, fields, length = self._packed_hash(
                func, args, kwargs, meta, encode, stamp, names
            )
            keys.append(
                _bulk(job_key + job_id.encode())
                if job_key is not None
                else _bulk(encode(queue.job_class.key_for(job_id)))
            )
            argv += (_bulk(job_id.encode()), _bulk(b"%d" % (length + 2)), fields, enqueued_at)
            count += 2 + length + 2
            ids.append(job_id)
        keys_count = 1 + len(keys)  # keys_of_queue holds two
        arguments = b"%s%s%s" % (_bulk(b"%d" % keys_count), b"".join(keys), b"".join(argv))
        count += 1 + keys_count
        try:
            reply = _run_enqueue_script(queue.connection, count, arguments)
        except ResponseError as refused:
            # The script wrote nothing, or deleted the hashes it wrote: no job is there.
            logger.error(
                "helpdesk: Redis refused the jobs (%s), running %s inline", refused, _names(jobs)
            )
            return False
        except RedisError:
            if self._stored(queue, ids[0]):
                # The reply was lost, but the script ran (it is applied whole): queued.
                logger.warning("helpdesk: Redis answered late, jobs %s queued", _names(jobs))
                return True
            logger.exception("helpdesk: Redis unreachable, running jobs %s inline", _names(jobs))
            return False
        if len(reply) > 1:
            # Queued all the same (the push went through, a worker runs them): not inline.
            logger.error(
                "helpdesk: jobs %s queued, Redis refused a step: %s", _names(jobs), reply[1]
            )
        return True

    def _packed_hash(
        self,
        func: Callable[..., Any],
        args: tuple,
        kwargs: dict[str, Any],
        meta: dict[str, Any],
        encode: Callable[[Any], bytes],
        created_at: str | None = None,
        names: dict[str, bytes] | None = None,
    ) -> tuple[str, bytes, int]:
        """:meth:`_job_hash`'s id and hash, the hash's fields and values in Redis's protocol
        (what a job of *func* holds alike packed once, kept with its shape) and their count;
        *created_at* the job's creation time as RQ writes it (by default, now)."""
        shape = self._job_shapes.get(func) if inspect.isfunction(func) else None
        if shape is None:
            job_id, fields = self._job_hash(func, args, kwargs, meta)
            return job_id, _packed(fields, encode), 2 * len(fields)
        fields = _per_job_fields(shape, args, kwargs, meta, created_at)
        packed = shape.packed + _packed(fields, encode, names)
        return str(uuid4()), packed, shape.length + 2 * len(fields)

    def _job_hash(
        self, func: Callable[..., Any], args: tuple, kwargs: dict[str, Any], meta: dict[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        """A new job's id and its hash as RQ saves it (:meth:`rq.Queue.create_job` with this
        dispatcher's timeout and retries, then ``to_dict`` less its empty fields), for the
        hash field ``enqueued_at`` to be added.

        For a plain function (every job function is one) the fields that are the same for
        every job of *func* come from one job RQ made, kept; a call fills in what RQ would
        compute for this one (the same serializer, compression and call string). A third of
        the CPU a queued job cost in the creating process (issue 17); tests/jobs compare it
        with RQ's own hash, field for field."""
        queue = self.queue
        shape = self._job_shapes.get(func) if inspect.isfunction(func) else None
        if shape is None:
            job = queue.create_job(
                func,
                args=args,
                kwargs=kwargs,
                timeout=self.timeout,
                retry=self.retry_policy(),
                meta=meta,
            )
            fields = {k: v for k, v in job.to_dict().items() if v != ""}
            if inspect.isfunction(func) and func not in self._job_shapes:
                self._job_shapes[func] = self._shape_of(job, fields, args, kwargs, meta)
            return job.id, fields
        return str(uuid4()), _shaped_hash(shape, args, kwargs, meta)

    def _shape_of(
        self, job: Any, fields: dict[str, Any], args: tuple, kwargs: dict[str, Any], meta: Any
    ) -> _Shape | None:
        """What the hashes of *job*'s function hold alike, or None (RQ makes every job of it)
        when the hash made from it differs from RQ's own for *job*'s very call: an RQ release
        that computes a field another way keeps working, only slower."""
        common = {k: v for k, v in fields.items() if k not in _PER_JOB_FIELDS}
        packed = _packed(common, self.queue.connection.get_encoder().encode)
        shape = _Shape(job.func_name, common, self.queue.serializer, packed, 2 * len(common))
        try:
            ours = _shaped_hash(shape, args, kwargs, meta)
        except Exception:  # an RQ helper gone or changed: RQ makes the jobs, as said
            ours = None
        if (
            ours is None
            or ours.keys() != fields.keys()
            or any(ours[k] != fields[k] for k in fields if k != "created_at")
        ):
            logger.warning(
                "helpdesk: this RQ release builds %s's job hash differently; RQ makes each job",
                job.func_name,
            )
            return None
        return shape

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

    def hand_over(
        self,
        func: Callable[..., Any],
        args: tuple,
        kwargs: dict[str, Any],
        meta: dict,
        holder: Any = None,
    ) -> None:
        """Queue on RQ a job that failed when run in the worker (see :func:`run_drain`): its
        first RQ try after the first retry interval, then the retries left, as if RQ had run
        the failed try itself. *meta* carries what that try did (:func:`mark_done`).

        *holder* (the drain's RQ job) has its meta saved in the same MULTI/EXEC: the job is
        on RQ if and only if the drain's meta says it is done there. Saved after it, a worker
        killed in between left a drain job that sent it again when RQ ran it once more."""
        from rq import Retry

        intervals = self.retry_intervals or [0]
        left = self.retries - 1
        with self.queue.connection.pipeline() as pipeline:  # MULTI/EXEC
            self.queue.enqueue_at(
                datetime.now(UTC) + timedelta(seconds=intervals[0]),
                func,
                args=args,
                kwargs=kwargs,
                job_timeout=self.timeout,
                retry=Retry(max=left, interval=intervals[1:] or intervals) if left > 0 else None,
                meta={"request_id": current_request_id.get(), **meta},
                pipeline=pipeline,
            )
            if holder is not None:
                pipeline.hset(holder.key, "meta", holder.serializer.dumps(holder.meta))
            pipeline.execute()

    def run_inline(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        try:
            func(*args, **kwargs)
        except Exception:
            # Inline mode: the user's action already committed; a failing follow-up (a mail
            # server down) must not turn it into an error page. It is logged for the operator
            # (and the job itself records an audit event the desk can show).
            logger.exception("helpdesk job %s failed", _job_name(func))
            _session().rollback()


def _shaped_hash(shape: _Shape, args: tuple, kwargs: dict[str, Any], meta: Any) -> dict[str, Any]:
    """The hash RQ would save for a job of *shape*'s function with these arguments, less
    ``enqueued_at`` (see :meth:`JobDispatcher._job_hash`)."""
    return {**shape.common, **_per_job_fields(shape, args, kwargs, meta)}


def _per_job_fields(
    shape: _Shape, args: tuple, kwargs: dict[str, Any], meta: Any, created_at: str | None = None
) -> dict[str, Any]:
    """What RQ computes for each job of *shape*'s function (:data:`_PER_JOB_FIELDS` less
    ``enqueued_at``); *created_at* as RQ writes it, by default now."""
    from rq.utils import get_call_string, now, utcformat

    func_name, serializer = shape.func_name, shape.serializer
    return {
        "created_at": created_at or utcformat(now()),
        "data": zlib.compress(serializer.dumps((func_name, None, args, kwargs))),
        "description": get_call_string(func_name, args, kwargs, max_length=75),
        "meta": serializer.dumps(meta),
    }


def _packed_queue(
    queue: Any,
) -> tuple[Any, Callable[[Any], bytes], bytes, bytes, bytes | None, dict[str, bytes]]:
    """What :meth:`JobDispatcher._queue_all` sends alike for every commit's jobs to *queue*,
    packed once: *queue*, its client's encoder, the script's first two keys (RQ's set of
    queues, the queue), its first value (the queue's key), the prefix of a job's key (None
    where RQ's key of a job is not that prefix and the job's id: each key from RQ then), and
    the names of the fields each job has (:data:`_PER_JOB_FIELDS`) packed."""
    encode = queue.connection.get_encoder().encode
    key_for = queue.job_class.key_for
    prefix = key_for("")
    job_key = encode(prefix) if key_for("a-job-id") == prefix + "a-job-id" else None
    keys = _bulk(encode(queue.redis_queues_keys)) + _bulk(encode(queue.key))
    names = {name: _bulk(encode(name)) for name in _PER_JOB_FIELDS}
    return queue, encode, keys, _bulk(encode(queue.key)), job_key, names


def _bulk(value: bytes) -> bytes:
    """*value* as one argument of a command in Redis's protocol (a bulk string)."""
    return b"$%d\r\n%s\r\n" % (len(value), value)


def _packed(
    fields: dict[str, Any], encode: Callable[[Any], bytes], names: dict[str, bytes] | None = None
) -> bytes:
    """The names and values of *fields* as arguments in Redis's protocol, each encoded as
    redis-py encodes a command's (its client's encoder: the same bytes as an HSET had); a
    name in *names* as packed there (the fields every job has, packed once by the same
    encoder: :func:`_packed_queue`). Bytes go as they are, as the encoder gives them back
    (issue 17: a queued job's fields went through the encoder one by one, eight calls a job)."""
    names = names or {}
    packed = []
    for name, value in fields.items():
        packed.append(names.get(name) or _bulk(encode(name)))
        packed.append(_bulk(value if type(value) is bytes else encode(value)))
    return b"".join(packed)


def _run_enqueue_script(client: Any, count: int, arguments: bytes) -> Any:
    """Run :data:`_ENQUEUE_SCRIPT` on *client*'s Redis with *arguments* (*count* of them, in
    Redis's protocol: the number of keys, the keys, the values) and return its reply.

    The command is packed here, not by redis-py (``evalsha``): the packing of its 30-odd
    arguments, one by one, was half of what the enqueue cost (issue 17), and what a job of a
    function holds alike is packed once (:class:`_Shape`). See :func:`_run_script`."""
    return _run_script(client, _ENQUEUE_SCRIPT, _ENQUEUE_SHA, count, arguments)


def _run_script(client: Any, script: str, sha: bytes, count: int, arguments: bytes) -> Any:
    """Run *script* (its SHA1 *sha*) with *arguments* (*count* of them, packed) and return its
    reply. Sent and read as redis-py's own commands are: a connection from the client's
    pool, its retry policy for a connection lost or timed out (the connection dropped and
    made again), an error reply raised."""
    from redis.exceptions import NoScriptError

    header = b"*%d\r\n$7\r\nEVALSHA\r\n$40\r\n%s\r\n" % (count + 2, sha)
    try:
        return _send(client, header + arguments)
    except NoScriptError:  # a Redis that has not run it yet (restarted, flushed): nothing ran
        source = _bulk(script.encode())
        return _send(client, b"*%d\r\n$4\r\nEVAL\r\n%s%s" % (count + 2, source, arguments))


def _send(client: Any, command: bytes) -> Any:
    pool = client.connection_pool
    connection = pool.get_connection()

    def send() -> Any:
        connection.send_packed_command([command])  # a list of chunks to send
        return connection.read_response()

    try:
        return connection.retry.call_with_retry(send, lambda _error: connection.disconnect())
    finally:
        pool.release(connection)


class _LocalJob:
    """What :func:`already_done` and the others see of a job the worker runs outside RQ's own
    bookkeeping: its meta lives in the drain's RQ job (saved with it), or nowhere."""

    def __init__(self, holder: Any, meta: dict[str, Any], retries_left: int) -> None:
        self.holder = holder
        self.meta = meta
        self.retries_left = retries_left

    def save_meta(self) -> None:
        if self.holder is not None:
            self.holder.save_meta()


_LOCAL_JOB: ContextVar[_LocalJob | None] = ContextVar("helpdesk_local_job", default=None)


class _FollowUps:
    """While a drain does one item: the jobs its commit queues run right here, after it."""

    def __init__(self, holder: Any) -> None:
        self.holder = holder  # the drain's RQ job
        # The holder's meta changed since it was last saved: saved with the next item's LPOP,
        # in one round trip (see _next_items), or when the drain ends.
        self.unsaved = False

    def run(self, dispatcher: JobDispatcher, pending: list) -> None:
        # Called inside the item's commit(): nothing may raise from here, the item is stored.
        drains = [entry for entry in pending if isinstance(entry[0], Drain)]
        if drains:
            dispatcher.dispatch_all(drains)
        calls = [{"call": entry, "meta": {}} for entry in pending if entry not in drains]
        if not calls:
            return
        # In the drain job's meta first: a worker killed from here on leaves the drain job
        # abandoned, RQ retries it, and the retry runs these before anything else.
        if self.holder is not None:
            self.holder.meta[FOLLOW_UPS_META_KEY] = calls
        _run_follow_ups(dispatcher, self.holder, calls, save_at_end=False)
        self.unsaved = self.holder is not None

    def save(self) -> None:
        if self.unsaved:
            self.unsaved = False
            _save_meta(self.holder)


_RUN_HERE: ContextVar[_FollowUps | None] = ContextVar("helpdesk_run_here", default=None)
# Seconds the running drain waits for more items once its list is empty (see
# DRAIN_LINGER_SECONDS): set by the worker for each job it runs, 0 elsewhere.
_LINGER: ContextVar[float] = ContextVar("helpdesk_drain_linger", default=0.0)
# Whether the worker running the job was asked to stop (a warm shutdown: SIGTERM), read by a
# drain after each item: set by the worker for each job it runs.
_STOP_ASKED: ContextVar[Callable[[], bool]] = ContextVar(
    "helpdesk_stop_asked", default=lambda: False
)


def _linger_for(burst: bool) -> float:
    """How long drains wait for more items in a worker started with *burst* (see above)."""
    return 0.0 if burst else DRAIN_LINGER_SECONDS


def follow_ups_run_here() -> bool:
    """Whether the jobs the current transaction queues will run in this process right after
    its commit: inline (no RQ), or in an RQ worker's drain (see :func:`run_drain`)."""
    if _RUN_HERE.get() is not None:
        return True
    return not current_app._get_current_object().extensions["helpdesk"].dispatcher.uses_rq


def _save_meta(holder: Any) -> None:
    try:
        holder.save_meta()
    except Exception:  # Redis gone: the follow-ups still run; only a kill now would lose them
        logger.exception("helpdesk: could not save the follow-up jobs of %s", holder.id)


def _run_follow_ups(
    dispatcher: JobDispatcher, holder: Any, calls: list[dict], save_at_end: bool = True
) -> None:
    """Run the follow-up *calls*, recorded in *holder*'s meta before and as they are done.
    *save_at_end* False: the caller saves the meta after (the record of the calls is gone
    from it then); until it does, a retry of the job would run the last ones again, and
    skip what they had sent (:func:`already_done`), as after a kill right after a send."""
    if holder is not None:
        _save_meta(holder)
    for entry in calls:
        if entry.get("done"):
            continue
        func, args, kwargs = entry["call"]
        # Retried (on RQ) if it fails here and retries are configured: the job knows it.
        local = _LocalJob(holder, entry["meta"], retries_left=1 if dispatcher.retries else 0)
        token = _LOCAL_JOB.set(local)
        try:
            func(*args, **kwargs)
        except Exception:
            logger.warning("helpdesk job %s failed in the worker", _job_name(func), exc_info=True)
            _session().rollback()
            # Done here: RQ has it from now on, in the same MULTI/EXEC (see hand_over).
            entry["done"] = True
            if dispatcher.retries:
                try:
                    dispatcher.hand_over(func, args, kwargs, entry["meta"], holder=holder)
                except Exception:
                    logger.exception("helpdesk: job %s not queued again", _job_name(func))
        finally:
            _LOCAL_JOB.reset(token)
        entry["done"] = True
        # It sent something: keep that known (the last one's is saved with the end, next).
        if entry["meta"] and holder is not None and entry is not calls[-1]:
            _save_meta(holder)
    if holder is not None:
        holder.meta.pop(FOLLOW_UPS_META_KEY, None)
        if save_at_end:
            _save_meta(holder)


def drain_budget() -> float:
    """Seconds a drain job works before it hands over to a new one: ``DRAIN_SECONDS``, or a
    third of ``HELPDESK_JOB_TIMEOUT`` if that is less (the item in hand when the timeout
    struck would fail)."""
    timeout = current_app.extensions["helpdesk"].dispatcher.timeout
    return min(DRAIN_SECONDS, timeout / 3) if timeout else DRAIN_SECONDS


def run_drain(
    drain: Callable[[], Any],
    each: Callable[[int], Any],
    batch: tuple[Callable[[list[int]], Any], int] | None = None,
) -> bool:
    """The body of a drain job (see :func:`enqueue_item`): ``each(item)`` for the items queued
    for *drain*, one at a time, until none is left (none comes within ``DRAIN_LINGER_SECONDS``
    in a worker that is not a burst) or ``DRAIN_SECONDS`` (at most a third of
    ``HELPDESK_JOB_TIMEOUT``) have passed or the worker was asked to stop (a warm shutdown:
    after the item in hand); then a new run is queued. *batch* ``(function, size)``: up to
    *size* items are taken at once (those listed: never a wait for more) and
    ``function(items, deadline)`` does them, its commit's jobs run after it as an item's; it
    returns the items it did not reach by the run's deadline (``monotonic()``), listed again
    first for the next run.

    Each item runs in a session of its own; the jobs its commit queues (a notification) run
    in this worker right after it, recorded in this job's meta first so that a worker killed
    meanwhile loses none (RQ retries the abandoned job, which runs them first). One that
    fails goes to RQ with the retries left. Items are taken one at a time (or a batch's
    few), so that another worker's run shares the work. True when it ended for want of
    items."""
    dispatcher = current_app.extensions["helpdesk"].dispatcher
    holder = _current_rq_job()
    if holder is not None and holder.meta.get(FOLLOW_UPS_META_KEY):
        _run_follow_ups(dispatcher, holder, holder.meta[FOLLOW_UPS_META_KEY])
    redis = dispatcher.queue.connection
    # From here on an item added queues a new run: none is left behind by this one ending.
    redis.delete(dispatcher.drain_key(drain, "armed"))
    items_key = dispatcher.drain_key(drain, "items")
    deadline = monotonic() + drain_budget()
    follow_ups = _FollowUps(holder)
    size = batch[1] if batch is not None else 1
    try:
        while (items := _next_items(redis, items_key, follow_ups, size)) or (
            items := _wait_for_item(redis, items_key, deadline)
        ):
            here = _RUN_HERE.set(follow_ups)
            local = _LOCAL_JOB.set(_LocalJob(None, {}, retries_left=0))
            try:
                if batch is not None and len(items) > 1:
                    left = batch[0]([int(item) for item in items], deadline)
                    if left:  # first again, in order: the next run takes them up
                        redis.lpush(items_key, *reversed(left))
                else:
                    each(int(items[0]))
            finally:
                _LOCAL_JOB.reset(local)
                _RUN_HERE.reset(here)
                _session().remove()
            if monotonic() > deadline or _STOP_ASKED.get()():
                # The budget spent, or the worker is to stop (it waits for this job: the
                # other items would keep it, as long as some come within the linger).
                dispatcher.queue_drain(drain)
                return False
        return True
    finally:
        follow_ups.save()


def _wait_for_item(redis: Any, items_key: str, deadline: float) -> list[bytes]:
    """The next item pushed within the worker's linger (and the run's budget), if any."""
    linger = min(_LINGER.get(), deadline - monotonic())
    if linger <= 0:
        return []
    from redis.exceptions import RedisError

    try:
        found = redis.blpop([items_key], timeout=linger)
    except RedisError:  # a connection that may not block (a short socket_timeout): no wait
        logger.warning("helpdesk: the drain could not wait for more items", exc_info=True)
        return []
    return [found[1]] if found else []


def _next_items(redis: Any, items_key: str, follow_ups: _FollowUps, size: int) -> list[bytes]:
    """The drain's next item, or up to *size* of them (LPOP), and in the same round trip (a
    pipeline, the save first) the drain job's meta the last items' follow-ups left unsaved:
    a mail with a staff notification took five round trips to Redis, three now."""
    count = size if size > 1 else None  # LPOP without a count: one item, not a list
    if not follow_ups.unsaved:
        return _listed(redis.lpop(items_key, count))
    follow_ups.unsaved = False
    holder = follow_ups.holder
    pipeline = redis.pipeline(transaction=False)
    pipeline.hset(holder.key, "meta", holder.serializer.dumps(holder.meta))
    pipeline.lpop(items_key, count)
    saved, items = pipeline.execute(raise_on_error=False)
    if isinstance(saved, Exception):  # as _save_meta: the work goes on
        logger.error("helpdesk: could not save the follow-up jobs of %s: %s", holder.id, saved)
    if isinstance(items, Exception):
        raise items
    return _listed(items)


def _listed(popped: Any) -> list[bytes]:
    """LPOP's reply as a list: None (nothing listed), one item, or a list of them."""
    if popped is None:
        return []
    return popped if isinstance(popped, list) else [popped]


# -- a worker's read-only transactions ---------------------------------------------------------
#
# psycopg prepares a statement on the server once it has run it five times on a connection, and
# forgets every one it prepared (``DEALLOCATE ALL``) at each ROLLBACK. A worker ends every job,
# and every mail a drain processes, with ``session.remove()``: a ROLLBACK of the transaction
# that a notification's lazy loads opened after the mail's commit. Nothing ever stayed
# prepared, and PostgreSQL parsed and planned each statement every time (the roll-up's upsert
# into its ~330 columns: 0.8 ms of server CPU a new ticket, 0.2 prepared; 1.1 of the 2.7 ms the
# server spent on a mail). A transaction that ran nothing but reads is therefore committed
# when it is rolled back: the same for the database (nothing written, its locks released
# either way), and the prepared statements stay.
WROTE_KEY = "helpdesk_wrote"
_READS_ONLY = re.compile(r"\s*SELECT\b(?!.*\b(?:INSERT|UPDATE|DELETE|MERGE|NOTIFY)\b)", re.I | re.S)


def commit_read_only_rollbacks(engine: Any) -> None:
    """On a psycopg *engine*: a transaction that ran only ``SELECT`` statements (none naming a
    write: a data-modifying ``WITH``, ``FOR UPDATE`` and ``pg_notify`` count as writes) ends
    by COMMIT when it is rolled back (see above). Other drivers: nothing changes."""
    if engine.dialect.driver != "psycopg" or event.contains(engine, "rollback", _commit_reads):
        return
    event.listen(engine, "begin", _began)
    event.listen(engine, "before_cursor_execute", _note_writes)
    event.listen(engine, "rollback", _commit_reads)


def _began(connection: Any) -> None:
    connection.info[WROTE_KEY] = False


def _note_writes(connection, cursor, statement, parameters, context, executemany) -> None:
    if not connection.info.get(WROTE_KEY) and not _READS_ONLY.match(statement):
        connection.info[WROTE_KEY] = True


def _commit_reads(connection: Any) -> None:
    if connection.info.get(WROTE_KEY, True):  # unknown (begun before the listeners): as is
        return
    driver = connection.connection.dbapi_connection
    from psycopg.pq import TransactionStatus  # the engine's driver: installed

    if driver is not None and driver.info.transaction_status == TransactionStatus.INTRANS:
        with suppress(Exception):  # the rollback that follows ends it anyway
            driver.commit()


# -- a worker's cursors ------------------------------------------------------------------------
#
# SQLAlchemy reads ``cursor.description`` after every statement, and psycopg builds it anew each
# time: a ``Column`` object per result column with its type looked up (62 columns a mail in a
# worker, about 3 % of its CPU under cProfile). For a statement compiled once, SQLAlchemy keeps
# the result's metadata and only asks whether there is a description at all; the columns are
# then never read.


def lazy_descriptions(engine: Any) -> None:
    """On a psycopg *engine* whose connections use psycopg's own cursor class: cursors whose
    ``description`` is built when first read, not when asked for. Other drivers, or a cursor
    class of the host's (``connect_args={"cursor_factory": ...}``): nothing changes."""
    if engine.dialect.driver != "psycopg" or event.contains(engine, "checkout", _lazy_cursors):
        return
    event.listen(engine, "checkout", _lazy_cursors)


def _lazy_cursors(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    import psycopg  # the engine's driver: installed

    if dbapi_connection.cursor_factory is psycopg.Cursor:
        dbapi_connection.cursor_factory = _lazy_cursor_class()


@cache
def _lazy_cursor_class() -> type:
    from collections.abc import Sequence

    import psycopg
    from psycopg.pq import ExecStatus

    # The statuses of a result with rows (TUPLES_CHUNK: psycopg 3.2 and later, libpq 17).
    statuses = ("TUPLES_OK", "SINGLE_TUPLE", "TUPLES_CHUNK")
    rows = tuple(getattr(ExecStatus, name) for name in statuses if hasattr(ExecStatus, name))
    built = psycopg.Cursor.description.fget

    class Held:
        """*cursor* as psycopg's description sees it, holding *result* still (the cursor may
        have run another statement, moved to its next result or closed since)."""

        __slots__ = ("_cursor", "pgresult")

        def __init__(self, cursor: Any, result: Any) -> None:
            self._cursor, self.pgresult = cursor, result

        def __getattr__(self, name: str) -> Any:
            return getattr(self._cursor, name)

    class Description(Sequence):
        """psycopg's description of *result*, built when first read."""

        __slots__ = ("_columns", "_cursor", "_result")

        def __init__(self, cursor: Any, result: Any) -> None:
            self._cursor, self._result, self._columns = cursor, result, None

        def _built(self) -> list[Any]:
            if self._columns is None:
                cursor = self._cursor
                held = cursor if cursor.pgresult is self._result else Held(cursor, self._result)
                self._columns = built(held)
            return self._columns

        def __len__(self) -> int:
            return self._result.nfields

        def __getitem__(self, index: Any) -> Any:
            return self._built()[index]

        def __iter__(self) -> Any:
            return iter(self._built())

        def __eq__(self, other: object) -> bool:
            return list(self) == other

        def __repr__(self) -> str:
            return repr(self._built())

    class LazyDescriptionCursor(psycopg.Cursor):
        @property
        def description(self) -> Description | None:  # as psycopg's, when there are rows
            result = self.pgresult
            if result is not None and (result.nfields or result.status in rows):
                return Description(self, result)
            return None

    return LazyDescriptionCursor


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
    with app.app_context():
        commit_read_only_rollbacks(state.engine)
        lazy_descriptions(state.engine)
    # The mappers are configured now, before the worker listens, not by its first job: a
    # start-up cost (0.1-0.2 s of CPU a process) that delayed the first mail of every worker.
    configure_mappers()

    class AppContextWorker(SimpleWorker):
        linger = 0.0  # see DRAIN_LINGER_SECONDS; set by work()

        def work(self, *args: Any, **kwargs: Any) -> bool:
            self.linger = _linger_for(bool(kwargs.get("burst", args[0] if args else False)))
            return super().work(*args, **kwargs)

        def execute_job(self, job, queue):  # type: ignore[override]
            # Its own app context per job: its own database session, removed afterwards so a
            # long-running worker never carries stale objects or an aborted transaction along.
            token = current_request_id.set(job.meta.get("request_id") or NO_REQUEST)
            linger = _LINGER.set(self.linger)
            stop_asked = _STOP_ASKED.set(lambda: bool(getattr(self, "_stop_requested", False)))
            with app.app_context():
                try:
                    return super().execute_job(job, queue)
                finally:
                    state.db.session.remove()
                    _STOP_ASKED.reset(stop_asked)
                    _LINGER.reset(linger)
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


def freeze_start_up() -> None:
    """For a process that runs jobs from now on until it stops (``flask helpdesk worker``
    without ``--burst``): what it made while starting (the imports, the app, the mappers,
    compiled statements and templates, about 220,000 objects) lives as long as the process,
    so it is moved out of the garbage collector's generations (``gc.freeze``). A full
    collection walked all of it each time, about 0.1 s of CPU: one such collection in a
    worker's first 500 mails was 0.2 ms a mail. What a job leaves behind is collected as before.
    """
    gc.collect()  # what starting left as garbage is freed, not frozen
    gc.freeze()


# -- helpers for job functions ----------------------------------------------------------------


def _current_rq_job():
    local = _LOCAL_JOB.get()
    if local is not None:
        return local
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
