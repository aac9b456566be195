"""The customer's log of what support did in their account, in words a person reads
("Opened support request HD-4F7K2Q", "Refused: change password") instead of HTTP lines."""

from __future__ import annotations

import re

from flask import Flask

from ..i18n import N_, gettext
from ..models import ImpersonationLog

# The helpdesk's own pages by endpoint; the host's pages are named after their endpoint.
HELPDESK_PAGES = {
    "helpdesk.index": N_("support requests"),
    "helpdesk.new_ticket": N_("new support request"),
    "helpdesk.ticket": N_("support request %(code)s"),
    "helpdesk.reply": N_("reply on %(code)s"),
    "helpdesk.close": N_("closing of %(code)s"),
    "helpdesk.rate": N_("rating of %(code)s"),
    "helpdesk.download": N_("attachment of %(code)s"),
}
# Requests that read as a whole sentence of their own.
SENTENCES = {"helpdesk_access.stop": N_("Ended the session")}
CODE = re.compile(r"/tickets/([A-Za-z0-9-]+)")
READING = {"GET", "HEAD", "OPTIONS"}


def page_name(entry: ImpersonationLog) -> str:
    """What the logged request was about: our page's name, or the host's endpoint in words."""
    endpoint = entry.endpoint or ""
    known = HELPDESK_PAGES.get(endpoint)
    if known:
        found = CODE.search(entry.path or "")
        return gettext(known, code=found.group(1) if found else "")
    if endpoint:
        # "site.change_password" -> "change password": the host's own name for the page.
        return endpoint.rsplit(".", 1)[-1].replace("_", " ").strip() or entry.path
    return entry.path


def describe(entry: ImpersonationLog) -> str:
    """One line of the customer's access log."""
    if entry.endpoint in SENTENCES and entry.status_code < 400:
        return gettext(SENTENCES[entry.endpoint])
    name = page_name(entry)
    if entry.status_code >= 400:
        return gettext("Refused: %(page)s", page=name)
    if entry.method.upper() in READING:
        return gettext("Opened %(page)s", page=name)
    return gettext("Saved %(page)s", page=name)


def register(app: Flask) -> None:
    app.jinja_env.globals["helpdesk_access_action"] = describe
