"""Before ``flask helpdesk db upgrade``: the host's pages work (tests/host/test_template_helpers),
the helpdesk's pages and commands say what to run instead of an SQL error."""

from __future__ import annotations

import pytest
from flask_login import FlaskLoginClient

from example_app import create_app
from example_app.models import db
from tests.conftest import make_member


@pytest.fixture
def fresh_app(tmp_path):
    """The demo host with its own tables created, the helpdesk's not yet."""
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'fresh.sqlite'}",
            "HELPDESK_STORAGE_PATH": str(tmp_path / "files"),
        }
    )
    app.test_client_class = FlaskLoginClient
    with app.app_context():
        db.create_all()
        yield app
        db.engine.dispose()


@pytest.mark.parametrize("path", ["/support/", "/support/new", "/support/desk/"])
def test_helpdesk_pages_say_to_run_the_upgrade(fresh_app, path):
    admin = make_member("Alex Admin", admin=True)
    page = fresh_app.test_client(user=admin).get(path)
    assert page.status_code == 503
    assert "flask helpdesk db upgrade" in page.get_data(as_text=True)


def test_the_hosts_pages_are_not_concerned(fresh_app):
    admin = make_member("Alex Admin", admin=True)
    assert fresh_app.test_client(user=admin).get("/").status_code == 200


@pytest.mark.parametrize(
    "args",
    [
        ["helpdesk", "create-department", "Billing"],
        ["helpdesk", "access-sweep"],
        ["helpdesk", "process-mail"],
    ],
)
def test_commands_say_to_run_the_upgrade(fresh_app, args):
    result = fresh_app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 1, result.output
    assert "run `flask helpdesk db upgrade` first" in result.output
    assert "Traceback" not in result.output and "sqlite3" not in result.output


def test_create_agent_says_to_run_the_upgrade(fresh_app):
    member = make_member("Minh Tran")
    result = fresh_app.test_cli_runner().invoke(args=["helpdesk", "create-agent", member.get_id()])
    assert result.exit_code == 1
    assert "run `flask helpdesk db upgrade` first" in result.output


def test_after_the_upgrade_everything_works(fresh_app):
    runner = fresh_app.test_cli_runner()
    assert runner.invoke(args=["helpdesk", "db", "upgrade"]).exit_code == 0
    result = runner.invoke(args=["helpdesk", "create-department", "Billing"])
    assert result.exit_code == 0, result.output
    member = make_member("Lan Nguyen")
    assert fresh_app.test_client(user=member).get("/support/new").status_code == 200
