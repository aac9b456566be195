"""Fixed-window request counters shared by the channels that limit callers (the inbound mail
hook per client address, the API per token)."""

from __future__ import annotations

import time

from .state import current_helpdesk


class FixedWindow:
    """Counts hits per key and window: in Redis when jobs run on RQ (shared by every web
    process), else in this process's memory."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.counts: dict[tuple[str, int], int] = {}

    def hit(self, key: str, seconds: int) -> tuple[int, int]:
        """Count one hit of *key*; (hits in this window, seconds until it ends)."""
        now = time.time()
        window = int(now // seconds)
        left = max(1, int((window + 1) * seconds - now + 0.999))
        dispatcher = current_helpdesk.dispatcher
        if dispatcher.uses_rq:
            redis = dispatcher.queue.connection
            name = f"helpdesk:{self.name}:{key}:{window}"
            count = redis.incr(name)
            redis.expire(name, seconds * 2)
            return int(count), left
        if len(self.counts) > 10_000:
            self.counts = {k: v for k, v in self.counts.items() if k[1] >= window}
        self.counts[(key, window)] = self.counts.get((key, window), 0) + 1
        return self.counts[(key, window)], left
