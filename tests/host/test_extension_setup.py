"""Setting the extension up the ways the docs and Flask conventions allow: the constructor
form with the host's objects, a clear word when init_app runs twice, and several apps with
different bind keys in one process."""

from __future__ import annotations

import pytest
from flask import Flask
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import create_engine, inspect, select, text

from flask_helpdesk import Helpdesk, current_helpdesk
from flask_helpdesk.models import Department
from flask_helpdesk.services.departments import create_department
from flask_helpdesk.services.identity import SYSTEM


def host(tmp_path, name: str, **config) -> tuple[Flask, SQLAlchemy]:
    app = Flask(name)
    app.config.update(
        SECRET_KEY="test",
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / (name + '.sqlite')}",
        HELPDESK_STORAGE_PATH=str(tmp_path / f"{name}-files"),
        **config,
    )
    db = SQLAlchemy()
    db.init_app(app)
    LoginManager().init_app(app)
    return app, db


def test_constructor_takes_the_hosts_db_and_user_loader(tmp_path):
    app, db = host(tmp_path, "shop")

    def load_user(user_id: str):
        return None

    helpdesk = Helpdesk(app, db=db, user_loader=load_user, url_prefix="/help")
    state = app.extensions["helpdesk"]
    assert state.extension is helpdesk and state.db is db and state.user_loader is load_user
    assert any(rule.rule == "/help/" for rule in app.url_map.iter_rules())


def test_init_app_twice_says_what_to_do(tmp_path):
    app, db = host(tmp_path, "shop")
    helpdesk = Helpdesk(app, db=db)
    with pytest.raises(RuntimeError, match=r"already set up on the app 'shop'.*once per app"):
        helpdesk.init_app(app, db=db)
    with pytest.raises(RuntimeError, match="already set up"):
        Helpdesk().init_app(app, db=db)


def test_two_apps_with_different_bind_keys_each_use_their_own_database(tmp_path):
    """One process, two sites: the first keeps the helpdesk in its main database, the second
    in a bind of its own. Setting up the second must not move the first one's tables."""
    first, first_db = host(tmp_path, "first")
    bound_url = f"sqlite:///{tmp_path / 'second-helpdesk.sqlite'}"
    second, second_db = host(
        tmp_path, "second", SQLALCHEMY_BINDS={"desk": bound_url}, HELPDESK_BIND_KEY="desk"
    )
    helpdesk = Helpdesk()
    helpdesk.init_app(first, db=first_db)
    helpdesk.init_app(second, db=second_db)

    for app, name in ((first, "Billing"), (second, "Shipping")):
        with app.app_context():
            current_helpdesk.create_all()
            create_department(SYSTEM, name)
    # Interleaved, as requests of two sites in one process are.
    with first.app_context():
        assert [d.name for d in first_db.session.scalars(select(Department))] == ["Billing"]
        with second.app_context():
            names = [d.name for d in second_db.session.scalars(select(Department))]
            assert names == ["Shipping"]
        assert first_db.session.scalar(select(Department.name)) == "Billing"

    main_of_second = create_engine(f"sqlite:///{tmp_path / 'second.sqlite'}")
    assert "helpdesk_department" not in inspect(main_of_second).get_table_names()
    with create_engine(bound_url).connect() as connection:
        assert connection.execute(text("select name from helpdesk_department")).all() == [
            ("Shipping",)
        ]
    for app, db in ((first, first_db), (second, second_db)):
        with app.app_context():
            for engine in db.engines.values():
                engine.dispose()
