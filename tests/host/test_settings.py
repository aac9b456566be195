"""Settings are checked when the app starts (``init_app``), not on the first customer's request:
plain strings that mean a number, size or duration are taken as such, anything else stops the
app with an error naming the key, and a misspelt key is named with the setting it resembles."""

from __future__ import annotations

import importlib.util
from datetime import timedelta

import pytest
from flask import Flask
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy

from flask_helpdesk import Helpdesk
from flask_helpdesk.config import ConfigError
from flask_helpdesk.services.departments import create_department
from flask_helpdesk.services.identity import SYSTEM
from tests.conftest import clean_tables, client_for, make_member, make_test_app


def start(tmp_path, **config) -> Flask:
    app = Flask("settings")
    app.config.update(
        SECRET_KEY="test", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 's.sqlite'}", **config
    )
    db = SQLAlchemy()
    db.init_app(app)
    LoginManager().init_app(app)
    Helpdesk().init_app(app, db=db)
    return app


def settings(tmp_path, **config) -> dict:
    return start(tmp_path, **config).extensions["helpdesk"].config


def test_strings_that_mean_a_value_are_taken_as_that_value(tmp_path):
    config = settings(
        tmp_path,
        HELPDESK_TICKETS_PER_PAGE="25",
        HELPDESK_ATTACHMENT_MAX_SIZE="10MB",
        HELPDESK_INBOUND_MAIL_MAX_SIZE="512 KiB",
        HELPDESK_ACCESS_GRANT_DURATION="8h",
        HELPDESK_MAIL_PLUS_ADDRESSING="true",
        HELPDESK_LANGUAGES="en, vi",
        HELPDESK_JOB_RETRY_INTERVALS="5,30",
    )
    assert config["HELPDESK_TICKETS_PER_PAGE"] == 25
    assert config["HELPDESK_ATTACHMENT_MAX_SIZE"] == 10 * 1024 * 1024
    assert config["HELPDESK_INBOUND_MAIL_MAX_SIZE"] == 512 * 1024
    assert config["HELPDESK_ACCESS_GRANT_DURATION"] == timedelta(hours=8)
    assert config["HELPDESK_MAIL_PLUS_ADDRESSING"] is True
    assert config["HELPDESK_LANGUAGES"] == ("en", "vi")
    assert config["HELPDESK_JOB_RETRY_INTERVALS"] == (5, 30)


def test_pages_work_with_settings_given_as_strings(_schema, database_url, tmp_path):
    """Both were 500s on the customer's first visit."""
    app = make_test_app(
        database_url,
        tmp_path,
        HELPDESK_TICKETS_PER_PAGE="25",
        HELPDESK_ATTACHMENT_MAX_SIZE="10MB",
    )
    with app.app_context():
        try:
            create_department(SYSTEM, "Billing")
            client = client_for(app, make_member("Lan Nguyen"))
            assert client.get("/support/").status_code == 200
            assert client.get("/support/new").status_code == 200
        finally:
            clean_tables(app)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"HELPDESK_TICKETS_PER_PAGE": "25 a page"}, "HELPDESK_TICKETS_PER_PAGE must be a whole"),
        ({"HELPDESK_TICKETS_PER_PAGE": 0}, "HELPDESK_TICKETS_PER_PAGE must be at least 1"),
        ({"HELPDESK_ATTACHMENT_MAX_SIZE": "ten megs"}, "HELPDESK_ATTACHMENT_MAX_SIZE must be"),
        ({"HELPDESK_ACCESS_GRANT_DURATION": 24}, "HELPDESK_ACCESS_GRANT_DURATION must be"),
        ({"HELPDESK_LANGUAGES": ("en", "xx-nope")}, "HELPDESK_LANGUAGES must be locale codes"),
        ({"HELPDESK_DEFAULT_LOCALE": "de"}, "HELPDESK_DEFAULT_LOCALE 'de' must be one of"),
        ({"HELPDESK_MAIL_BACKEND": "smtp"}, "HELPDESK_MAIL_BACKEND must be one of"),
        ({"HELPDESK_REDIS_URL": "localhost:6379"}, "starting with redis://"),
        ({"HELPDESK_MAIL_RATE_LIMIT": "20 an hour"}, 'a rate such as "20/hour"'),
        ({"HELPDESK_EXTERNAL_URL": "shop.example.com"}, "an http(s) URL"),
        ({"HELPDESK_URL_PREFIX": "support"}, 'a path starting with "/"'),
        ({"HELPDESK_SITE_NAME": 42}, "HELPDESK_SITE_NAME must be a string"),
        (
            {"HELPDESK_ACCESS_GRANT_DURATION": timedelta(days=9)},
            "at most HELPDESK_ACCESS_GRANT_MAX_DURATION",
        ),
    ],
)
def test_wrong_values_stop_the_app_at_start_naming_the_key(tmp_path, config, message):
    with pytest.raises(ConfigError) as error:
        start(tmp_path, **config)
    assert message in str(error.value)


