"""The extension object and the user adapter, as a host developer meets them: one ``Helpdesk``
serving several apps, options over config, and mirrors of the host's users kept in step."""

from __future__ import annotations

import types
import uuid

import pytest
from flask import Flask
from flask_login import FlaskLoginClient, LoginManager, UserMixin
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import select

from example_app import create_app
from example_app.models import Member
from flask_helpdesk import Helpdesk, UserInfo, current_helpdesk
from flask_helpdesk.models import Agent, AgentRole, Contact
from flask_helpdesk.services.base import session
from flask_helpdesk.users import coerce_user_info, default_is_admin, default_user_info
from tests.conftest import client_for, make_member, post_form


def bare_app(tmp_path, name: str = "host", **config) -> tuple[Flask, SQLAlchemy]:
    """The least a host has: Flask-SQLAlchemy and Flask-Login, no helpdesk yet."""
    app = Flask(name)
    app.config.update(
        SECRET_KEY="test",
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / (name + '.sqlite')}",
        **config,
    )
    db = SQLAlchemy()
    db.init_app(app)
    LoginManager().init_app(app)
    return app, db


# -- the extension object -------------------------------------------------------------------------
def test_init_app_options_win_over_config_which_wins_over_defaults(tmp_path):
    app, db = bare_app(tmp_path, HELPDESK_SITE_NAME="From config", HELPDESK_URL_PREFIX="/help/")
    Helpdesk().init_app(app, db=db, site_name="From init_app", HELPDESK_TICKETS_PER_PAGE=5)
    config = app.extensions["helpdesk"].config
    assert config["HELPDESK_SITE_NAME"] == "From init_app"
    assert config["HELPDESK_TICKETS_PER_PAGE"] == 5
    assert config["HELPDESK_URL_PREFIX"] == "/help"  # from config, trailing slash dropped
    assert config["HELPDESK_DESK_URL_PREFIX"] == "/help/desk"  # derived
    assert config["HELPDESK_ATTACHMENT_MAX_COUNT"] == 10  # the default
    rules = {rule.rule for rule in app.url_map.iter_rules()}
    assert "/help/" in rules and "/help/desk/" in rules and "/support/" not in rules


def test_constructor_form_mounts_at_once_and_finds_the_hosts_db(tmp_path):
    app, _db = bare_app(tmp_path)
    helpdesk = Helpdesk(app, url_prefix="/aide")
    assert app.extensions["helpdesk"].extension is helpdesk
    assert any(rule.rule == "/aide/" for rule in app.url_map.iter_rules())
    with app.app_context():
        assert current_helpdesk.config["HELPDESK_URL_PREFIX"] == "/aide"


def test_mistakes_are_refused_at_start_up(tmp_path):
    app, db = bare_app(tmp_path)
    with pytest.raises(TypeError, match="url_prefx"):
        Helpdesk().init_app(app, db=db, url_prefx="/help")
    with pytest.raises(TypeError, match="new_tiket"):
        Helpdesk().init_app(app, db=db, forms={"new_tiket": object})
    without_db = Flask("no_db")
    with pytest.raises(RuntimeError, match="Flask-SQLAlchemy"):
        Helpdesk().init_app(without_db)


def test_one_extension_serves_several_apps_without_leaking(_schema, database_url, tmp_path):
    """The app factory in tests and multi-site processes: per-app state lives on the app."""
    first = create_app(
        {"SQLALCHEMY_DATABASE_URI": database_url, "HELPDESK_SITE_NAME": "First shop"}
    )
    second = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'second.sqlite'}",
            "HELPDESK_SITE_NAME": "Second shop",
            "HELPDESK_URL_PREFIX": "/help",
            "HELPDESK_STORAGE_PATH": str(tmp_path / "second-files"),
        }
    )
    first_state, second_state = first.extensions["helpdesk"], second.extensions["helpdesk"]
    assert first_state.extension is second_state.extension  # one Helpdesk() object
    assert first_state is not second_state
    assert first_state.storage.root != second_state.storage.root
    with first.app_context():
        assert current_helpdesk.config["HELPDESK_SITE_NAME"] == "First shop"
        with second.app_context():
            assert current_helpdesk.config["HELPDESK_SITE_NAME"] == "Second shop"
            assert current_helpdesk.db.engine.url.database.endswith("second.sqlite")
        assert current_helpdesk.config["HELPDESK_SITE_NAME"] == "First shop"
    assert first.test_client().get("/help/").status_code == 404
    assert second.test_client().get("/support/").status_code == 404
    # The second site's database has no helpdesk tables yet: its pages say to upgrade.
    assert second.test_client().get("/help/").status_code == 503
    with second.app_context():
        second_state.create_all()
    assert second.test_client().get("/help/").status_code == 302  # to the login page
    with second.app_context():
        second_state.db.engine.dispose()


