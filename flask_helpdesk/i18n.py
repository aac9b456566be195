"""The helpdesk's own translation domain.

The helpdesk ships its catalogues inside the package (``translations/``) and never mixes them with
the host's: host strings keep the host's domain, ours use this one. Import ``_``/``lazy_gettext``
from here, never from Flask-Babel directly.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.lists import format_list
from flask import current_app, has_request_context
from flask_babel import Domain, get_domain, get_locale

TRANSLATIONS_DIR = str(Path(__file__).parent / "translations")

domain = Domain(translation_directories=TRANSLATIONS_DIR, domain="messages")

gettext = domain.gettext
ngettext = domain.ngettext
lazy_gettext = domain.lazy_gettext
lazy_ngettext = domain.lazy_ngettext
_ = gettext


def page_translators() -> tuple[Callable[..., str], Callable[..., str]]:
    """``_()`` and ``ngettext()`` for one helpdesk page: our catalogue first, then the host's.

    A helpdesk page renders inside the host's base template, which shares the page's Jinja
    context: a plain ``_ = our gettext`` there would silently replace the host's own ``_()``
    in its layout (menus, footer). Falling back to the host's domain keeps those translated.

    Both catalogues are looked up once per page. Flask-Babel finds the current locale and its
    catalogue again for every string, and a queue page has a few hundred of them: that was a
    fifth of the page's Python time. A page renders in one locale, so nothing is lost.
    """
    ours = domain.get_translations()
    host_domain = get_domain()
    host = ours if host_domain is domain else host_domain.get_translations()
    catalog = getattr(ours, "_catalog", {})

    def page_gettext(string: str, **variables: Any) -> str:
        text = (ours if string in catalog else host).ugettext(string)
        return text % variables if variables else text

    def page_ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
        variables.setdefault("num", num)
        source = ours if (singular, 0) in catalog else host
        return source.ungettext(singular, plural, num) % variables

    return page_gettext, page_ngettext


def N_(message: str) -> str:
    """Mark *message* for extraction without translating it now (translated when shown)."""
    return message


# The departments ``flask helpdesk seed-demo`` creates (slug, name). The package owns these names
# and translates them; every other department name is the host's, see :func:`department_name`.
SEEDED_DEPARTMENTS: tuple[tuple[str, str], ...] = (
    ("account", N_("Account")),
    ("market", N_("Market")),
    ("campaigns", N_("Campaign management")),
    ("reports", N_("Reports")),
    ("notifications", N_("Notifications")),
    ("partners", N_("Partners & contracts")),
    ("revenue", N_("Revenue & reconciliation")),
    ("cooperation", N_("Cooperation")),
    ("other", N_("Other")),
)
_SEEDED_NAMES = frozenset(name for _slug, name in SEEDED_DEPARTMENTS)


def department_name(name: str | None) -> str:
    """A department's name as shown to people in the current language.

    Names the package seeds come from our catalogue. A host's own department ("Billing") goes
    only through the host's catalogue: looking it up in ours would translate it by accident
    whenever it equals one of our interface strings ("Account"), and leave its neighbours alone.
    """
    if not name:
        return ""
    if name in _SEEDED_NAMES:
        return gettext(name)
    host_domain = get_domain()
    if host_domain is domain or not has_request_context():
        return name
    return host_domain.gettext(name)


def language_names(codes: Any) -> str:
    """Language codes as a list of their names, each in its own language ("English, Tiếng
    Việt and فارسی"): whoever reads it recognises their language, whatever the page's."""
    current = get_locale() or Locale("en")
    names = []
    for code in codes or ():
        try:
            names.append(Locale.parse(code).get_display_name() or code)
        except (ValueError, TypeError, UnknownLocaleError):
            names.append(str(code))
    return format_list(names, locale=current) if names else ""


def text_direction() -> str:
    """``"rtl"`` for right-to-left locales (Persian), else ``"ltr"``."""
    locale = get_locale()
    rtl = current_app.extensions["helpdesk"].config["HELPDESK_RTL_LANGUAGES"]
    return "rtl" if locale is not None and locale.language in rtl else "ltr"
