"""The CI report checker (.ci/check_report.py): a run that proved less than it seems fails."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parent.parent / ".ci" / "check_report.py"
spec = importlib.util.spec_from_file_location("helpdesk_ci_check_report", SCRIPT)
assert spec is not None and spec.loader is not None
checker = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = checker  # dataclasses look their module up there
spec.loader.exec_module(checker)

PASS = '<testcase classname="tests.a" name="test_{n}"/>'
SKIP = '<testcase classname="tests.b" name="test_s{n}"><skipped message="{reason}"/></testcase>'
FAIL = '<testcase classname="tests.c" name="test_f{n}"><failure message="boom"/></testcase>'
NO_DATABASE = "PostgreSQL only; set HELPDESK_TEST_DATABASE_URL to a PostgreSQL URL"
NO_REDIS = "set HELPDESK_TEST_REDIS_URL to run the RQ tests against a real Redis"


def report(tmp_path: Path, name: str, *cases: str) -> str:
    path = tmp_path / f"{name}.xml"
    body = "".join(cases)
    path.write_text(f'<testsuites><testsuite name="pytest">{body}</testsuite></testsuites>')
    return str(path)


def passes(count: int) -> list[str]:
    return [PASS.format(n=n) for n in range(count)]


def test_sqlite_run_may_skip_only_for_the_database_url(tmp_path):
    path = report(tmp_path, "sqlite", *passes(3), SKIP.format(n=1, reason=NO_DATABASE))
    assert checker.check(path, "sqlite", environ={}) == []


def test_sqlite_run_fails_on_a_skip_for_a_service_ci_provides(tmp_path):
    """Even when the variable is unset: then CI forgot to provide the service."""
    path = report(tmp_path, "sqlite", *passes(3), SKIP.format(n=1, reason=NO_REDIS))
    [problem] = checker.check(path, "sqlite", environ={})
    assert "HELPDESK_TEST_REDIS_URL" in problem and "must provide" in problem


def test_postgresql_run_may_skip_nothing(tmp_path):
    path = report(tmp_path, "postgresql", *passes(3), SKIP.format(n=1, reason=NO_DATABASE))
    [problem] = checker.check(path, "postgresql", environ={})
    assert "HELPDESK_TEST_DATABASE_URL" in problem


def test_skip_naming_no_variable_fails(tmp_path):
    path = report(tmp_path, "sqlite", *passes(1), SKIP.format(n=1, reason="flaky on CI"))
    [problem] = checker.check(path, "sqlite", environ={})
    assert "without naming" in problem


def test_skip_for_a_variable_that_is_set_fails(tmp_path):
    path = report(tmp_path, "sqlite", *passes(1), SKIP.format(n=1, reason=NO_DATABASE))
    environ = {"HELPDESK_TEST_DATABASE_URL": "postgresql://x"}
    [problem] = checker.check(path, "sqlite", environ=environ)
    assert "although" in problem


def test_empty_run_and_failures_fail(tmp_path):
    assert checker.check(report(tmp_path, "empty"), "sqlite", environ={}) == ["no tests ran"]
    path = report(tmp_path, "failed", *passes(2), FAIL.format(n=1))
    [problem] = checker.check(path, "sqlite", environ={})
    assert "failed" in problem


def test_postgresql_run_executes_at_least_as_many_tests_as_sqlite(tmp_path):
    sqlite = report(tmp_path, "sqlite", *passes(5), SKIP.format(n=1, reason=NO_DATABASE))
    as_many = report(tmp_path, "pg-ok", *passes(5))
    assert checker.check(as_many, "postgresql", baseline=sqlite, environ={}) == []
    fewer = report(tmp_path, "pg-short", *passes(4))
    [problem] = checker.check(fewer, "postgresql", baseline=sqlite, environ={})
    assert "fewer than the 5" in problem


def test_command_line_exit_codes(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("HELPDESK_TEST_DATABASE_URL", raising=False)
    sqlite = report(tmp_path, "sqlite", *passes(2), SKIP.format(n=1, reason=NO_DATABASE))
    assert checker.main(["sqlite", sqlite]) == 0
    assert "2 executed" in capsys.readouterr().out
    postgresql = report(tmp_path, "postgresql", *passes(1))
    assert checker.main(["postgresql", postgresql, "--baseline", sqlite]) == 1
    assert "fewer than the 2" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        checker.main(["mysql", sqlite])
