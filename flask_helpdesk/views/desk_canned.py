"""Managing canned replies: the agent's own, and their departments' for leads and admins."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, url_for
from wtforms.fields.choices import SelectChoice

from ..forms import get_form_class
from ..i18n import department_name
from ..i18n import gettext as _
from ..services import ValidationError, canned
from ..services.identity import Actor
from .common import apply_service_error, render
from .desk import bp, desk_actor

PLACEHOLDER_NAMES = ", ".join("{" + name + "}" for name in canned.PLACEHOLDERS)


def _form(actor: Actor, **kwargs: Any):
    form = get_form_class("desk_canned_reply")(**kwargs)
    form.department_id.choices = [SelectChoice("", _("Only me (personal)"))] + [
        SelectChoice(str(d.id), department_name(d.name)) for d in canned.managed_departments(actor)
    ]
    return form


def _data(form: Any, department_id: Any = None) -> canned.CannedReplyData:
    if "department_id" in form:
        department_id = form.department_id.data or None
    return canned.CannedReplyData(
        title=form.title.data or "", body=form.body.data or "", department_id=department_id
    )


def _list_page(actor: Actor, form: Any, status: int = 200):
    replies = canned.list_replies(actor)
    return render(
        "helpdesk/desk/canned.html",
        replies=replies,
        manageable={r.id for r in replies if canned.can_manage(actor, r)},
        form=form,
        delete_form=get_form_class("desk_canned_delete")(formdata=None),
        placeholder_names=PLACEHOLDER_NAMES,
    ), status


@bp.get("/canned")
def canned_replies():
    actor = desk_actor()
    return _list_page(actor, _form(actor, formdata=None))


@bp.post("/canned")
def create_canned_reply():
    actor = desk_actor()
    form = _form(actor)
    if form.validate_on_submit():
        try:
            canned.create_reply(actor, _data(form))
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            flash(_("Canned reply saved."), "success")
            return redirect(url_for(".canned_replies"))
    return _list_page(actor, form, 422)


@bp.route("/canned/<helpdesk_id:reply_id>/edit", methods=["GET", "POST"])
def edit_canned_reply(reply_id: int):
    actor = desk_actor()
    reply = canned.editable_reply(actor, reply_id)  # 404 unseen, 403 not theirs to change
    form = get_form_class("desk_canned_reply")(obj=reply)
    # Where a reply is shared is fixed once created: the page shows it, a post cannot move it.
    del form.department_id
    status = 200
    if form.validate_on_submit():
        try:
            canned.update_reply(actor, reply.id, _data(form, reply.department_id))
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            flash(_("Canned reply saved."), "success")
            return redirect(url_for(".canned_replies"))
    if form.is_submitted():
        status = 422
    return render(
        "helpdesk/desk/canned_edit.html",
        reply=reply,
        form=form,
        placeholder_names=PLACEHOLDER_NAMES,
    ), status


@bp.post("/canned/<helpdesk_id:reply_id>/delete")
def delete_canned_reply(reply_id: int):
    actor = desk_actor()
    form = get_form_class("desk_canned_delete")()
    if form.validate_on_submit():
        canned.delete_reply(actor, reply_id)
        flash(_("Canned reply deleted."), "success")
    else:
        flash(_("The form expired. Please try again."), "error")
    return redirect(url_for(".canned_replies"))
