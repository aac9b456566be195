"""Blueprints: the customer portal, the agent desk, the JSON API, inbound hooks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Flask, Response
from markupsafe import Markup, escape

from .. import api
from ..i18n import department_name, language_names
from ..i18n import gettext as _
from ..models import TicketStatus
from ..richtext import snippet
from ..sanitize import clean_html, content_id_key
from ..services.identity import forget_mirrors, known_customer
from ..services.tickets import unread_count
from ..state import current_helpdesk
from . import (
    access_log,
    consent,
    contact_form,  # noqa: F401  (its routes join the portal's blueprint)
    converters,
    formatting,
    headers,
    health,
    help_center,  # noqa: F401  (its routes join the portal's blueprint)
    hooks,
    inbound_mail,
    request_id,
)
from .actors import current_host_user
from .desk import bp as desk_bp
from .desk import desk_entry, protect_posts
from .portal import bp as portal_bp

if TYPE_CHECKING:
    from ..state import HelpdeskState


def menu_entry(css_class: str = "helpdesk-menu-entry") -> Markup:
    """The avatar-menu link "Support requests" with a badge of unread agent replies.

    Host templates call ``{{ helpdesk_menu_entry() }}``; it renders nothing for anonymous users.
    It only reads (the host's transaction is open while its page renders) and still renders,
    without a badge, before ``flask helpdesk db upgrade`` created the helpdesk's tables.
    """
    from flask import url_for

    user = current_host_user()
    if user is None:
        return Markup("")
    count = 0
    if current_helpdesk.schema_ready():
        actor = known_customer(user)
        count = unread_count(actor) if actor is not None else 0
    badge = (
        Markup(' <span class="helpdesk-badge" title="{title}">{n}</span>').format(
            n=count, title=_("Unread replies")
        )
        if count
        else Markup("")
    )
    return Markup('<a class="{cls}" href="{href}">{label}{badge}</a>').format(
        cls=css_class,
        href=url_for("helpdesk.index"),
        label=escape(_("Support requests")),
        badge=badge,
    )


def require_schema() -> Response | None:
    """Before ``flask helpdesk db upgrade`` the helpdesk's pages say so (503) instead of failing
    on a missing table; the host's own pages are not concerned."""
    from flask import current_app, request

    blueprint = request.blueprint or ""
    # The health probes answer for themselves (liveness must not touch the database at all).
    if not blueprint.startswith("helpdesk") or blueprint == health.bp.name:
        return None
    if current_helpdesk.schema_ready():
        return None
    current_app.logger.error(
        "flask-helpdesk: its tables are missing; run `flask helpdesk db upgrade`"
    )
    message = _(
        "Support is not set up yet: its database tables are missing. The site's administrator"
        " must run “flask helpdesk db upgrade”."
    )
    return Response(
        Markup("<!doctype html><title>503</title><p>{}</p>").format(message),
        status=503,
        mimetype="text/html",
    )


def register_views(app: Flask, state: HelpdeskState) -> None:
    # First: the request id is known before any other hook of ours may log or answer.
    request_id.register(app, state.config["HELPDESK_REQUEST_ID_HEADER"])
    app.before_request(require_schema)
    # The user's mirror rows are read once per request (services/identity.py); an application
    # context may serve more than one request (tests, scripts), so they are dropped after each.
    app.teardown_request(lambda _error: forget_mirrors())
    converters.register(app)  # before the blueprints: their rules use <helpdesk_id:...>

    app.register_blueprint(portal_bp, url_prefix=state.config["HELPDESK_URL_PREFIX"] or "/")
    consent.register(app, state.config)
    app.jinja_env.globals["helpdesk_menu_entry"] = menu_entry

    app.register_blueprint(desk_bp, url_prefix=state.config["HELPDESK_DESK_URL_PREFIX"])
    protect_posts(app, state.config["HELPDESK_DESK_URL_PREFIX"])
    app.jinja_env.globals["helpdesk_desk_entry"] = desk_entry

    headers.register(app)
    hooks.register(app, state)
    health.register(app, state)
    inbound_mail.register(app, state)

    api.register(app, state)
    app.jinja_env.globals["status_label"] = status_label
    app.jinja_env.globals["department_name"] = department_name
    app.jinja_env.globals["language_names"] = language_names
    app.jinja_env.filters["helpdesk_sanitized"] = sanitized
    app.jinja_env.filters["helpdesk_snippet"] = snippet
    app.jinja_env.globals["helpdesk_inline_images"] = inline_images
    formatting.register(app)
    access_log.register(app)


def status_label(value: str) -> str:

    try:
        return TicketStatus(value).label
    except ValueError:
        return value


def sanitized(html: str | None, images: dict[str, str] | None = None) -> Markup:
    """Sanitize stored HTML once more at display time (nh3): never trust the database.

    *images* (see :func:`inline_images`) turns a mail's ``cid:`` images into the URLs of
    their stored files.
    """

    return Markup(clean_html(html or "", images=images))


def inline_images(message: Any, ticket: Any, download_endpoint: str) -> dict[str, str]:
    """Content-ID → download URL of the images a mail's HTML shows in place.

    Served like any attachment (the same permission check and headers), so an image in an
    internal note stays hidden from customers exactly as its file does.
    """
    from flask import url_for

    wanted = (message.data or {}).get("inline_images") or {}
    if not wanted or not message.body_html:
        return {}
    files = {a.id: a for a in message.attachments}
    urls = {}
    for content_id, attachment_id in wanted.items():
        attachment = files.get(attachment_id)
        if attachment is not None:
            urls[content_id_key(content_id)] = url_for(
                download_endpoint,
                code=ticket.code,
                attachment_id=attachment.id,
                filename=attachment.filename,
            )
    return urls
