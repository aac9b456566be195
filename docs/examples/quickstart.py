"""The whole quickstart site of docs/quickstart.rst: a Flask site with its own users, plus the
helpdesk. tests/test_docs.py runs this very file, so the docs cannot drift from the real API.

    flask --app quickstart init-db               # the site's own table
    flask --app quickstart helpdesk db upgrade   # the helpdesk's tables
    flask --app quickstart helpdesk create-department Billing
    flask --app quickstart create-user lan@example.com "Lan Nguyen"
    flask --app quickstart create-user boss@example.com "Alex Boss" --admin
    flask --app quickstart run                   # then open /login?email=lan@example.com

Mail is not sent anywhere here (no Flask-Mail): the helpdesk logs each one at WARNING level.
"""

from __future__ import annotations

from typing import Any

import click
from flask import Flask, redirect, render_template_string, request, url_for
from flask_login import LoginManager, UserMixin, login_user
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import Mapped, mapped_column

from flask_helpdesk import Helpdesk

db = SQLAlchemy()
login_manager = LoginManager()
login_manager.login_view = "login"
helpdesk = Helpdesk()


class Account(UserMixin, db.Model):
    """The site's users: any model, table and primary key will do."""

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(unique=True)
    name: Mapped[str]  # read by the default user adapter, like email, phone and is_admin
    is_admin: Mapped[bool] = mapped_column(default=False)


@login_manager.user_loader
def load_account(account_id: str) -> Account | None:
    return db.session.get(Account, int(account_id))


HOME = """<!doctype html>
<title>My site</title>
<nav>{{ helpdesk_menu_entry() }} {{ helpdesk_desk_entry() }}</nav>
<p>Welcome{% if current_user.is_authenticated %}, {{ current_user.name }}{% endif %}.</p>
"""


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY="change-me",  # Flask-WTF's CSRF tokens and the session need it
        SQLALCHEMY_DATABASE_URI="sqlite:///site.sqlite",
    )
    app.config.from_prefixed_env()  # FLASK_HELPDESK_REDIS_URL=... sets HELPDESK_REDIS_URL
    app.config.update(config or {})

    db.init_app(app)
    login_manager.init_app(app)
    helpdesk.init_app(app, db=db, user_loader=load_account)

    @app.get("/")
    def home() -> str:
        return render_template_string(HOME)

    @app.get("/login")
    def login():
        # Stand-in for the site's real login: /login?email=lan@example.com
        account = db.session.execute(
            db.select(Account).filter_by(email=request.args.get("email", ""))
        ).scalar_one_or_none()
        if account is None:
            return "Unknown account", 404
        login_user(account)
        return redirect(url_for("helpdesk.index"))

    @app.cli.command("init-db")
    def init_db() -> None:
        """Create the site's own tables."""
        db.create_all()

    @app.cli.command("create-user")
    @click.argument("email")
    @click.argument("name")
    @click.option("--admin", is_flag=True, help="A helpdesk admin (sees the whole desk).")
    def create_user(email: str, name: str, admin: bool) -> None:
        """Create an account of the site (a real site has its own sign-up)."""
        account = Account(email=email, name=name, is_admin=admin)
        db.session.add(account)
        db.session.commit()
        click.echo(f"account #{account.id} {email}; log in at /login?email={email}")

    return app
