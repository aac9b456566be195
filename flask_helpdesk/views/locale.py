"""The locale of a request, for apps whose host has no Flask-Babel of its own.

It reads the request (``?lang=``, Accept-Language), the Flask session and the logged-in user,
so it lives with the views; :mod:`flask_helpdesk.i18n` below only translates.
"""

from __future__ import annotations

from flask import Flask, has_request_context, request, session
from flask_babel import Babel
from flask_login import current_user

from ..state import current_helpdesk

SESSION_KEY = "helpdesk_lang"


def _user_locale() -> str | None:
    if current_user and getattr(current_user, "is_authenticated", False):
        return current_helpdesk.user_info(current_user._get_current_object()).locale
    return None


def select_locale() -> str:
    """Locale of the current request when the host has no Flask-Babel of its own.

    ``?lang=xx`` (remembered in the session) wins, then the user's ``locale`` from the user
    adapter, then the browser's Accept-Language among ``HELPDESK_LANGUAGES``.
    """
    languages = list(current_helpdesk.config["HELPDESK_LANGUAGES"])
    default = current_helpdesk.config["HELPDESK_DEFAULT_LOCALE"]
    if not has_request_context():
        return default
    asked = request.args.get("lang")
    if asked in languages:
        session[SESSION_KEY] = asked
        return asked
    remembered = session.get(SESSION_KEY)
    if remembered in languages:
        return remembered
    user_locale = _user_locale()
    if user_locale in languages:
        return user_locale
    return request.accept_languages.best_match(languages) or default


def init_babel(app: Flask) -> None:
    """Set up Flask-Babel for *app* unless the host already did (then its locale selector rules)."""
    if "babel" not in app.extensions:
        Babel(app, locale_selector=select_locale)
