"""``flask helpdesk worker`` says what is missing instead of printing a traceback."""

from __future__ import annotations

import socket

from tests.conftest import make_test_app


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # free once closed: nothing listens there


def test_worker_without_a_running_redis_says_to_start_it(_schema, database_url, tmp_path):
    app = make_test_app(
        database_url, tmp_path, HELPDESK_REDIS_URL=f"redis://127.0.0.1:{_closed_port()}/0"
    )
    result = app.test_cli_runner().invoke(args=["helpdesk", "worker", "--burst"])
    assert result.exit_code == 1
    assert "cannot reach Redis" in result.output and "Start it" in result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, Exception)


def test_worker_without_redis_configured_says_jobs_run_inline(_schema, database_url, tmp_path):
    app = make_test_app(database_url, tmp_path)
    result = app.test_cli_runner().invoke(args=["helpdesk", "worker", "--burst"])
    assert result.exit_code == 1
    assert "HELPDESK_REDIS_URL is not set" in result.output
