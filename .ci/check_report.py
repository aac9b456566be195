"""Fail a CI test run that proved less than it seems to.

    python .ci/check_report.py sqlite REPORT.xml
    python .ci/check_report.py postgresql REPORT.xml --baseline SQLITE-REPORT.xml

A run fails when:

- nothing ran, or a test failed or errored;
- a test was skipped without naming a ``HELPDESK_TEST_*`` variable in its reason, or naming one
  this run must have: each run lists the variables it may lack (:data:`MAY_BE_ABSENT`). The SQLite
  run lacks only the database URL; the PostgreSQL run lacks nothing, so every skip fails it;
- with ``--baseline``: it executed fewer tests than the baseline run did (the PostgreSQL run runs
  all that the SQLite run runs, plus the PostgreSQL-only tests). A lost conftest or a collection
  filter that silently drops half the suite on one database shows up here.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field

VARIABLE = re.compile(r"HELPDESK_TEST_[A-Z_]+")

# Per run: the service variables a test may name when it skips. Every other variable must be set
# by CI for that run, and a skip naming it means the service silently did not reach the tests.
MAY_BE_ABSENT: dict[str, frozenset[str]] = {
    "sqlite": frozenset({"HELPDESK_TEST_DATABASE_URL"}),
    "postgresql": frozenset(),
}


@dataclass
class Report:
    total: int = 0
    executed: int = 0
    passed: int = 0
    skips: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def read_report(path: str, label: str, environ: Mapping[str, str]) -> Report:
    """Count a JUnit XML report and list what is wrong with it for the run *label*."""
    if label not in MAY_BE_ABSENT:
        raise SystemExit(f"unknown run {label!r}; known: {sorted(MAY_BE_ABSENT)}")
    allowed = MAY_BE_ABSENT[label]
    report = Report()
    for case in ET.parse(path).getroot().iter("testcase"):
        report.total += 1
        name = f"{case.get('classname')}::{case.get('name')}"
        skipped = case.find("skipped")
        if skipped is None:
            report.executed += 1
            if case.find("failure") is None and case.find("error") is None:
                report.passed += 1
            else:
                report.problems.append(f"{name}: failed")
            continue
        reason = skipped.get("message", "")
        variables = set(VARIABLE.findall(reason))
        if not variables:
            report.problems.append(f"{name}: skipped without naming a HELPDESK_TEST_ variable")
        elif not variables <= allowed:
            report.problems.append(
                f"{name}: skipped for {sorted(variables - allowed)}, which the {label} run must"
                f" provide: {reason}"
            )
        elif any(environ.get(variable) for variable in variables):
            report.problems.append(f"{name}: skipped although {sorted(variables)} is set: {reason}")
        else:
            report.skips[reason] = report.skips.get(reason, 0) + 1
    if report.total == 0:
        report.problems.append("no tests ran")
    return report


def check(
    path: str, label: str, baseline: str | None = None, environ: Mapping[str, str] | None = None
) -> list[str]:
    """Print the run's summary; return its problems (empty when the run may pass)."""
    environ = os.environ if environ is None else environ
    report = read_report(path, label, environ)
    print(
        f"[{label}] {report.total} tests, {report.executed} executed, {report.passed} passed,"
        f" {sum(report.skips.values())} skipped as expected"
    )
    for reason, count in sorted(report.skips.items()):
        print(f"[{label}]   {count} skipped: {reason}")
    problems = list(report.problems)
    if baseline is not None:
        # The baseline's own skips are judged by its own run; only its size matters here.
        floor = sum(
            1
            for case in ET.parse(baseline).getroot().iter("testcase")
            if case.find("skipped") is None
        )
        if report.executed < floor:
            problems.append(
                f"executed {report.executed} tests, fewer than the {floor} of {baseline}"
            )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("label", choices=sorted(MAY_BE_ABSENT))
    parser.add_argument("report")
    parser.add_argument("--baseline", help="report of a run this one must execute at least as")
    args = parser.parse_args(argv)
    problems = check(args.report, args.label, args.baseline)
    for problem in problems:
        print(f"[{args.label}] FAIL {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
