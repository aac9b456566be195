"""Is this process able to serve? The checks behind the load balancer's readiness probe.

Each check is cheap (one round trip), bounded by a short timeout, and reports only a name, a
yes/no and the time it took: never a URL, a host name or an error message, which could carry
credentials (:doc:`deployment`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from flask import current_app
from sqlalchemy import text

from ..state import current_helpdesk

CHECK_TIMEOUT = 2.0  # seconds a database statement or a Redis round trip may take
_PROBE_CLIENTS: WeakKeyDictionary[Any, Any] = WeakKeyDictionary()  # per app (tests make many)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    milliseconds: float
    problem: str | None = None  # the exception's class name only

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"ok": self.ok, "ms": round(self.milliseconds, 1)}
        if self.problem:
            found["error"] = self.problem
        return found


def _timed(name: str, probe) -> Check:
    began = time.perf_counter()
    try:
        probe()
    except Exception as error:  # any failure means "not ready"; its class says enough
        return Check(name, False, (time.perf_counter() - began) * 1000, type(error).__name__)
    return Check(name, True, (time.perf_counter() - began) * 1000)


def _database() -> None:
    engine = current_helpdesk.engine
    # A connection of its own, not the request's session: the probe neither opens nor joins
    # the host's transaction.
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text(f"SET LOCAL statement_timeout = {int(CHECK_TIMEOUT * 1000)}"))
        connection.execute(text("SELECT 1"))
        connection.rollback()
    if not current_helpdesk.schema_ready():
        raise LookupError("tables missing")


def _redis() -> None:
    _probe_client().ping()


def _probe_client():
    """A Redis client with short timeouts, kept per app (the jobs' client may wait far longer)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    client = _PROBE_CLIENTS.get(app)
    if client is None:
        from redis import Redis

        client = Redis.from_url(
            current_helpdesk.dispatcher.redis_url,
            socket_timeout=CHECK_TIMEOUT,
            socket_connect_timeout=CHECK_TIMEOUT,
        )
        _PROBE_CLIENTS[app] = client
    return client


def readiness() -> list[Check]:
    """The database (``SELECT 1`` and the helpdesk's tables there), and Redis when jobs use it."""
    checks = [_timed("database", _database)]
    if current_helpdesk.dispatcher.uses_rq:
        checks.append(_timed("redis", _redis))
    return checks
