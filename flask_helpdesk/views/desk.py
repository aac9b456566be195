"""The agent desk blueprint (``helpdesk_desk``, mounted at ``HELPDESK_DESK_URL_PREFIX``).

Routes live in ``desk_queue.py`` (queue, saved views, counters), ``desk_ticket.py`` (the ticket
workspace and its actions), ``desk_new.py`` (tickets on behalf of a customer) and
``desk_canned.py`` (canned replies). Every route
starts with :func:`desk_actor`, which refuses anyone who is not staff with 403; tickets outside
an agent's departments are 404 (the services raise ``NotFound``).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, current_app, request, url_for
from flask_login import login_required
from flask_wtf.csrf import CSRFError, validate_csrf
from markupsafe import Markup, escape
from wtforms.validators import ValidationError as WTFValidationError

from ..i18n import gettext as _
from ..services import Forbidden, NotFound
from ..services.identity import Actor, may_open_desk
from ..state import current_helpdesk
from .actors import agent_actor, current_host_user
from .common import service_error_page

bp = Blueprint("helpdesk_desk", __name__, template_folder="../templates")


@bp.before_request
@login_required
def _require_login() -> None:
    """Anonymous visitors go to the host's login page (Flask-Login), staff only past it."""
    return None


def protect_posts(app: Flask, prefix: str) -> None:
    """Every POST under the desk's URL *prefix* (the desk and the admin and access pages mounted
    there) carries a valid CSRF token, whether or not the host enabled Flask-WTF's CSRFProtect
    globally (``WTF_CSRF_CHECK_DEFAULT``): a missing or forged token is a 400 before any view
    runs, so no desk route can forget it. ``WTF_CSRF_ENABLED = False`` (a host's own tests)
    turns it off as it does for every Flask-WTF form."""

    @app.before_request
    def _require_csrf_token() -> None:
        config = current_app.config
        if request.method != "POST" or not config.get("WTF_CSRF_ENABLED", True):
            return
        if not (request.path == prefix or request.path.startswith(prefix.rstrip("/") + "/")):
            return
        token = request.form.get(config.get("WTF_CSRF_FIELD_NAME", "csrf_token"))
        for header in config.get("WTF_CSRF_HEADERS", ("X-CSRFToken", "X-CSRF-Token")):
            token = token or request.headers.get(header)
        try:
            validate_csrf(token)
        except WTFValidationError as error:
            raise CSRFError(error.args[0]) from None


@bp.errorhandler(Forbidden)
@bp.errorhandler(NotFound)
def _refused(error: Forbidden | NotFound):
    """Service refusals become the host's own 403/404 pages."""
    return service_error_page(error)


def desk_actor() -> Actor:
    """The logged-in agent; customers and strangers get 403 (via :class:`Forbidden`)."""
    return agent_actor()


@bp.context_processor
def _desk_context() -> dict[str, Any]:
    """What the desk's navigation shows on every page: admin links and the availability form.

    Error pages (403 for a customer) are rendered in this blueprint too: no agent, no extras.
    """
    try:
        actor = agent_actor()
    except Forbidden:
        return {"desk_me": None}
    return {
        "desk_me": actor,
        "desk_availability_form": availability_form(actor),
        "desk_bulk_form": bulk_form,
    }


def safe_desk_url(target: str | None) -> str:
    """*target* if it is a path inside the desk (a form's "come back here"), else the queue:
    never an open redirect to another site."""
    prefix = url_for("helpdesk_desk.queue")
    if (
        target
        and target.startswith(prefix)
        and not target.startswith("//")
        # CR/LF would split the Location header (werkzeug refuses it: a 500); a backslash is
        # read as "/" by browsers, so "/support/desk/\\evil.example" must not pass either.
        and target.isprintable()
        and "\\" not in target
    ):
        return target
    return prefix


def desk_entry(css_class: str = "helpdesk-desk-entry") -> Markup:
    """The "Support desk" link for host menus; renders nothing for anyone who is not staff.

    Host templates call ``{{ helpdesk_desk_entry() }}`` (a Jinja global). It only reads: the
    host's transaction is open while its page renders. Before the helpdesk's tables exist only
    host admins see it (the desk then tells them to run ``flask helpdesk db upgrade``).
    """

    user = current_host_user()
    if user is None:
        return Markup("")
    if current_helpdesk.schema_ready():
        allowed = may_open_desk(user)
    else:
        allowed = current_helpdesk.is_admin(user)
    if not allowed:
        return Markup("")
    return Markup('<a class="{cls}" href="{href}">{label}</a>').format(
        cls=css_class, href=url_for("helpdesk_desk.queue"), label=escape(_("Support desk"))
    )


# Route modules register on ``bp`` when imported.
from . import (  # noqa: E402,F401
    desk_admin,
    desk_articles,
    desk_bulk,
    desk_canned,
    desk_categories,
    desk_house_rules,
    desk_integrations,
    desk_new,
    desk_queue,
    desk_reports,
    desk_rules,
    desk_sla,
    desk_ticket,
)
from .desk_admin import availability_form  # noqa: E402
from .desk_bulk import bulk_form  # noqa: E402

__all__ = ["bp", "desk_actor", "desk_entry", "protect_posts", "safe_desk_url"]
