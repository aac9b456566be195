"""Account access with consent: the customer's answers, the agent's requests and sessions, and
the hooks that guard and log every request of the host made while acting as a customer."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    g,
    redirect,
    request,
    url_for,
)
from flask_login import login_required
from markupsafe import Markup

from ..forms import get_form_class
from ..i18n import N_
from ..i18n import gettext as _
from ..models import AccessGrant, GrantScope
from ..services import ServiceError, ValidationError, consent, tickets
from ..services.base import rollback
from ..services.impersonation import ImpersonationEnded
from ..services.permissions import can
from .actors import agent_actor, customer_actor
from .common import abort_for, apply_service_error, render, service_error_page
from .guard import (
    UNSAFE_METHODS,
    current_acting,
    endpoint_refused,
    is_impersonating,
    never_impersonated,
    refused_response,
    start_impersonation,
    stop_impersonation,
    verify_acting,
)

portal_bp = Blueprint("helpdesk_access", __name__)
desk_bp = Blueprint("helpdesk_access_desk", __name__)
STOP_ENDPOINT = "helpdesk_access.stop"

ENDED_MESSAGES = {
    "expired": N_("Your access to the customer's account expired. You are yourself again."),
    "revoked": N_("The customer revoked your access. You are yourself again."),
    "session_changed": N_("The session as the customer ended."),
    "tampered": N_("The session could not be verified and was ended. Please log in again."),
    "customer_staff": N_(
        "The customer's account is now a staff account, and nobody may act as an admin or"
        " an agent. The session as the customer ended; you are yourself again."
    ),
    "agent_inactive": N_(
        "Your agent account was deactivated, so the session as the customer ended."
        " Please log in again."
    ),
}


def _ended_message(reason: str) -> str:
    return _(ENDED_MESSAGES.get(reason, "The session as the customer ended."))


@portal_bp.errorhandler(ServiceError)
@desk_bp.errorhandler(ServiceError)
def _service_error(error: ServiceError):
    return service_error_page(error)


# -- the hooks: every request of the host app --------------------------------------------------


def _is_static(endpoint: str | None) -> bool:
    return endpoint is not None and (endpoint == "static" or endpoint.endswith(".static"))


def guard_request():
    """While acting: grant still good (else end it now), scope and refused endpoints enforced."""
    if not is_impersonating() or _is_static(request.endpoint):
        return None
    try:
        acting = verify_acting()
    except ImpersonationEnded as ended:
        flash(_ended_message(ended.reason), "warning")
        return redirect(_after_end_url(ended.grant))
    if acting is None:
        return None
    g._helpdesk_acting = acting
    g._helpdesk_acting_grant_id = acting.grant.id
    if request.endpoint == STOP_ENDPOINT:
        return None
    if endpoint_refused(request.endpoint):
        return refused_response("sensitive")
    if acting.grant.scope == GrantScope.VIEW and request.method in UNSAFE_METHODS:
        return refused_response("view_only")
    return None


@portal_bp.after_app_request
def log_request(response):
    """Record each request made while acting (method, path without query, status code)."""
    grant_id = g.get("_helpdesk_acting_grant_id")
    if grant_id is not None:
        if response.status_code >= 500:
            # The log row is committed on the shared session: a failed request's half-done
            # work must not be committed along with it.
            rollback()
        try:
            consent.record_request(
                grant_id,
                request.method,
                request.script_root + request.path,
                response.status_code,
                request.endpoint,
            )
        except Exception:  # the log must never turn a page into an error; the operator hears
            current_app.logger.exception("could not log a request made as a customer")
            rollback()
    return response


_BODY_TAG = re.compile(r"<body\b[^>]*>", re.IGNORECASE)


@portal_bp.after_app_request
def ensure_banner(response):
    """Put the banner on every HTML page of the host while acting, also on pages whose layout
    does not call ``helpdesk_impersonation_banner()`` (right after ``<body>``)."""
    if (
        current_acting() is None
        or g.get("_helpdesk_banner_shown")
        or response.mimetype != "text/html"
        or response.is_streamed
        or response.direct_passthrough
        or 300 <= response.status_code < 400
    ):
        return response
    page = response.get_data(as_text=True)
    banner = str(impersonation_banner())
    match = _BODY_TAG.search(page)
    at = match.end() if match else 0
    response.set_data(page[:at] + banner + page[at:])
    return response


def _after_end_url(grant: AccessGrant | None) -> str:
    if grant is None:
        return url_for("helpdesk.index")
    return desk_ticket_url(grant.ticket.code)


def desk_ticket_url(code: str) -> str:
    """The desk's workspace of the ticket when the desk is mounted, else our access page."""
    if "helpdesk_desk.ticket" in current_app.view_functions:
        return url_for("helpdesk_desk.ticket", code=code, _anchor="access")
    return url_for("helpdesk_access_desk.ticket_access", code=code)


