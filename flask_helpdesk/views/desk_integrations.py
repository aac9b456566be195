"""API tokens (every agent, for themselves; admins for anyone and for host systems) and webhook
endpoints with their delivery log (admins). Secrets are shown once, on the page answering the
POST that created them, never through a redirect or a flash kept in the session."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import flash, redirect, url_for
from wtforms.fields.choices import SelectChoice

from ..forms import get_form_class
from ..i18n import gettext as _
from ..services import Forbidden, ValidationError, api_tokens, webhooks
from ..services.identity import Actor
from .common import apply_service_error, render
from .desk import bp, desk_actor


def _token_form(actor: Actor, **kwargs: Any):
    form = get_form_class("desk_api_token")(**kwargs)
    scopes = [("read", _("Read")), ("write", _("Read and write"))]
    kinds = [("personal", _("Personal (acts as me)"))]
    if actor.is_admin:
        scopes.append(("admin", _("Admin")))
        kinds.append(("service", _("Service (a host system, sees every department)")))
    form.scope.choices = [SelectChoice(v, label) for v, label in scopes]
    form.kind.choices = [SelectChoice(v, label) for v, label in kinds]
    return form


def _tokens_page(actor: Actor, form: Any, new_token: str | None = None, status: int = 200):
    return render(
        "helpdesk/desk/api_tokens.html",
        tokens=api_tokens.list_tokens(actor),
        form=form,
        button=get_form_class("desk_button")(formdata=None),
        new_token=new_token,
        api_prefix=url_for("helpdesk_api.openapi_page"),
    ), status


@bp.get("/api-tokens")
def api_token_list():
    actor = desk_actor()
    return _tokens_page(actor, _token_form(actor, formdata=None))


@bp.post("/api-tokens")
def create_api_token():
    actor = desk_actor()
    form = _token_form(actor)
    if form.validate_on_submit():
        try:
            _row, token = api_tokens.create_token(
                actor,
                form.name.data or "",
                scope=form.scope.data,
                kind=form.kind.data,
                expires_in=timedelta(days=form.days.data) if form.days.data else None,
            )
        except ValidationError as error:
            apply_service_error(form, error)
        else:  # shown on this answer only: the token exists nowhere else
            return _tokens_page(actor, _token_form(actor, formdata=None), new_token=token)
    return _tokens_page(actor, form, status=422)


@bp.post("/api-tokens/<helpdesk_id:token_id>/revoke")
def revoke_api_token(token_id: int):
    actor = desk_actor()
    if get_form_class("desk_button")().validate_on_submit():
        api_tokens.revoke_token(actor, token_id)
        flash(_("The token was revoked."), "success")
    return redirect(url_for(".api_token_list"))


# -- webhooks (admins) ------------------------------------------------------------------------


def _admin() -> Actor:
    actor = desk_actor()
    if not actor.is_admin:
        raise Forbidden(_("Only admins can manage webhooks."))
    return actor


def _webhooks_page(actor: Actor, form: Any, secret: str | None = None, status: int = 200):
    return render(
        "helpdesk/admin/webhooks.html",
        endpoints=webhooks.list_endpoints(actor),
        form=form,
        button=get_form_class("desk_button")(formdata=None),
        secret=secret,
        event_names=webhooks.EVENT_NAMES,
    ), status


@bp.get("/admin/webhooks")
def admin_webhooks():
    return _webhooks_page(_admin(), get_form_class("desk_webhook")(formdata=None))


@bp.post("/admin/webhooks")
def create_webhook():
    actor = _admin()
    form = get_form_class("desk_webhook")()
    if form.validate_on_submit():
        events = [e for e in (form.events.data or "*").replace(",", " ").split() if e]
        try:
            endpoint = webhooks.create_endpoint(
                actor, form.url.data or "", events, form.description.data or ""
            )
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            fresh = get_form_class("desk_webhook")(formdata=None)
            return _webhooks_page(actor, fresh, secret=endpoint.secret)
    return _webhooks_page(actor, form, status=422)


@bp.post("/admin/webhooks/<helpdesk_id:endpoint_id>/active")
def toggle_webhook(endpoint_id: int):
    actor = _admin()
    if get_form_class("desk_button")().validate_on_submit():
        endpoint = webhooks.get_endpoint(actor, endpoint_id)
        webhooks.set_active(actor, endpoint, not endpoint.is_active)
    return redirect(url_for(".admin_webhooks"))


@bp.get("/admin/webhooks/<helpdesk_id:endpoint_id>")
def admin_webhook(endpoint_id: int):
    actor = _admin()
    endpoint = webhooks.get_endpoint(actor, endpoint_id)
    return render(
        "helpdesk/admin/webhook.html",
        endpoint=endpoint,
        deliveries=webhooks.deliveries(actor, endpoint),
        button=get_form_class("desk_button")(formdata=None),
    )


@bp.post("/admin/webhook-deliveries/<helpdesk_id:delivery_id>/redeliver")
def redeliver_webhook(delivery_id: int):
    actor = _admin()
    if get_form_class("desk_button")().validate_on_submit():
        delivery = webhooks.redeliver(actor, delivery_id)
        flash(_("The delivery will be sent again."), "success")
        return redirect(url_for(".admin_webhook", endpoint_id=delivery.endpoint_id))
    return redirect(url_for(".admin_webhooks"))