# -- the user adapter ---------------------------------------------------------------------------
def test_default_adapter_reads_common_attribute_names():
    user = types.SimpleNamespace(
        username="lan", full_name="Lan Nguyen", email="lan@example.com", phone="", is_admin=1
    )
    assert default_user_info(user) == UserInfo(email="lan@example.com", name="Lan Nguyen")
    assert default_is_admin(user) is True
    assert default_is_admin(object()) is False
    assert default_user_info(object()) == UserInfo()
    assert coerce_user_info({"name": "Reza", "locale": "fa", "shoe_size": 44}) == UserInfo(
        name="Reza", locale="fa"
    )


def test_host_without_custom_adapter_works_with_its_own_attribute_names(tmp_path):
    """A host relying on the defaults: ``name``/``email``/``is_admin`` on an int-keyed model."""
    app, db = bare_app(tmp_path)

    class Person(UserMixin, db.Model):
        __tablename__ = "people"
        id = db.Column(db.Integer, primary_key=True)
        name = db.Column(db.String(50))
        email = db.Column(db.String(50))
        is_admin = db.Column(db.Boolean, default=False)

    def load_person(pk: str) -> Person | None:
        return db.session.get(Person, int(pk))

    app.login_manager.user_loader(load_person)
    Helpdesk().init_app(app, db=db)  # the user loader is found on Flask-Login
    with app.app_context():
        db.create_all()
        app.extensions["helpdesk"].create_all()
        person = Person(name="Minh", email="minh@example.com", is_admin=True)
        db.session.add(person)
        db.session.commit()
        state = app.extensions["helpdesk"]
        assert state.load_user("1") is person
        assert state.user_info(person) == UserInfo(email="minh@example.com", name="Minh")
        assert state.is_admin(person)
        app.test_client_class = FlaskLoginClient
        page = app.test_client(user=person).get("/support/desk/")
        assert page.status_code == 200
        agent = db.session.scalar(select(Agent))
        # A row that follows the host's is_admin; the admin verdict itself is never stored.
        assert (agent.user_id, agent.name, agent.via_host_admin) == ("1", "Minh", True)
        db.engine.dispose()


def test_mirrors_follow_the_host_user_whenever_they_act(app, departments, customer):
    client = client_for(app, customer)
    assert client.get("/support/").status_code == 200
    contact = session().scalar(select(Contact).where(Contact.user_id == str(customer.id)))
    assert (contact.name, contact.email, contact.phone) == (
        "Lan Nguyen",
        "lan@example.com",
        "+84900000001",
    )

    # The customer changes their profile on the host site; the next request brings it over.
    customer.display_name, customer.email, customer.phone = "Lan Tran", "lan.tran@example.com", None
    customer.preferred_language = "vi"
    session().commit()
    client.get("/support/")
    session().expire_all()
    contact = session().get(Contact, contact.id)
    assert (contact.name, contact.email, contact.locale) == (
        "Lan Tran",
        "lan.tran@example.com",
        "vi",
    )
    # The host stopped knowing the phone: the number typed before is kept, not erased.
    assert contact.phone == "+84900000001"
    assert session().scalar(select(Contact).where(Contact.user_id == str(customer.id))) is contact


def test_admin_is_decided_by_the_host(app, departments, customer):
    boss = make_member("Alex Admin", "alex@example.com", admin=True)
    assert client_for(app, customer).get("/support/desk/").status_code == 403
    assert session().scalar(select(Agent)) is None  # a customer does not become staff

    assert client_for(app, boss).get("/support/desk/").status_code == 200
    agent = session().scalar(select(Agent).where(Agent.user_id == str(boss.id)))
    assert agent.via_host_admin and agent.name == "Alex Admin"
    assert agent.role == AgentRole.AGENT  # admin is asked of the host on every request

    # Renamed on the host site: the desk shows the new name on the next visit.
    boss.display_name = "Alex Boss"
    session().commit()
    client_for(app, boss).get("/support/desk/")
    session().expire_all()
    assert session().get(Agent, agent.id).name == "Alex Boss"


def test_demo_host_users_are_not_a_user_table_and_have_uuid_keys(app, departments, customer):
    """DESIGN §2: the demo host proves that any user model works."""
    assert Member.__name__ != "User" and Member.__tablename__ not in {"user", "users"}
    assert isinstance(customer.id, uuid.UUID)
    code_page = post_form(
        client_for(app, customer),
        "/support/new",
        data={
            "department_id": departments["billing"].id,
            "subject": "Invoice",
            "priority": "2",
            "body": "Where is it?",
        },
    )
    assert code_page.status_code == 302
    contact = session().scalar(select(Contact))
    assert contact.user_id == str(customer.id)
    assert uuid.UUID(contact.user_id) == customer.id
