"""Periodic sweeps: one registry, run by ``flask helpdesk scheduler``, by
``flask helpdesk worker --with-scheduler``, or from cron (``flask helpdesk sweep NAME``).

A sweep is a function that finds its own work in the database (SLA escalation, access-grant
expiry, time rules and auto-close) and is safe to run twice at once. The scheduler only
decides when to start one: every *interval* seconds it hands the job :func:`run_sweep` to the job
dispatcher (an RQ job on a worker, or inline without Redis). No schedule is kept in Redis: after
a Redis flush the next tick simply queues the sweeps again. When several processes run a
scheduler against one Redis, a short lock per sweep and interval lets one of them queue it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask

from .jobs import drain_budget
from .services import contact_requests, db_statistics, distribution, hot_rows, intake, rule_sweep
from .services.consent import expire_due_grants
from .services.sla_sweep import sweep
from .services.webhooks import deliver_due

logger = logging.getLogger("flask_helpdesk.scheduler")

LOCK_PREFIX = "helpdesk:sweep-lock:"
THREAD_NAME = "helpdesk-scheduler"


@dataclass(frozen=True)
class Sweep:
    name: str
    run: Callable[[], object]  # returns something printable: what it did
    interval: int | str  # seconds, or the HELPDESK_* setting holding them
    help: str = ""

    def seconds(self, config: dict) -> int:
        value = config[self.interval] if isinstance(self.interval, str) else self.interval
        return max(1, int(value))


_SWEEPS: dict[str, Sweep] = {}


def register_sweep(
    name: str, run: Callable[[], object], interval: int | str, help: str = ""
) -> Sweep:
    """Add (or replace) a periodic sweep; *run* is called inside an app context."""
    sweep = Sweep(name, run, interval, help)
    _SWEEPS[name] = sweep
    return sweep


def get_sweep(name: str) -> Sweep:
    try:
        return _SWEEPS[name]
    except KeyError:
        raise KeyError(f"no sweep named {name!r}; known: {', '.join(sorted(_SWEEPS))}") from None


def registered_sweeps() -> list[Sweep]:
    return [_SWEEPS[name] for name in sorted(_SWEEPS)]


class Scheduler:
    """Starts each registered sweep every interval; call :meth:`tick` or :meth:`run_forever`."""

    def __init__(self, app: Flask, clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.clock = clock
        self.last_started: dict[str, float] = {}
        self.thread: threading.Thread | None = None
        self._stop = threading.Event()

    def _claim(self, sweep: Sweep, seconds: int) -> bool:
        """With Redis, one scheduler among many queues a sweep per interval."""
        dispatcher = self.app.extensions["helpdesk"].dispatcher
        if not dispatcher.uses_rq:
            return True
        from redis.exceptions import RedisError

        try:
            connection = dispatcher.queue.connection
            # Per queue: two apps sharing one Redis each run their own sweeps.
            key = f"{LOCK_PREFIX}{dispatcher.queue_name}:{sweep.name}"
            return bool(connection.set(key, "1", nx=True, ex=seconds))
        except RedisError:
            logger.exception("helpdesk scheduler: Redis unreachable; running %s here", sweep.name)
            return True

    def tick(self) -> list[str]:
        """Start the sweeps whose interval has passed; returns their names."""
        started = []
        config = self.app.extensions["helpdesk"].config
        with self.app.app_context():
            dispatcher = self.app.extensions["helpdesk"].dispatcher
            for sweep in registered_sweeps():
                seconds = sweep.seconds(config)
                now = self.clock()
                last = self.last_started.get(sweep.name)
                if last is not None and now - last < seconds:
                    continue
                self.last_started[sweep.name] = now
                if self._claim(sweep, seconds):
                    dispatcher.dispatch(run_sweep, sweep.name)
                    started.append(sweep.name)
        return started

    def run_forever(self, stop: threading.Event | None = None, poll: float = 5.0) -> None:
        stop = stop or threading.Event()
        logger.info("helpdesk scheduler: %s", ", ".join(s.name for s in registered_sweeps()))
        while not stop.is_set():
            try:
                self.tick()
            except Exception:  # a failing tick must not stop the next one
                logger.exception("helpdesk scheduler: tick failed")
            stop.wait(poll)

    def start_thread(self) -> threading.Event:
        """Run in a daemon thread (the worker's ``--with-scheduler``); set the event to stop,
        then :meth:`stop` waits for the thread to end."""
        self.thread = threading.Thread(
            target=self.run_forever, args=(self._stop,), name=THREAD_NAME, daemon=True
        )
        self.thread.start()
        return self._stop

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop the thread of :meth:`start_thread` after its current tick; whether it ended."""
        self._stop.set()
        if self.thread is None:
            return True
        self.thread.join(timeout)
        return not self.thread.is_alive()


def run_sweep(name: str) -> None:
    """Job: run the periodic sweep *name* (inside the worker's app context)."""
    result = get_sweep(name).run()
    logger.info("helpdesk sweep %s: %s", name, result)


def _sla_sweep() -> object:

    return sweep()


def _access_sweep() -> object:

    return f"{expire_due_grants()} access grant(s) expired"


def _rules_sweep() -> object:

    return rule_sweep.sweep()


def _contact_request_sweep() -> object:
    return f"{contact_requests.purge_expired()} unconfirmed contact request(s) deleted"


def _webhook_sweep() -> object:

    return f"{deliver_due()} webhook deliveries sent"


register_sweep(
    "sla",
    _sla_sweep,
    "HELPDESK_SLA_SWEEP_INTERVAL",
    "Raise SLA warnings and breaches, queue their notifications.",
)
register_sweep(
    "access",
    _access_sweep,
    "HELPDESK_ACCESS_SWEEP_INTERVAL",
    "Expire account-access grants past their end.",
)
register_sweep(
    "rules",
    _rules_sweep,
    "HELPDESK_RULES_SWEEP_INTERVAL",
    'Fire the time rules (auto-close, "N hours since ...") on the tickets whose time came.',
)
register_sweep(
    "distribution",
    distribution.sweep,
    "HELPDESK_DISTRIBUTION_SWEEP_INTERVAL",
    "Offer unassigned tickets of distributing departments to agents who can take them now.",
)
register_sweep(
    "webhooks",
    _webhook_sweep,
    60,
    "Send the webhook deliveries that are due (retries whose time came).",
)


def _mail_sweep() -> object:
    # Within a drain's time, as a drain's own sweep (the job timeout striking in the middle of
    # a mail would set it aside as failed); what is left waits for the next interval.
    return intake.sweep(
        older_than=intake.SWEEP_FROM_DRAIN_SECONDS, deadline=time.monotonic() + drain_budget()
    )


register_sweep(
    "mail",
    _mail_sweep,
    60,
    "Process stored mail still waiting after a minute (a lost run or list, a killed worker).",
)
register_sweep(
    "contact-requests",
    _contact_request_sweep,
    3600,
    "Delete help-center contact requests never confirmed within HELPDESK_CONTACT_FORM_KEEP.",
)
register_sweep(
    "statistics",
    db_statistics.refresh_sqlite_statistics,
    3600,
    "SQLite: analyze the helpdesk's tables when the tickets were never analyzed or have doubled"
    " since (the queue's plans depend on it; PostgreSQL analyzes by itself).",
)
register_sweep(
    "fold-slots",
    hot_rows.fold_slots,
    600,
    "Add the department counts' and past report rows' slots into one row each (PostgreSQL).",
)
