"""The per-app state in ``app.extensions["helpdesk"]`` and :data:`current_helpdesk`, its proxy.

Everything below the extension object (services, mail, models, jobs) reads the app's helpdesk
through here, so none of them imports :mod:`.extension`, which wires views and commands in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app
from flask_sqlalchemy import SQLAlchemy
from werkzeug.local import LocalProxy

from .jobs import JobDispatcher
from .models import HelpdeskModel
from .storage import StorageBackend
from .users import UserInfo, UserLoader, coerce_user_info, default_is_admin, default_user_info

if TYPE_CHECKING:
    from .extension import Helpdesk


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


def _get_state() -> HelpdeskState:
    # The app itself, then plain attributes (each read through the proxy is a lookup).
    return current_app._get_current_object().extensions["helpdesk"]


current_helpdesk: HelpdeskState = LocalProxy(_get_state)  # type: ignore[assignment]
