"""The locale and time zone of a request, for apps whose host has no Flask-Babel of its own.

It reads the request (``?lang=``, Accept-Language, the browser's zone cookie), the Flask session
and the logged-in user, so it lives with the views; :mod:`flask_helpdesk.i18n` below only
translates.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask, has_request_context, request, session
from flask_babel import Babel
from flask_login import current_user

from ..state import current_helpdesk

SESSION_KEY = "helpdesk_lang"
# Set by static/helpdesk/zone.js from the browser's Intl time zone.
TIMEZONE_COOKIE = "helpdesk_tz"


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


def _zone(name: str | None) -> ZoneInfo | None:
    if not name or len(name) > 64:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):  # a typo, a forged cookie, "../etc"
        return None


def viewer_timezone() -> ZoneInfo | None:
    """The zone of whoever reads this page: the host user's (``timezone`` from the user
    adapter), else the browser's (the ``helpdesk_tz`` cookie), else None (not known)."""
    if not has_request_context():
        return None
    if current_user and getattr(current_user, "is_authenticated", False):
        info = current_helpdesk.user_info(current_user._get_current_object())
        if (zone := _zone(info.timezone)) is not None:
            return zone
    return _zone(request.cookies.get(TIMEZONE_COOKIE))


def select_timezone() -> str | None:
    """Flask-Babel's time zone: the reader's when known, else ``BABEL_DEFAULT_TIMEZONE``."""
    zone = viewer_timezone()
    return zone.key if zone is not None else None


def init_babel(app: Flask) -> None:
    """Set up Flask-Babel for *app* unless the host already did (then its selectors rule)."""
    if "babel" not in app.extensions:
        Babel(app, locale_selector=select_locale, timezone_selector=select_timezone)
