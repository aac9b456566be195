"""The extension object: ``Helpdesk``, whose ``init_app`` wires the helpdesk into an app.

The per-app state it keeps in ``app.extensions["helpdesk"]`` and ``current_helpdesk`` live in
:mod:`.state` (re-exported here), which everything below the views imports instead.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from .cli import helpdesk_cli
from .config import resolve_config
from .forms import DEFAULT_FORMS
from .jobs import JobDispatcher
from .logs import configure as configure_logging
from .state import HelpdeskState, current_helpdesk
from .storage import StorageBackend, backend_from_config
from .users import (
    IsAdminCallback,
    UserInfoCallback,
    UserLoader,
)
from .views import register_views
from .views.guard import never_impersonated
from .views.locale import init_babel

__all__ = ["Helpdesk", "HelpdeskState", "current_helpdesk"]


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
            storage = backend_from_config(
                config["HELPDESK_STORAGE_BACKEND"],
                config,
                os.path.join(app.instance_path, "helpdesk-attachments"),
            )
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
        configure_logging(config["HELPDESK_LOG_FORMAT"])
        init_babel(app)

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
        return never_impersonated(view)

    def demo_user_factory(self, callback):
        """Register ``callback(key, name, email, is_admin) -> user`` that creates a host user
        for ``flask helpdesk seed-demo`` (the helpdesk never creates host users itself)."""
        self._demo_user_factory = callback
        return callback


def _check_form_names(forms: dict[str, type]) -> None:
    """A misspelt form name would leave the helpdesk's form in place without a word."""
    unknown = sorted(set(forms) - set(DEFAULT_FORMS))
    if unknown:
        raise TypeError(f"Unknown helpdesk form(s) {unknown}; known: {sorted(DEFAULT_FORMS)}")
