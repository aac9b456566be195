"""The docs a host developer reads are complete and true: every setting and signal is documented,
Sphinx builds them without a warning, and the quickstart site runs as written."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from flask_helpdesk import signals
from flask_helpdesk.config import DEFAULTS

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SPHINX = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html"]


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # SQLAlchemy resolves the models' annotations through it
    spec.loader.exec_module(module)
    return module


config_ext = _load(DOCS / "_ext" / "helpdesk_config.py", "helpdesk_config_ext")


def test_every_setting_is_documented_once():
    documented = config_ext.documented_keys_in(DOCS)
    missing = sorted(set(DEFAULTS) - set(documented))
    assert not missing, (
        f"undocumented settings {missing}: describe each in a `.. helpdesk-config::` table "
        "of docs/configuration.rst (the default is filled in from flask_helpdesk/config.py)"
    )
    assert not sorted(set(documented) - set(DEFAULTS)), "documented but not in DEFAULTS"
    twice = [key for key, n in Counter(documented).items() if n > 1]
    assert not twice, f"documented more than once: {twice}"


def test_the_key_parser_sees_what_sphinx_renders():
    """The completeness check must not pass because the parser missed a table."""
    text = (
        "Title\n=====\n\n.. helpdesk-config::\n\n   HELPDESK_A\n      One.\n\n"
        "   HELPDESK_B\n      Two,\n      lines.\n\nAfter.\n\n.. helpdesk-config::\n\n"
        "   HELPDESK_C\n      Three.\n"
    )
    assert config_ext.documented_keys(text) == ["HELPDESK_A", "HELPDESK_B", "HELPDESK_C"]
    entries = config_ext.parse_entries(["HELPDESK_B", "   Two,", "   lines."])
    assert entries == [("HELPDESK_B", ["Two,", "lines."])]


def test_every_signal_is_documented():
    page = (DOCS / "signals.rst").read_text()
    names = [value.name for value in vars(signals).values() if hasattr(value, "receivers")]
    assert len(names) > 10
    missing = [name for name in names if f"``{name}``" not in page]
    assert not missing, f"signals missing from docs/signals.rst: {missing}"


def test_every_replaceable_form_is_documented():
    from flask_helpdesk.forms import DEFAULT_FORMS

    page = (DOCS / "customizing.rst").read_text()
    for name, form in DEFAULT_FORMS.items():
        assert re.search(rf"^``{name}``\s+``{form.__name__}``", page, re.MULTILINE), name


def test_every_page_is_in_the_toctree():
    index = (DOCS / "index.rst").read_text()
    listed = set(re.findall(r"^   (\w[\w/-]*)\s*$", index, re.MULTILINE))
    pages = {path.stem for path in DOCS.glob("*.rst")} - {"index"}
    assert pages <= listed, f"not in docs/index.rst's toctree: {sorted(pages - listed)}"


def test_sphinx_builds_the_docs_without_a_warning(tmp_path):
    result = subprocess.run(
        [*SPHINX, str(DOCS), str(tmp_path / "html")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    configuration = (tmp_path / "html" / "configuration.html").read_text()
    # Defaults come from the code, not from hand-copied text.
    assert '<span class="pre">HELPDESK_URL_PREFIX</span>' in configuration
    assert "<span class=\"pre\">'/support'</span>" in configuration


@pytest.fixture
def quickstart(tmp_path):
    module = _load(DOCS / "examples" / "quickstart.py", "quickstart_site")
    app = module.create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'site.sqlite'}",
            "HELPDESK_STORAGE_PATH": str(tmp_path / "files"),
            "TESTING": True,
        }
    )
    yield module, app
    with app.app_context():
        module.db.engine.dispose()


def test_quickstart_site_works_as_written(quickstart):
    _module, app = quickstart
    runner = app.test_cli_runner()
    for args in (
        ["init-db"],
        ["helpdesk", "db", "upgrade"],
        ["helpdesk", "create-department", "Billing", "--description", "Invoices and refunds"],
    ):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, (args, result.output, result.exception)
    assert "department #1 Billing (billing)" in result.output
    result = runner.invoke(args=["helpdesk", "create-department", "Billing"])
    assert result.exit_code != 0 and "This department exists already." in result.output

    result = runner.invoke(args=["create-user", "lan@example.com", "Lan"])
    assert result.exit_code == 0, result.output
    assert "log in at /login?email=lan@example.com" in result.output

    client = app.test_client()
    assert client.get("/support/").status_code == 302  # the site's login first
    assert "Support requests" not in client.get("/").get_data(as_text=True)
    client.get("/login?email=lan@example.com")
    assert "Support requests" in client.get("/").get_data(as_text=True)
    form = client.get("/support/new").get_data(as_text=True)
    assert "Invoices and refunds" in form
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
    department = re.search(r'<option value="(\d+)">Billing</option>', form).group(1)
    response = client.post(
        "/support/new",
        data={
            "csrf_token": token,
            "department_id": department,
            "subject": "Where is my invoice?",
            "priority": "1",
            "body": "October's is missing.",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Where is my invoice?" in page and "October&#39;s is missing." in page

    # An admin made with the same command opens the desk and sees the ticket.
    result = runner.invoke(args=["create-user", "boss@example.com", "Alex Boss", "--admin"])
    assert result.exit_code == 0, result.output
    boss = app.test_client()
    boss.get("/login?email=boss@example.com")
    assert "Support desk" in boss.get("/").get_data(as_text=True)
    assert "Where is my invoice?" in boss.get("/support/desk/").get_data(as_text=True)


def test_quickstart_mail_is_visible_at_the_default_log_level(quickstart, caplog):
    """Without Flask-Mail the quickstart's mail goes to the log at WARNING, which Python shows
    by default (INFO it was invisible)."""
    _module, app = quickstart
    runner = app.test_cli_runner()
    for args in (
        ["init-db"],
        ["helpdesk", "db", "upgrade"],
        ["helpdesk", "create-department", "Billing"],
        ["create-user", "lan@example.com", "Lan"],
        ["create-user", "sara@example.com", "Sara"],
    ):
        assert runner.invoke(args=args).exit_code == 0
    result = runner.invoke(args=["helpdesk", "create-agent", "2", "--department", "billing"])
    assert result.exit_code == 0, result.output
    caplog.set_level("WARNING", logger="flask_helpdesk.mail")
    client = app.test_client()
    client.get("/login?email=lan@example.com")
    form = client.get("/support/new").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
    department = re.search(r'<option value="(\d+)">Billing</option>', form).group(1)
    client.post(
        "/support/new",
        data={"csrf_token": token, "department_id": department, "subject": "Hi", "body": "Hello"},
    )
    mails = [r for r in caplog.records if r.name == "flask_helpdesk.mail"]
    assert mails and all(r.levelname == "WARNING" for r in mails)
    assert "sara@example.com" in mails[0].getMessage()
