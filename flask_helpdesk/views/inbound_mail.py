"""Admin pages of inbound mail: what came in, what became of it, retrying failures and filing
a mail intake could not for a customer picked by hand."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, request, url_for
from flask_login import login_required
from wtforms import HiddenField
from wtforms.validators import DataRequired

from ..forms import HelpdeskForm, get_form_class
from ..i18n import gettext as _
from ..models import InboundStatus
from ..services import (
    Forbidden,
    NotFound,
    ValidationError,
    contacts,
    held_mail,
    intake,
    mailboxes,
)
from ..services.mail_filing import FILEABLE, file_for_customer
from .actors import agent_actor
from .common import abort_for, page_arg, render, service_error_page
from .desk import _desk_context

bp = Blueprint("helpdesk_mail_admin", __name__)
# The pages sit in the desk: the same navigation (admin links, availability) as its own pages.
bp.context_processor(_desk_context)


class RetryForm(HelpdeskForm):
    """No fields: the CSRF token is the point."""


class FileForm(HelpdeskForm):
    """File a set-aside mail for the customer the picker chose (its ``contact:``/``user:`` key)."""

    requester = HiddenField(validators=[DataRequired()])


def _admin():
    try:
        actor = agent_actor()
    except Forbidden as error:
        abort_for(error)
    if not actor.is_admin:
        abort_for(Forbidden("admins only"))
    return actor


@bp.errorhandler(NotFound)
def _not_found(error: NotFound):
    return service_error_page(error)


@bp.get("/")
@login_required
def index():
    actor = _admin()
    status = request.args.get("status") or None
    page = page_arg()
    rows, has_next = intake.list_inbound(actor, status=status, page=page)
    return render(
        "helpdesk/admin/inbound_mail.html",
        rows=rows,
        status=status,
        statuses=list(InboundStatus),
        page=page,
        has_next=has_next,
        mailboxes=mailboxes.active_mailboxes(),
        retry_form=RetryForm(),
    )


@bp.get("/<helpdesk_id:inbound_id>")
@login_required
def detail(inbound_id: int):
    actor = _admin()
    row = intake.get_inbound(actor, inbound_id)
    customer_query = request.args.get("customer_q", "").strip()
    requester = None
    if row.status in FILEABLE and request.args.get("requester"):
        try:
            requester = contacts.resolve_customer(actor, request.args["requester"])
        except NotFound:
            requester = None
    file_form = FileForm(requester=f"contact:{requester.id}" if requester else None)
    return render(
        "helpdesk/admin/inbound_mail_detail.html",
        row=row,
        headers=intake.header_lines(row),
        retry_form=RetryForm(),
        held_form=get_form_class("desk_button")(),
        fileable=row.status in FILEABLE,
        file_form=file_form,
        requester=requester,
        customer_query=customer_query,
        matches=contacts.find_customers(actor, customer_query) if customer_query else [],
    )


@bp.get("/<helpdesk_id:inbound_id>/raw")
@login_required
def raw(inbound_id: int):
    """The mail exactly as received, as a download (never rendered by the browser)."""
    actor = _admin()
    row = intake.get_inbound(actor, inbound_id)
    return Response(
        row.raw,
        mimetype="message/rfc822",
        headers={
            "Content-Disposition": f'attachment; filename="inbound-{row.id}.eml"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@bp.post("/<helpdesk_id:inbound_id>/retry")
@login_required
def retry(inbound_id: int):
    actor = _admin()
    if not RetryForm().validate_on_submit():
        abort_for(Forbidden("bad CSRF token"))
    row = intake.retry(actor, inbound_id)
    if row.status == InboundStatus.PROCESSED:
        flash(_("The mail was processed."), "success")
    else:
        flash(
            _(
                "The mail is %(status)s: %(reason)s",
                status=row.status.label,
                reason=row.reason or "",
            ),
            "error",
        )
    return redirect(url_for(".detail", inbound_id=row.id))


@bp.post("/<helpdesk_id:inbound_id>/file")
@login_required
def file(inbound_id: int):
    """Turn a failed or ignored mail into a ticket (or reply) of the chosen customer."""
    actor = _admin()
    form = FileForm()
    if not form.validate_on_submit():
        # ``in form.errors``, not ``form.csrf_token``: a host may switch CSRF off (no such field).
        if "csrf_token" in form.errors:
            abort_for(Forbidden("bad CSRF token"))
        flash(_("Please choose the customer."), "error")
        return redirect(url_for(".detail", inbound_id=inbound_id))
    try:
        row = file_for_customer(actor, inbound_id, form.requester.data)
    except ValidationError as error:
        flash(error.message, "error")
        return redirect(url_for(".detail", inbound_id=inbound_id))
    if row.status == InboundStatus.PROCESSED and row.ticket is not None:
        flash(_("The mail was filed in %(code)s.", code=row.ticket.code), "success")
        return redirect(url_for("helpdesk_desk.ticket", code=row.ticket.code))
    flash(
        _("The mail is %(status)s: %(reason)s", status=row.status.label, reason=row.reason or ""),
        "error",
    )
    return redirect(url_for(".detail", inbound_id=inbound_id))


def _decide(inbound_id: int, decision) -> Response:
    """Accept or discard a held mail: the ticket's agents (from the ticket page) or admins."""
    try:
        actor = agent_actor()
    except Forbidden as error:
        abort_for(error)
    if not get_form_class("desk_button")().validate_on_submit():
        abort_for(Forbidden("bad CSRF token"))
    try:
        row = decision(actor, inbound_id)
    except ValidationError as error:
        flash(error.message, "error")
        row = None
    if row is not None and decision is held_mail.accept:
        if row.status == InboundStatus.PROCESSED and row.ticket is not None:
            flash(_("The mail was accepted: %(code)s.", code=row.ticket.code), "success")
            return redirect(url_for("helpdesk_desk.ticket", code=row.ticket.code))
        flash(
            _("The mail is %(status)s: %(reason)s", status=row.status.label, reason=row.reason),
            "error",
        )
    elif row is not None:
        flash(_("The mail was discarded. It is kept for the admins."), "success")
    if actor.is_admin:
        return redirect(url_for(".detail", inbound_id=inbound_id))
    if row is not None and row.ticket is not None:
        return redirect(url_for("helpdesk_desk.ticket", code=row.ticket.code))
    return redirect(url_for("helpdesk_desk.queue"))


@bp.post("/<helpdesk_id:inbound_id>/accept")
@login_required
def accept(inbound_id: int):
    return _decide(inbound_id, held_mail.accept)


@bp.post("/<helpdesk_id:inbound_id>/discard")
@login_required
def discard(inbound_id: int):
    return _decide(inbound_id, held_mail.discard)


def register(app, state) -> None:
    app.register_blueprint(
        bp, url_prefix=f"{state.config['HELPDESK_DESK_URL_PREFIX']}/inbound-mail"
    )
