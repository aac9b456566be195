"""A small host site that mounts flask-helpdesk the way a real site would.

Run it with ``bash example_app/run`` (see the README); tests build it with ``create_app``.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import click
from flask import Flask
from flask_login import LoginManager
from flask_mail import Mail
from flask_wtf import CSRFProtect

from flask_helpdesk import Helpdesk, UserInfo

from .models import Member, db

login_manager = LoginManager()
login_manager.login_view = "site.login"
mail = Mail()
csrf = CSRFProtect()
helpdesk = Helpdesk()

DEMO_PASSWORD = "demo"


@login_manager.user_loader
def load_member(member_id: str) -> Member | None:
    try:
        return db.session.get(Member, uuid.UUID(member_id))
    except ValueError:
        return None


@helpdesk.user_info
def member_info(member: Member) -> UserInfo:
    # The helpdesk would find ``email`` by itself; the name and language live under other names.
    return UserInfo(
        email=member.email,
        name=member.display_name,
        phone=member.phone,
        locale=member.preferred_language,
        timezone=member.time_zone,
    )


@helpdesk.is_admin
def member_is_admin(member: Member) -> bool:
    return member.is_superuser


@helpdesk.user_search
def find_members(term: str, limit: int) -> list[Member]:
    # Agents open tickets for any member, also one who never wrote to support.
    pattern = f"%{term}%"
    digits = "".join(ch for ch in term if ch.isdigit())
    phone = db.func.replace(Member.phone, " ", "")  # "+84 91 234" is found by "91234"
    return db.session.scalars(
        db.select(Member)
        .where(
            Member.display_name.ilike(pattern)
            | Member.email.ilike(pattern)
            | (phone.contains(digits) if len(digits) >= 3 else False)
        )
        .order_by(Member.display_name)
        .limit(limit)
    ).all()


@helpdesk.demo_user_factory
def make_demo_member(key: str, name: str, email: str, is_admin: bool) -> Member:
    member = Member(
        email=email,
        display_name=name,
        is_superuser=is_admin,
        phone="+84 90 000 0000" if key == "customer" else None,
    )
    member.set_password(DEMO_PASSWORD)
    db.session.add(member)
    db.session.commit()
    return member


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.config.update(
        SECRET_KEY=os.environ.get("SECRET_KEY", "demo-only-secret-change-me"),
        SQLALCHEMY_DATABASE_URI=os.environ.get(
            "DATABASE_URL", "sqlite:///" + os.path.join(app.instance_path, "demo.sqlite")
        ),
        MAIL_SUPPRESS_SEND=True,
        MAIL_DEFAULT_SENDER="support@example.com",
        # Wrap helpdesk pages in this site's layout.
        HELPDESK_BASE_TEMPLATE="helpdesk_base.html",
        HELPDESK_SITE_NAME="Demo Shop",
        HELPDESK_REDIS_URL=os.environ.get("REDIS_URL"),
        # Where visitors reach the site: links in the mails the demo prints are absolute then.
        HELPDESK_EXTERNAL_URL=os.environ.get("HELPDESK_EXTERNAL_URL"),
    )
    app.config.update(config or {})
    os.makedirs(app.instance_path, exist_ok=True)

    db.init_app(app)
    login_manager.init_app(app)
    mail.init_app(app)
    csrf.init_app(app)
    helpdesk.init_app(app, db=db, user_loader=load_member)

    from .views import site

    app.register_blueprint(site)

    @app.cli.command("init-db")
    def init_db() -> None:
        """Create the site's own tables (the helpdesk's come from `flask helpdesk db upgrade`)."""
        db.create_all()
        click.echo("site tables created")

    return app
