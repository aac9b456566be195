"""The agent desk blueprint (``helpdesk_desk``, mounted at ``HELPDESK_DESK_URL_PREFIX``).

Routes live in ``desk_queue.py`` (queue, saved views, counters), ``desk_ticket.py`` (the ticket
workspace and its actions), ``desk_new.py`` (tickets on behalf of a customer) and
``desk_canned.py`` (canned replies). Every route
starts with :func:`desk_actor`, which refuses anyone who is not staff with 403; tickets outside
an agent's departments are 404 (the services raise ``NotFound``).
"""

from __future__ import annotations

from flask import Blueprint, current_app, url_for
from flask_login import login_required
from markupsafe import Markup, escape
from werkzeug.exceptions import Forbidden as HTTPForbidden
from werkzeug.exceptions import NotFound as HTTPNotFound

from ..services import Forbidden, NotFound
from ..services.identity import Actor, agent_actor

bp = Blueprint("helpdesk_desk", __name__, template_folder="../templates")


@bp.before_request
@login_required
def _require_login() -> None:
    """Anonymous visitors go to the host's login page (Flask-Login), staff only past it."""
    return None


@bp.errorhandler(Forbidden)
@bp.errorhandler(NotFound)
def _refused(error: Forbidden | NotFound):
    """Service refusals become the host's own 403/404 pages (raising from an error handler
    would not reach them, so hand the HTTP error to Flask's handler lookup)."""
    http_error = HTTPForbidden() if isinstance(error, Forbidden) else HTTPNotFound()
    return current_app.handle_http_exception(http_error)


def desk_actor() -> Actor:
    """The logged-in agent; customers and strangers get 403 (via :class:`Forbidden`)."""
    return agent_actor()


def desk_entry(css_class: str = "helpdesk-desk-entry") -> Markup:
    """The "Support desk" link for host menus; renders nothing for anyone who is not staff.

    Host templates call ``{{ helpdesk_desk_entry() }}`` (a Jinja global).
    """
    from ..i18n import gettext as _

    try:
        agent_actor()
    except Forbidden:
        return Markup("")
    return Markup('<a class="{cls}" href="{href}">{label}</a>').format(
        cls=css_class, href=url_for("helpdesk_desk.queue"), label=escape(_("Support desk"))
    )


# Route modules register on ``bp`` when imported.
from . import desk_canned, desk_new, desk_queue, desk_ticket  # noqa: E402,F401

__all__ = ["bp", "desk_actor", "desk_entry"]
