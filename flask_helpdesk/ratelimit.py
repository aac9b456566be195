"""Fixed-window request counters shared by the channels that limit callers (the inbound mail
hook per client address, the API per token, the public contact form).

The counting is the ``limits`` package's: its Redis storage (an atomic increment-and-expire
script, so every web process on every host shares one count) when ``HELPDESK_REDIS_URL`` is set,
its memory storage (this process only) otherwise. A window starts at its key's first hit and
lasts *seconds*.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any
from weakref import WeakKeyDictionary

from flask import current_app
from limits.errors import StorageError
from limits.storage import MemoryStorage, Storage, storage_from_string

from .state import current_helpdesk

logger = logging.getLogger(__name__)

KEY_PREFIX = "helpdesk-limits"
# One storage per app and process (the Redis one holds a connection pool).
_STORAGES: WeakKeyDictionary[Any, tuple[Storage, MemoryStorage]] = WeakKeyDictionary()


def _storages() -> tuple[Storage, MemoryStorage]:
    """(the configured storage, this process's memory storage for when Redis is away)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    found = _STORAGES.get(app)
    if found is None:
        memory = MemoryStorage()
        url = current_helpdesk.dispatcher.redis_url
        shared: Storage = memory
        if url:
            # limits names unix sockets redis+unix://; Redis' own clients say unix://.
            url = "redis+" + url if url.startswith("unix://") else url
            shared = storage_from_string(url, key_prefix=KEY_PREFIX, wrap_exceptions=True)
        found = _STORAGES[app] = (shared, memory)
    return found


class FixedWindow:
    """Counts hits per key and window: in Redis when jobs run on RQ (shared by every web
    process), else in this process's memory."""

    def __init__(self, name: str) -> None:
        self.name = name

    def hit(self, key: str, seconds: int) -> tuple[int, int]:
        """Count one hit of *key*; (hits in this window, seconds until it ends)."""
        name = f"{self.name}/{seconds}/{key}"
        shared, memory = _storages()
        try:
            return self._count(shared, name, seconds)
        except StorageError as error:  # Redis' own errors, wrapped by limits
            # Redis is away: keep limiting, per process, rather than refuse or let all through.
            logger.warning("helpdesk: rate limit storage failed (%s), counting in memory", error)
            return self._count(memory, name, seconds)

    @staticmethod
    def _count(storage: Storage, name: str, seconds: int) -> tuple[int, int]:
        count = storage.incr(name, seconds)
        left = max(1, math.ceil(storage.get_expiry(name) - time.time()))
        return count, min(left, seconds)
