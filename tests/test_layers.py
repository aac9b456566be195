"""The architecture holds: the import-linter contracts (.importlinter) pass, and what they cannot
see is checked here: an import hidden inside a function, and the request, the Flask session or
Flask-Login used below the views."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PACKAGE = ROOT / "flask_helpdesk"

# Imports of the package's own modules inside a function, each with the reason it is not at the
# top. None may point upward (import-linter checks those too); these are cycles between two
# services of the same layer.
FUNCTION_IMPORTS_ALLOWED = {
    ("services/calendars.py", "flask_helpdesk.services.sla"): "the SLA engine builds on calendars",
    ("services/audit.py", "flask_helpdesk.services"): "webhooks records its own audit events",
}

# Layers that never see a request: they run in jobs, commands and tests too.
BELOW_THE_VIEWS = ["services", "mail", "models", "state.py", "jobs.py", "i18n.py", "links.py"]
REQUEST_NAMES = {"request", "session"}
# Reads of the request below the views, each with its reason. None writes the session.
REQUEST_READS_ALLOWED = {
    "links.py": "absolute links fall back on the request's host when neither"
    " HELPDESK_EXTERNAL_URL nor SERVER_NAME is set (docs/configuration.rst)",
}


def _modules(*parts: str) -> list[Path]:
    found: list[Path] = []
    for part in parts:
        path = PACKAGE / part
        found += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return [p for p in found if "migrations" not in p.parts]


def _dotted(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _target(path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = _dotted(path).split(".")
    if path.name != "__init__.py":
        base = base[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def test_import_linter_contracts_hold():
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if lint is None:
        pytest.fail("lint-imports is missing: pip install -e '.[test]'")
    result = subprocess.run([lint], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_import_of_the_package_hides_inside_a_function():
    """An import inside a function hides an arrow from import-linter: only optional
    dependencies (rq, redis, holidays, ...) and the listed same-layer cycles may be there."""
    hidden = []
    for path in _modules("."):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.Import):
                    targets = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom):
                    targets = [_target(path, node)]
                else:
                    continue
                for target in targets:
                    if not target.startswith("flask_helpdesk"):
                        continue
                    where = str(path.relative_to(PACKAGE))
                    if (where, target) not in FUNCTION_IMPORTS_ALLOWED:
                        hidden.append(f"{where}:{node.lineno} {function.name} imports {target}")
    assert not hidden, "move these imports to the top of their module:\n" + "\n".join(hidden)


def test_nothing_below_the_views_reads_the_request_or_the_session():
    found = []
    for path in _modules(*BELOW_THE_VIEWS):
        if str(path.relative_to(PACKAGE)) in REQUEST_READS_ALLOWED:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "flask":
                names = {alias.name for alias in node.names} & REQUEST_NAMES
                if names:
                    found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} uses {names}")
            elif (
                isinstance(node, ast.Attribute)
                and node.attr in REQUEST_NAMES
                and isinstance(node.value, ast.Name)
                and node.value.id == "flask"
            ):
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} flask.{node.attr}")
    assert not found, "only views may read the request or the Flask session:\n" + "\n".join(found)


def test_the_checks_see_what_they_forbid():
    """Guard the scanners themselves: a relative import resolves to the package module."""
    module = PACKAGE / "services" / "tickets.py"
    node = ast.parse("from ..views import guard").body[0]
    assert isinstance(node, ast.ImportFrom)
    assert _target(module, node) == "flask_helpdesk.views"
    node = ast.parse("from . import sla").body[0]
    assert isinstance(node, ast.ImportFrom)
    assert _target(PACKAGE / "services" / "calendars.py", node) == "flask_helpdesk.services"