# -- the customer's side ------------------------------------------------------------------------


def _customer_answer(grant_id: int, action) -> object:
    actor = customer_actor()
    if actor is None:
        return abort_for(ServiceError())
    grant = consent.find_grant(actor, grant_id)
    if not get_form_class("access_action")().validate_on_submit():
        flash(_("The form expired. Please try again."), "error")
        return redirect(url_for("helpdesk.ticket", code=grant.ticket.code, _anchor="access"))
    try:
        action(actor, grant)
    except ServiceError as error:
        if error.status_code in (403, 404):
            raise
        flash(error.message, "error")
    return grant


def _answered(grant_id: int, answer, message: Callable[[AccessGrant], str | None]):
    """Apply the customer's *answer* to the grant and go back to the ticket's access panel,
    flashing what *message* says of the answered grant (nothing when it returns None)."""
    result = _customer_answer(grant_id, answer)
    if not isinstance(result, AccessGrant):
        return result
    text = message(result)
    if text:
        flash(text, "success")
    return redirect(url_for("helpdesk.ticket", code=result.ticket.code, _anchor="access"))


@portal_bp.post("/access/<helpdesk_id:grant_id>/accept")
@login_required
@never_impersonated
def accept(grant_id: int):
    return _answered(
        grant_id,
        consent.accept,
        lambda grant: _("You gave support access to your account.") if grant.is_usable() else None,
    )


@portal_bp.post("/access/<helpdesk_id:grant_id>/decline")
@login_required
@never_impersonated
def decline(grant_id: int):
    return _answered(grant_id, consent.decline, lambda grant: _("You declined the access request."))


@portal_bp.post("/access/<helpdesk_id:grant_id>/revoke")
@login_required
@never_impersonated
def revoke(grant_id: int):
    return _answered(
        grant_id, consent.revoke, lambda grant: _("Support no longer has access to your account.")
    )


@portal_bp.post("/access/stop")
def stop():
    """The banner's Stop button: back to the agent's own account."""
    acting = current_acting()
    if acting is None:
        return redirect(url_for("helpdesk.index"))
    if not get_form_class("access_action")().validate_on_submit():
        return refused_response("csrf")
    code = acting.grant.ticket.code
    stop_impersonation("stopped")
    flash(_("You stopped acting as the customer."), "success")
    return redirect(desk_ticket_url(code))


# -- the agent's side ---------------------------------------------------------------------------


@desk_bp.route("/tickets/<code>/access", methods=["GET", "POST"])
@login_required
def ticket_access(code: str):
    """The access panel on a page of its own (the desk workspace also shows it)."""
    actor = agent_actor()
    ticket = tickets.find_ticket(actor, code)
    form = get_form_class("access_request")()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                consent.request_access(
                    actor,
                    ticket,
                    form.reason.data or "",
                    form.scope.data or "view",
                    timedelta(hours=form.duration_hours.data or 0),
                )
            except ValidationError as error:
                apply_service_error(form, error)
            except ServiceError as error:
                if error.status_code == 404:
                    raise
                # A request already made, say: the panel shows it (and hides this form), so
                # the message must reach the page the agent is sent back to.
                flash(error.message, "error")
                return redirect(desk_ticket_url(ticket.code))
            else:
                flash(_("The customer was asked for access."), "success")
                return redirect(desk_ticket_url(ticket.code))
        status = 422
    return render(
        "helpdesk/access/desk_ticket.html",
        ticket=ticket,
        request_form=form,
        has_desk="helpdesk_desk.ticket" in current_app.view_functions,
    ), status