def test_a_misspelt_key_names_the_setting_it_resembles(tmp_path):
    with pytest.raises(ConfigError, match="did you mean HELPDESK_TICKETS_PER_PAGE"):
        start(tmp_path, HELPDESK_TICKET_PER_PAGE=50)
    with pytest.raises(ConfigError, match="HELPDESK_NO_SUCH_THING is not a flask-helpdesk"):
        start(tmp_path, HELPDESK_NO_SUCH_THING=1)


def test_all_problems_are_listed_at_once(tmp_path):
    with pytest.raises(ConfigError) as error:
        start(tmp_path, HELPDESK_TICKETS_PER_PAGE="x", HELPDESK_MAIL_BACKEND="smtp")
    assert "HELPDESK_TICKETS_PER_PAGE" in str(error.value)
    assert "HELPDESK_MAIL_BACKEND" in str(error.value)


def test_a_redis_url_without_rq_installed_says_what_to_install(tmp_path, monkeypatch):
    """Before, the app started and every new ticket was a 500 after it was saved."""
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "rq" else real(name, *a)
    )
    with pytest.raises(
        ConfigError, match=r"rq not installed: pip install 'flask-helpdesk\[redis\]'"
    ):
        start(tmp_path, HELPDESK_REDIS_URL="redis://localhost:6379/0")


def test_settings_from_the_environment_with_from_prefixed_env(tmp_path, monkeypatch):
    """What docs/configuration.rst shows: FLASK_HELPDESK_* variables and from_prefixed_env()."""
    monkeypatch.setenv("FLASK_HELPDESK_REDIS_URL", "redis://localhost:6379/0")
    monkeypatch.setenv("FLASK_HELPDESK_TICKETS_PER_PAGE", "10")
    monkeypatch.setenv("FLASK_HELPDESK_ATTACHMENT_MAX_SIZE", "5MB")
    app = Flask("env")
    app.config.from_prefixed_env()
    app.config.update(SECRET_KEY="x", SQLALCHEMY_DATABASE_URI="sqlite://")
    db = SQLAlchemy(app)
    Helpdesk().init_app(app, db=db)
    config = app.extensions["helpdesk"].config
    assert config["HELPDESK_REDIS_URL"] == "redis://localhost:6379/0"
    assert config["HELPDESK_TICKETS_PER_PAGE"] == 10
    assert config["HELPDESK_ATTACHMENT_MAX_SIZE"] == 5 * 1024 * 1024
    assert app.extensions["helpdesk"].dispatcher.uses_rq


def test_a_flask_command_shows_a_settings_error_without_a_traceback(tmp_path, monkeypatch):
    """``flask helpdesk worker`` on a machine without the [redis] extra: one line saying what
    to install, not a traceback."""
    from click.testing import CliRunner
    from flask.cli import FlaskGroup

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "rq" else real(name, *a)
    )
    cli = FlaskGroup(
        create_app=lambda: start(tmp_path, HELPDESK_REDIS_URL="redis://localhost:6379/0")
    )
    result = CliRunner().invoke(cli, ["helpdesk", "worker"])
    assert result.exit_code == 1
    assert "Error: flask-helpdesk settings: HELPDESK_REDIS_URL is set but rq not installed" in (
        result.output
    )
    assert "pip install 'flask-helpdesk[redis]'" in result.output
    assert "Traceback" not in result.output
