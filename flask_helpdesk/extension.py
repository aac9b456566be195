"""The extension object and the per-app state it keeps in ``app.extensions["helpdesk"]``."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app
from flask_login import current_user
from flask_sqlalchemy import SQLAlchemy
from werkzeug.local import LocalProxy

from .config import resolve_config
from .i18n import init_babel
from .jobs import JobDispatcher
from .models import HelpdeskModel
from .storage import LocalStorage, StorageBackend
from .users import (
    IsAdminCallback,
    UserInfo,
    UserInfoCallback,
    UserLoader,
    coerce_user_info,
    default_is_admin,
    default_user_info,
)


def _log_sms(phone: str, text: str) -> None:
    current_app.logger.info("helpdesk SMS to %s: %s", phone, text)


@dataclass
class HelpdeskState:
    """Everything the helpdesk keeps per app (one extension object may serve many apps)."""

    extension: Helpdesk
    app: Flask
    db: SQLAlchemy
    config: dict[str, Any]
    storage: StorageBackend
    dispatcher: JobDispatcher
    forms: dict[str, type] = field(default_factory=dict)
    user_loader: UserLoader | None = None
    _schema_ready: bool = field(default=False, repr=False)

    # -- the user adapter ---------------------------------------------------------------------
    def user_info(self, user: Any) -> UserInfo:
        callback = self.extension._user_info_callback or default_user_info
        return coerce_user_info(callback(user))

    def is_admin(self, user: Any) -> bool:
        callback = self.extension._is_admin_callback or default_is_admin
        return bool(callback(user))

    def load_user(self, user_id: str) -> Any:
        """Resolve an opaque Flask-Login id back into the host's user (or None)."""
        loader = self.user_loader
        if loader is None:
            login_manager = getattr(self.app, "login_manager", None)
            loader = getattr(login_manager, "_user_callback", None)
        return loader(user_id) if loader is not None else None

    def user_locale(self) -> str | None:
        if current_user and getattr(current_user, "is_authenticated", False):
            return self.user_info(current_user._get_current_object()).locale
        return None

    def user_by_email(self, email: str) -> Any:
        """The host user with this email address (``@helpdesk.user_by_email``), or None."""
        callback = self.extension._user_by_email_callback
        return callback(email) if callback is not None else None

    def search_users(self, term: str, limit: int) -> list[Any]:
        """Host users matching *term* (``@helpdesk.user_search``); none without the hook."""
        callback = self.extension._user_search_callback
        return list(callback(term, limit))[:limit] if callback is not None else []

    def send_sms(self, phone: str, text: str) -> None:
        (self.extension._sms_sender or _log_sms)(phone, text)

    # -- schema -------------------------------------------------------------------------------
    @property
    def engine(self):
        return self.db.engines[self.config["HELPDESK_BIND_KEY"]]

    def create_all(self) -> None:
        """Create the helpdesk's tables directly (tests, quick demos). Production: migrations."""
        HelpdeskModel.metadata.create_all(self.engine)

    def drop_all(self) -> None:
        HelpdeskModel.metadata.drop_all(self.engine)
        self._schema_ready = False

    def missing_tables(self) -> list[str]:
        """The helpdesk tables not in the database yet (before ``flask helpdesk db upgrade``)."""
        from sqlalchemy import inspect

        # A connection of its own: asking must not begin or touch the host's transaction.
        with self.engine.connect() as connection:
            present = set(inspect(connection).get_table_names())
        return sorted(set(HelpdeskModel.metadata.tables) - present)

    def schema_ready(self) -> bool:
        """Are the helpdesk's tables there? Once they are, this process stops asking."""
        if not self._schema_ready:
            self._schema_ready = not self.missing_tables()
        return self._schema_ready