def _agent_grant_action(grant_id: int, action, message: str, target=None):
    actor = agent_actor()
    grant = consent.find_grant(actor, grant_id)
    if not get_form_class("access_action")().validate_on_submit():
        flash(_("The form expired. Please try again."), "error")
        return redirect(desk_ticket_url(grant.ticket.code))
    try:
        action(actor, grant)
    except ServiceError as error:
        if error.status_code == 404:
            raise
        flash(error.message, "error")
        return redirect(desk_ticket_url(grant.ticket.code))
    flash(message, "success")
    return redirect(target(grant) if target else desk_ticket_url(grant.ticket.code))


@desk_bp.post("/access/<helpdesk_id:grant_id>/start")
@login_required
def start(grant_id: int):
    return _agent_grant_action(
        grant_id,
        start_impersonation,
        _("You are now acting as the customer. Every page you open is logged."),
        target=lambda grant: url_for("helpdesk.ticket", code=grant.ticket.code),
    )


@desk_bp.post("/access/<helpdesk_id:grant_id>/release")
@login_required
def release(grant_id: int):
    return _agent_grant_action(grant_id, consent.revoke, _("You gave the access back."))


# -- what templates render ----------------------------------------------------------------------


def impersonation_banner() -> Markup:
    """``{{ helpdesk_impersonation_banner() }}``: who acts as whom until when, and Stop.

    Renders once per page (the host's layout and the helpdesk's page may both call it).
    """
    acting = current_acting()
    if acting is None or g.get("_helpdesk_banner_shown"):
        return Markup("")
    g._helpdesk_banner_shown = True
    form = get_form_class("access_action")()
    return Markup(render("helpdesk/access/_banner.html", grant=acting.grant, stop_form=form))


def customer_panel(ticket) -> Markup:
    """The access requests of *ticket* for its customer: answer, revoke, read the log."""
    actor = customer_actor()
    if actor is None:
        return Markup("")
    grants = consent.ticket_grants(actor, ticket)
    if not grants:
        return Markup("")
    log = consent.ticket_log(actor, ticket, grants=grants)
    form = get_form_class("access_action")(formdata=None)
    return Markup(
        render(
            "helpdesk/access/_customer_panel.html",
            ticket=ticket,
            grants=grants,
            log=log,
            agent_names={grant.id: grant.agent.display_name for grant in grants},
            action_form=form,
            acting=is_impersonating(),
        )
    )


def customer_prompts() -> Markup:
    """The portal list's prompts: requests waiting for an answer, access support has now."""
    actor = customer_actor()
    if actor is None:
        return Markup("")
    pending = consent.open_for_customer(actor)
    if not pending:
        return Markup("")
    form = get_form_class("access_action")(formdata=None)
    return Markup(
        render(
            "helpdesk/access/_prompts.html",
            pending=pending,
            action_form=form,
            acting=is_impersonating(),
        )
    )


def desk_panel(ticket, request_form=None) -> Markup:
    """The workspace sidebar's panel: ask for access, see answers, start a session, the log."""
    actor = agent_actor()
    grants = consent.ticket_grants(actor, ticket)
    log = consent.ticket_log(actor, ticket, grants=grants)
    mine_open = any(
        grant.agent_id == actor.agent.id and (grant.is_pending or grant.is_usable())
        for grant in grants
    )
    if request_form is None:
        request_form = get_form_class("access_request")(formdata=None)
    return Markup(
        render(
            "helpdesk/access/_desk_panel.html",
            ticket=ticket,
            grants=grants,
            log=log,
            me=actor.agent,
            can_request=not mine_open and can(actor, "request_access", ticket),
            request_form=request_form,
            action_form=get_form_class("access_action")(formdata=None),
        )
    )


def register(app: Flask, config: dict) -> None:
    # First of the app's hooks: another hook that answers early (CSRF protection refusing a
    # form, a host's maintenance page) must neither run as the customer unchecked nor go unlogged.
    app.before_request_funcs.setdefault(None, []).insert(0, guard_request)
    app.register_blueprint(portal_bp, url_prefix=config["HELPDESK_URL_PREFIX"] or None)
    app.register_blueprint(desk_bp, url_prefix=config["HELPDESK_DESK_URL_PREFIX"])
    app.jinja_env.globals["helpdesk_impersonation_banner"] = impersonation_banner
    app.jinja_env.globals["helpdesk_access_customer_panel"] = customer_panel
    app.jinja_env.globals["helpdesk_access_prompts"] = customer_prompts
    app.jinja_env.globals["helpdesk_access_desk_panel"] = desk_panel


__all__ = ["desk_bp", "portal_bp", "refused_response", "register"]
