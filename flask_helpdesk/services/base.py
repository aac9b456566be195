"""What every service shares: the errors it raises and the way it commits."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from time import monotonic
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from ..jobs import discard_pending, dispatch_pending

T = TypeVar("T")

# Per app (weakly: a test's app goes away with its cache): key -> (expiry, value).
_APP_CACHE: WeakKeyDictionary[Any, dict[Hashable, tuple[float, Any]]] = WeakKeyDictionary()
APP_CACHE_MAX_ENTRIES = 1000


def cached_for_app(key: Hashable, ttl: float, compute: Callable[[], T]) -> T:
    """``compute()``, reused for *ttl* seconds per app (in this web process) and *key*.

    For figures that are costly and may lag a little (queue counters, table sizes). A *ttl*
    of zero or less computes every time."""
    if ttl <= 0:
        return compute()
    cache = _APP_CACHE.setdefault(current_app._get_current_object(), {})
    now = monotonic()
    cached = cache.get(key)
    if cached is not None and cached[0] > now:
        return cached[1]
    value = compute()
    if len(cache) >= APP_CACHE_MAX_ENTRIES:  # many keys (department combinations): start over
        cache.clear()
    cache[key] = (now + ttl, value)
    return value


def forget_cached_for_app(key: Hashable) -> None:
    """Drop *key* from this process's cache of the current app (the data behind it changed)."""
    _APP_CACHE.get(current_app._get_current_object(), {}).pop(key, None)


class ServiceError(Exception):
    """Base of the errors services raise; views turn them into pages, the API into JSON."""

    status_code = 400

    def __init__(self, message: str = "", field_errors: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.message = message
        self.field_errors = field_errors or {}


class NotFound(ServiceError):
    """Also raised for what exists but the actor may not see: no hint that it exists."""

    status_code = 404


class Forbidden(ServiceError):
    status_code = 403


class ValidationError(ServiceError):
    status_code = 422


class Conflict(ServiceError):
    status_code = 409


def session():
    return current_app.extensions["helpdesk"].db.session


# Session.info keys: how deep we are in unit_of_work blocks, and the signals they hold back.
UNIT_DEPTH_KEY = "helpdesk_unit_depth"
PENDING_SIGNALS_KEY = "helpdesk_pending_signals"
RULE_EVENTS_KEY = "helpdesk_rule_events"  # changes the rules engine has not seen (rule_events)


# Called (in order) just before a unit of work commits, inside its transaction: the rules engine
# registers itself here (services/rules.py), so rules run in the transaction of the change.
_BEFORE_COMMIT: list[Callable[[], None]] = []


def before_commit(hook: Callable[[], None]) -> Callable[[], None]:
    """Register *hook* to run inside every unit of work right before it commits."""
    if hook not in _BEFORE_COMMIT:
        _BEFORE_COMMIT.append(hook)
    return hook


def commit() -> None:
    """Commit the unit of work, then hand its follow-up jobs to the dispatcher and send the
    signals it held back. Inside :func:`unit_of_work` this only flushes: the block commits."""
    if session().info.get(UNIT_DEPTH_KEY):
        session().flush()
        return
    try:
        for hook in _BEFORE_COMMIT:
            hook()
        session().commit()
    except BaseException:
        rollback()
        raise
    dispatch_pending()
    _send_pending_signals()


def rollback() -> None:
    session().rollback()
    discard_pending()
    session().info.pop(PENDING_SIGNALS_KEY, None)
    session().info.pop(RULE_EVENTS_KEY, None)


@contextmanager
def unit_of_work() -> Iterator[None]:
    """Run several service calls as one transaction.

    Inside the block each service's :func:`commit` only flushes; leaving the block commits once,
    then dispatches the jobs and sends the signals of every call in it, in order. An exception
    rolls everything back (jobs and signals included) and propagates. Blocks nest: the
    outermost one commits. Inbound mail uses it so that a ticket, its participants and the
    inbound row's status are stored together or not at all.
    """
    info = session().info
    info[UNIT_DEPTH_KEY] = info.get(UNIT_DEPTH_KEY, 0) + 1
    try:
        yield
    except BaseException:
        info[UNIT_DEPTH_KEY] -= 1
        if not info[UNIT_DEPTH_KEY]:
            rollback()
        raise
    info[UNIT_DEPTH_KEY] -= 1
    if not info[UNIT_DEPTH_KEY]:
        commit()


@event.listens_for(Session, "after_soft_rollback")
def _forget_signals_on_rollback(session: Session, previous_transaction: Any) -> None:
    # As jobs.py does for jobs: a rolled-back unit of work announces nothing.
    if previous_transaction.parent is None and not previous_transaction.nested:
        session.info.pop(PENDING_SIGNALS_KEY, None)
        session.info.pop(RULE_EVENTS_KEY, None)


def _send_pending_signals() -> None:
    for signal, kwargs in session().info.pop(PENDING_SIGNALS_KEY, []):
        signal.send(current_app._get_current_object(), **kwargs)


def send_signal(signal: Any, **kwargs: Any) -> None:
    """Send *signal* now, or, inside :func:`unit_of_work`, once the block has committed."""
    if session().info.get(UNIT_DEPTH_KEY):
        session().info.setdefault(PENDING_SIGNALS_KEY, []).append((signal, kwargs))
        return
    signal.send(current_app._get_current_object(), **kwargs)


def send_after_commit(signal: Any, **kwargs: Any) -> None:
    """Send *signal* once the current transaction commits (never if it rolls back), also
    outside :func:`unit_of_work`: a change queued before its commit (a status transition) is
    announced only when it is stored."""
    session().info.setdefault(PENDING_SIGNALS_KEY, []).append((signal, kwargs))
