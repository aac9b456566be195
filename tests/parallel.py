"""Real parallel transactions for the concurrency tests: each thread has its own app, hence its
own engine, connection and session, and they start together. Only PostgreSQL has concurrent
writers (SQLite has one writer at a time, so there is no race to test there)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import DATABASE_URL_VARIABLE, make_test_app

only_postgres = pytest.mark.skipif(
    not os.environ.get(DATABASE_URL_VARIABLE, "").startswith("postgresql"),
    reason=f"set {DATABASE_URL_VARIABLE} to a PostgreSQL URL",
)


class UserId:
    """What Flask-Login's test client needs of a user (``get_id``), read before the threads
    start: the test's own ORM objects belong to the test's session and thread."""

    def __init__(self, member: Any) -> None:
        self.id = member.get_id()

    def get_id(self) -> str:
        return self.id


def run_at_once(database_url: str, tmp_path, work: Callable[[int], Any], threads: int = 2) -> list:
    """Run ``work(index)`` in *threads* threads, each in its own app, released together by a
    barrier; their results in index order. Fails (never hangs) when a thread fails or stalls."""
    start = threading.Barrier(threads, timeout=60)
    errors: list[BaseException] = []
    results: list[Any] = [None] * threads
    # The apps are built here, one after the other: the tests are about the work at once, not
    # about app factories at once.
    apps = [make_test_app(database_url, tmp_path) for _ in range(threads)]

    def run(index: int) -> None:
        try:
            with apps[index].app_context():
                try:
                    start.wait()
                    results[index] = work(index)
                finally:
                    apps[index].extensions["helpdesk"].db.session.remove()
                    apps[index].extensions["helpdesk"].engine.dispose()
        except BaseException as error:  # surfaced below
            start.abort()
            errors.append(error)

    running = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in running), "a thread did not finish"
    assert not errors, errors
    return results
