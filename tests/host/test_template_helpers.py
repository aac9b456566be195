"""The helpers a host calls from its own templates (``helpdesk_menu_entry()``,
``helpdesk_desk_entry()``) only read: the host's unit of work is open while its page renders, and
whatever the host decides afterwards (commit or roll back) must be what happens to its rows."""

from __future__ import annotations

import pytest
from flask import render_template_string
from sqlalchemy import inspect, select

from example_app import create_app
from example_app.models import Member, db
from flask_helpdesk.models import Agent, Contact
from flask_helpdesk.services.base import session
from tests.conftest import client_for, make_member

HOST_PAGE = "{{ helpdesk_menu_entry() }}|{{ helpdesk_desk_entry() }}"


def _add_page_that_rolls_back(app) -> None:
    """A host view that adds a row, renders the menu, then decides to roll back (a failed
    form, say). Flask-SQLAlchemy's session is shared with the helpdesk."""

    @app.get("/host/rolls-back")
    def rolls_back():
        db.session.add(Member(email="ghost@example.com", display_name="Ghost", password_hash="x"))
        html = render_template_string(HOST_PAGE)
        db.session.rollback()
        return html


def _ghost_saved() -> bool:
    session().expire_all()
    return db.session.scalar(select(Member).where(Member.email == "ghost@example.com")) is not None


@pytest.mark.parametrize("admin", [False, True], ids=["customer", "host-admin"])
def test_rendering_the_menu_never_commits_the_hosts_transaction(app, admin):
    _add_page_that_rolls_back(app)
    member = make_member("Lan Nguyen", admin=admin)  # never visited support: no mirror rows yet
    page = client_for(app, member).get("/host/rolls-back")
    assert page.status_code == 200
    assert "Support requests" in page.get_data(as_text=True)
    assert ("Support desk" in page.get_data(as_text=True)) is admin
    assert not _ghost_saved()
    # Nor did the helper write mirror rows of its own: the helpdesk's pages do that.
    assert session().scalar(select(Contact)) is None
    assert session().scalar(select(Agent)) is None


def test_a_changed_profile_is_not_synced_by_the_menu_but_by_the_portal(app, departments, customer):
    client = client_for(app, customer)
    assert client.get("/support/").status_code == 200  # the portal mirrors the customer
    customer.display_name = "Lan Tran"
    db.session.commit()
    client.get("/")  # the host's home page renders the menu entry
    session().expire_all()
    contact = session().scalar(select(Contact))
    assert contact.name == "Lan Nguyen"
    client.get("/support/")
    session().expire_all()
    assert session().scalar(select(Contact)).name == "Lan Tran"


def test_an_inactive_agent_sees_no_desk_link(app, departments):
    from flask_helpdesk.services.agents import make_agent

    member = make_member("Sara Agent")
    agent = make_agent(str(member.id), ["billing"], "agent")
    html = lambda: client_for(app, member).get("/").get_data(as_text=True)  # noqa: E731
    assert "Support desk" in html()
    agent.is_active = False
    session().commit()
    assert "Support desk" not in html()


def test_host_pages_work_before_the_helpdesk_schema_exists(tmp_path):
    """Before ``flask helpdesk db upgrade`` the host's own pages (home with the menu entries,
    the login page) keep working; the helpdesk's tables are simply not there yet."""
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'fresh.sqlite'}",
            "HELPDESK_STORAGE_PATH": str(tmp_path / "files"),
        }
    )
    from flask_login import FlaskLoginClient

    app.test_client_class = FlaskLoginClient
    with app.app_context():
        db.create_all()  # the host's tables only
        admin = make_member("Alex Admin", admin=True)
        assert "helpdesk_tickets" not in inspect(db.engine).get_table_names()
        client = app.test_client(user=admin)
        home = client.get("/")
        assert home.status_code == 200
        assert "Support requests" in home.get_data(as_text=True)
        assert "Support desk" in home.get_data(as_text=True)
        assert app.test_client().get("/login").status_code == 200
        db.engine.dispose()
