"""Fail a CI test run that proved less than it seems to: nothing ran, or tests were skipped
although CI provides the service they wait for.

    python .ci/check_report.py REPORT.xml LABEL

Tests may skip only for an optional service that is absent, and must name its variable in the
reason (``set HELPDESK_TEST_REDIS_URL``). A skip naming a variable this run sets, or naming
none, fails the run.
"""

from __future__ import annotations

import os
import re
import sys
import xml.etree.ElementTree as ET

VARIABLE = re.compile(r"HELPDESK_TEST_[A-Z_]+")


def main(report: str, label: str) -> int:
    cases = ET.parse(report).getroot().iter("testcase")
    total = passed = 0
    problems: list[str] = []
    allowed: dict[str, int] = {}
    for case in cases:
        total += 1
        skipped = case.find("skipped")
        if skipped is None:
            passed += case.find("failure") is None and case.find("error") is None
            continue
        reason = skipped.get("message", "")
        name = f"{case.get('classname')}::{case.get('name')}"
        variables = VARIABLE.findall(reason)
        if not variables:
            problems.append(f"{name}: skipped without naming a HELPDESK_TEST_ variable: {reason}")
        elif any(os.environ.get(variable) for variable in variables):
            problems.append(f"{name}: skipped although CI sets {variables}: {reason}")
        else:
            allowed[reason] = allowed.get(reason, 0) + 1
    print(f"[{label}] {total} tests, {passed} passed, {sum(allowed.values())} skipped as expected")
    for reason, count in sorted(allowed.items()):
        print(f"[{label}]   {count} skipped: {reason}")
    if total == 0:
        problems.append("no tests ran")
    for problem in problems:
        print(f"[{label}] FAIL {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
