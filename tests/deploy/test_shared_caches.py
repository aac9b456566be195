"""Settings cached per process (rules, routing, distribution modes) are forgotten in every process
once a change commits in one of them: two apps on one Redis stand for two web processes."""

from __future__ import annotations

import itertools
import os

import pytest

from flask_helpdesk.services import base
from flask_helpdesk.services.base import (
    cached_for_app,
    commit,
    forget_cached_for_app,
    rollback,
)
from tests.conftest import REDIS_URL_VARIABLE, make_test_app


@pytest.fixture
def two_processes(_schema, database_url, tmp_path, monkeypatch):
    redis_url = os.environ.get(REDIS_URL_VARIABLE)
    if not redis_url:
        pytest.skip(f"set {REDIS_URL_VARIABLE} to share cache invalidation through Redis")
    monkeypatch.setattr(base, "GENERATION_CHECK_SECONDS", 0.0)  # look at every read
    web_a = make_test_app(database_url, tmp_path / "a", HELPDESK_REDIS_URL=redis_url)
    web_b = make_test_app(database_url, tmp_path / "b", HELPDESK_REDIS_URL=redis_url)
    return web_a, web_b


def test_a_committed_change_in_one_process_is_seen_by_the_other(two_processes):
    web_a, web_b = two_processes
    loads = itertools.count(1)
    key = f"test-setting-{os.getpid()}-{id(web_a)}"

    def read_in_a() -> int:
        with web_a.app_context():
            return cached_for_app(key, 3600, lambda: next(loads))

    assert read_in_a() == 1
    assert read_in_a() == 1  # cached: no reload without a change

    with web_b.app_context():
        forget_cached_for_app(key)
        rollback()  # a change that is not stored announces nothing
    assert read_in_a() == 1

    with web_b.app_context():
        forget_cached_for_app(key)
        assert read_in_a() == 1  # not committed yet: the other process keeps the old value
        commit()
    assert read_in_a() == 2
    assert read_in_a() == 2


def test_without_redis_only_this_process_forgets(_schema, database_url, tmp_path):
    app = make_test_app(database_url, tmp_path)
    loads = itertools.count(1)
    with app.app_context():
        assert cached_for_app("setting", 3600, lambda: next(loads)) == 1
        forget_cached_for_app("setting")
        commit()
        assert cached_for_app("setting", 3600, lambda: next(loads)) == 2
