"""What every service shares: the errors it raises and the way it commits."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from time import monotonic
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from flask import current_app

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


def commit() -> None:
    """Commit the unit of work, then hand its follow-up jobs to the dispatcher."""
    try:
        session().commit()
    except BaseException:
        rollback()
        raise
    dispatch_pending()


def rollback() -> None:
    session().rollback()
    discard_pending()


def send_signal(signal: Any, **kwargs: Any) -> None:
    signal.send(current_app._get_current_object(), **kwargs)
