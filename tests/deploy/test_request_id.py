"""Every response carries an X-Request-ID (the proxy's when well-formed), and every log line of
the request carries the same id, as text or as JSON."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from flask_helpdesk.logs import JsonFormatter
from tests.conftest import make_test_app


def test_each_response_gets_a_new_id_helpdesk_and_host_pages_alike(app):
    client = app.test_client()
    first = client.get("/support/health/live").headers["X-Request-ID"]
    second = client.get("/support/health/live").headers["X-Request-ID"]
    host_page = client.get("/").headers["X-Request-ID"]
    missing = client.get("/support/no-such-page")
    assert missing.status_code == 404
    ids = [first, second, host_page, missing.headers["X-Request-ID"]]
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    assert len(set(ids)) == 4


@pytest.mark.parametrize(
    "given",
    ["lb-7f3a9c", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "Root=1-5e2f/a:b@c"],
)
def test_a_well_formed_id_from_the_proxy_is_kept(app, given):
    response = app.test_client().get("/support/health/live", headers={"X-Request-ID": given})
    assert response.headers["X-Request-ID"] == given


@pytest.mark.parametrize(
    "given",
    [
        "two words",
        "line\nbreak",
        'quote"d',
        "x" * 129,
        "-starts-with-a-dash",
        "ünïcode",
        "",
    ],
)
def test_anything_else_from_the_proxy_is_replaced(app, given):
    # Straight into the WSGI environ: a raw header can hold what the test client refuses.
    environ = {"HTTP_X_REQUEST_ID": given}
    response = app.test_client().get("/support/health/live", environ_base=environ)
    kept = response.headers["X-Request-ID"]
    assert kept != given and len(kept) == 32


def test_log_lines_of_the_request_carry_its_id(_schema, database_url, tmp_path, caplog):
    # Redis unreachable: the rate limit logs a warning while it handles this very request.
    app = make_test_app(
        database_url,
        tmp_path,
        HELPDESK_REDIS_URL="redis://127.0.0.1:9/0",
        HELPDESK_INBOUND_MAIL_TOKEN="secret",
    )
    with caplog.at_level(logging.WARNING):
        response = app.test_client().post(
            "/support/hooks/mail",
            data=b"x",
            headers={"Authorization": "Bearer wrong", "X-Request-ID": "req-42"},
        )
    assert response.status_code == 403
    lines = [r for r in caplog.records if "rate limit storage failed" in r.getMessage()]
    assert lines and all(r.request_id == "req-42" for r in lines)
    # Outside a request the field is there too, as "-".
    logging.getLogger("flask_helpdesk.test").warning("after the request")
    assert caplog.records[-1].request_id == "-"


def test_json_format_writes_one_object_per_line():
    try:
        raise ValueError("boom")
    except ValueError:
        failure = sys.exc_info()
    record = logging.LogRecord(
        "flask_helpdesk.x", logging.ERROR, __file__, 1, "bad %s\nsecond line", ("thing",), failure
    )
    record.request_id = "req-7"
    line = JsonFormatter().format(record)
    assert "\n" not in line  # a traceback or a message with line breaks stays on one line
    entry = json.loads(line)
    assert entry["message"] == "bad thing\nsecond line"
    assert entry["level"] == "ERROR"
    assert entry["request_id"] == "req-7"
    assert entry["logger"] == "flask_helpdesk.x"
    assert "ValueError: boom" in entry["exception"]
    assert entry["time"].endswith("+00:00")


def test_log_format_setting_is_checked(database_url, tmp_path):
    from flask_helpdesk.config import ConfigError

    with pytest.raises(ConfigError, match="HELPDESK_LOG_FORMAT"):
        make_test_app(database_url, tmp_path, HELPDESK_LOG_FORMAT="xml")