class Helpdesk:
    """The flask-helpdesk extension.

    ::

        helpdesk = Helpdesk()
        helpdesk.init_app(app, db=db, user_loader=load_user)
    """

    def __init__(
        self,
        app: Flask | None = None,
        db: SQLAlchemy | None = None,
        user_loader: UserLoader | None = None,
        storage: StorageBackend | None = None,
        forms: dict[str, type] | None = None,
        **options: Any,
    ) -> None:
        # What the constructor is given serves every app it is later init_app'ed on, unless
        # init_app says otherwise: ``Helpdesk(app, db=db)`` and ``init_app(app, db=db)`` agree.
        self._setup: dict[str, Any] = {
            "db": db,
            "user_loader": user_loader,
            "storage": storage,
            "forms": forms,
        }
        self._options = options
        self._user_info_callback: UserInfoCallback | None = None
        self._is_admin_callback: IsAdminCallback | None = None
        self._sms_sender = None
        self._user_by_email_callback = None
        self._user_search_callback = None
        self._demo_user_factory = None
        if app is not None:
            self.init_app(app)

    def init_app(
        self,
        app: Flask,
        db: SQLAlchemy | None = None,
        user_loader: UserLoader | None = None,
        storage: StorageBackend | None = None,
        forms: dict[str, type] | None = None,
        **options: Any,
    ) -> None:
        """Mount the helpdesk on *app*. *options* (``url_prefix=...``) win over app config."""
        if "helpdesk" in app.extensions:
            raise RuntimeError(
                f"flask-helpdesk is already set up on the app {app.name!r}: call init_app once"
                " per app. Helpdesk(app, ...) calls it for you; to pass options later, create"
                " Helpdesk() without the app and call helpdesk.init_app(app, db=db, ...)."
            )
        db = db or self._setup["db"] or app.extensions.get("sqlalchemy")
        user_loader = user_loader or self._setup["user_loader"]
        storage = storage or self._setup["storage"]
        forms = forms if forms is not None else self._setup["forms"]
        if db is None:
            raise RuntimeError(
                "flask-helpdesk needs the host's Flask-SQLAlchemy: init_app(app, db=db)"
            )
        config = resolve_config(app, {**self._options, **options})
        _check_form_names(forms or {})
        if storage is None:
            root = config["HELPDESK_STORAGE_PATH"] or os.path.join(
                app.instance_path, "helpdesk-attachments"
            )
            storage = LocalStorage(root)
        dispatcher = JobDispatcher(
            app,
            config["HELPDESK_REDIS_URL"],
            config["HELPDESK_QUEUE_NAME"],
            config["HELPDESK_JOB_RETRIES"],
            tuple(config["HELPDESK_JOB_RETRY_INTERVALS"]),
            config["HELPDESK_JOB_TIMEOUT"],
        )
        if dispatcher.uses_rq and not (
            config["HELPDESK_EXTERNAL_URL"] or app.config.get("SERVER_NAME")
        ):
            app.logger.warning(
                "flask-helpdesk: jobs run on RQ but neither HELPDESK_EXTERNAL_URL nor SERVER_NAME"
                " is set; links in mail sent by the worker cannot be absolute."
            )
        state = HelpdeskState(
            extension=self,
            app=app,
            db=db,
            config=config,
            storage=storage,
            dispatcher=dispatcher,
            forms=dict(forms or {}),
            user_loader=user_loader,
        )
        app.extensions["helpdesk"] = state
        init_babel(app)

        from .cli import helpdesk_cli
        from .views import register_views

        register_views(app, state)
        app.cli.add_command(helpdesk_cli)

    # -- decorators a host uses to plug behaviour in (Flask-Login style) ----------------------
    def user_info(self, callback: UserInfoCallback) -> UserInfoCallback:
        """Register ``callback(user) -> UserInfo | dict`` (email, name, phone, locale)."""
        self._user_info_callback = callback
        return callback

    def is_admin(self, callback: IsAdminCallback) -> IsAdminCallback:
        """Register ``callback(user) -> bool``: is this host user a helpdesk admin?"""
        self._is_admin_callback = callback
        return callback

    def user_by_email(self, callback):
        """Register ``callback(email) -> host user | None``: who the host knows by this address.

        Mail from a known address is tied to that user (their contact gets the user's id, so
        the tickets show in their portal); without this hook mail senders are contacts by email.
        """
        self._user_by_email_callback = callback
        return callback

    def user_search(self, callback):
        """Register ``callback(term, limit) -> iterable of host users`` whose name, email or
        phone matches *term*. The desk's customer picker (a ticket on behalf of a customer)
        then also finds users who never contacted support; without it, it finds contacts
        only."""
        self._user_search_callback = callback
        return callback

    def sms_sender(self, callback):
        """Register ``callback(phone, text)`` that sends an SMS (default: log it)."""
        self._sms_sender = callback
        return callback

    @staticmethod
    def not_while_impersonating(view):
        """Decorator: refuse this host endpoint while an agent acts as the customer (403).

        Same as :func:`flask_helpdesk.views.guard.never_impersonated`."""
        from .views.guard import never_impersonated

        return never_impersonated(view)

    def demo_user_factory(self, callback):
        """Register ``callback(key, name, email, is_admin) -> user`` that creates a host user
        for ``flask helpdesk seed-demo`` (the helpdesk never creates host users itself)."""
        self._demo_user_factory = callback
        return callback


def _check_form_names(forms: dict[str, type]) -> None:
    """A misspelt form name would leave the helpdesk's form in place without a word."""
    from .forms import DEFAULT_FORMS

    unknown = sorted(set(forms) - set(DEFAULT_FORMS))
    if unknown:
        raise TypeError(f"Unknown helpdesk form(s) {unknown}; known: {sorted(DEFAULT_FORMS)}")


def _get_state() -> HelpdeskState:
    return current_app.extensions["helpdesk"]


current_helpdesk: HelpdeskState = LocalProxy(_get_state)  # type: ignore[assignment]
