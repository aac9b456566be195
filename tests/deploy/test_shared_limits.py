"""Rate limits hold across processes: two apps (as two web processes would be) on one Redis share
one count, and an outage of Redis still leaves each process limiting on its own."""

from __future__ import annotations

import os
import uuid

import pytest

from tests.conftest import REDIS_URL_VARIABLE, make_test_app

TOKEN = "hook-secret"


def hook_app(database_url, tmp_path, redis_url):
    app = make_test_app(
        database_url, tmp_path, HELPDESK_REDIS_URL=redis_url, HELPDESK_INBOUND_MAIL_TOKEN=TOKEN
    )
    # A window of ~30 years (set past the settings' check, which takes "N/day" at most): no
    # boundary falls between the requests of a test.
    app.extensions["helpdesk"].config["HELPDESK_INBOUND_WEBHOOK_RATE_LIMIT"] = (2, 10**9)
    return app


def guess(app, address: str):
    """A wrong secret from *address*: counted against its limit, then refused."""
    return app.test_client().post(
        "/support/hooks/mail",
        data=b"Subject: x\r\n\r\nx",
        headers={"Authorization": "Bearer wrong", "Content-Type": "message/rfc822"},
        environ_base={"REMOTE_ADDR": address},
    )


def test_two_processes_share_one_count_in_redis(_schema, database_url, tmp_path):
    redis_url = os.environ.get(REDIS_URL_VARIABLE)
    if not redis_url:
        pytest.skip(f"set {REDIS_URL_VARIABLE} to share rate limits through a real Redis")
    web_a = hook_app(database_url, tmp_path / "a", redis_url)
    web_b = hook_app(database_url, tmp_path / "b", redis_url)
    # New clients for every run of the test: the window outlives it in the shared Redis.
    address, other = (f"2001:db8::{uuid.uuid4().hex[:4]}:{n}" for n in (1, 2))
    assert guess(web_a, address).status_code == 403
    assert guess(web_b, address).status_code == 403
    refused = guess(web_a, address)
    assert refused.status_code == 429  # the third guess, whichever process it reached
    assert 0 < int(refused.headers["Retry-After"]) <= 10**9
    assert guess(web_b, address).status_code == 429
    assert guess(web_b, other).status_code == 403  # another client is not held up


def test_without_redis_each_process_counts_alone(_schema, database_url, tmp_path):
    web_a = hook_app(database_url, tmp_path / "a", None)
    web_b = hook_app(database_url, tmp_path / "b", None)
    codes_a = [guess(web_a, "192.0.2.5").status_code for _ in range(3)]
    codes_b = [guess(web_b, "192.0.2.5").status_code for _ in range(3)]
    assert codes_a == codes_b == [403, 403, 429]


def test_redis_outage_falls_back_to_counting_in_this_process(
    _schema, database_url, tmp_path, caplog
):
    # Nothing listens on port 9: every Redis call fails at once.
    web = hook_app(database_url, tmp_path, "redis://127.0.0.1:9/0")
    codes = [guess(web, "192.0.2.9").status_code for _ in range(3)]
    assert codes == [403, 403, 429]
    assert "rate limit storage failed" in caplog.text
