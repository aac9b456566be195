"""Flask's documented way to test a command, ``app.test_cli_runner()``, works for the mail
commands too: they push the application context themselves, like every ``flask helpdesk``
command."""

from __future__ import annotations

import pytest

from tests.conftest import clean_tables, make_test_app


@pytest.mark.parametrize(
    "args",
    [
        ["helpdesk", "process-mail", "--older-than", "0"],
        ["helpdesk", "fetch-mail"],
        ["helpdesk", "retry-mail", "--all-failed"],
    ],
)
def test_mail_commands_run_from_the_cli_runner_without_a_pushed_context(
    _schema, database_url, tmp_path, args
):
    app = make_test_app(database_url, tmp_path)
    try:
        result = app.test_cli_runner().invoke(args=args)
        assert "application context" not in result.output + repr(result.exception)
        assert result.exception is None or isinstance(result.exception, SystemExit)
    finally:
        with app.app_context():
            clean_tables(app)


def test_ingest_mail_stores_stdin_from_the_cli_runner(_schema, database_url, tmp_path):
    app = make_test_app(database_url, tmp_path)
    raw = b"From: a@example.com\r\nTo: help@example.com\r\nSubject: hi\r\n\r\nHello\r\n"
    try:
        result = app.test_cli_runner().invoke(args=["helpdesk", "ingest-mail"], input=raw)
        assert result.exit_code == 0, result.output
        assert "inbound mail #" in result.output
    finally:
        with app.app_context():
            clean_tables(app)
