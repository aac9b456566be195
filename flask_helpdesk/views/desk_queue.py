"""The desk's queue page: filters, search, keyset pages, saved views, department counters."""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from werkzeug.datastructures import MultiDict

from ..extension import current_helpdesk
from ..forms import get_form_class
from ..i18n import gettext as _
from ..models import Priority, TicketStatus
from ..services import ValidationError, departments, queues, saved_views
from .common import render
from .desk import bp, desk_actor


@bp.get("/")
def queue():
    actor = desk_actor()
    view = request.args.get("view")
    builtin = {slug: (label, f) for slug, label, f in queues.builtin_views()}
    args = request.args
    if view in builtin:
        args = MultiDict(builtin[view][1].to_args())
    queue_filter = queues.QueueFilter.from_args(args)
    per_page = current_helpdesk.config["HELPDESK_TICKETS_PER_PAGE"]
    page = queues.queue_page(actor, queue_filter, request.args.get("cursor"), per_page)
    all_departments = departments.active_departments()
    visible_departments = [
        d for d in all_departments if actor.is_admin or d.id in actor.department_ids
    ]
    save_form = get_form_class("desk_save_view")(formdata=None)
    save_form.query.data = queue_filter.query_string()
    return render(
        "helpdesk/desk/queue.html",
        actor=actor,
        page=page,
        queue_filter=queue_filter,
        current_view=view,
        builtin_views=[(slug, _(label)) for slug, (label, _f) in builtin.items()],
        saved_views=saved_views.list_views(actor),
        counters=queues.department_counters(actor),
        departments=visible_departments,
        department_names={d.id: d.name for d in all_departments},
        agents=queues.agents_for_filter(actor),
        statuses=list(TicketStatus),
        priorities=list(Priority),
        save_form=save_form,
        delete_form=get_form_class("desk_delete_view")(formdata=None),
        page_url=_page_url,
    )


def _page_url(queue_filter: queues.QueueFilter, cursor: str | None = None) -> str:
    args = queue_filter.to_args()
    if cursor:
        args.append(("cursor", cursor))
    return url_for(".queue") + ("?" + _urlencode(args) if args else "")


def _urlencode(args: list[tuple[str, str]]) -> str:
    from urllib.parse import urlencode

    return urlencode(args)


@bp.post("/views")
def save_view():
    actor = desk_actor()
    form = get_form_class("desk_save_view")()
    queue_filter = queues.QueueFilter.from_args(_parse_qs(form.query.data or ""))
    if form.validate_on_submit():
        try:
            saved = saved_views.save_view(actor, form.name.data or "", queue_filter)
        except ValidationError as error:
            flash(error.message, "error")
        else:
            flash(_("View “%(name)s” saved.", name=saved.name), "success")
            return redirect(_page_url(queue_filter))
    else:
        flash(_("The view was not saved: please give it a name."), "error")
    return redirect(_page_url(queue_filter))


@bp.post("/views/<int:view_id>/delete")
def delete_view(view_id: int):
    actor = desk_actor()
    form = get_form_class("desk_delete_view")()
    if form.validate_on_submit():
        saved_views.delete_view(actor, view_id)
        flash(_("The view was deleted."), "success")
    return redirect(url_for(".queue"))


def _parse_qs(query: str) -> MultiDict[str, str]:
    from urllib.parse import parse_qsl

    return MultiDict(parse_qsl(query, keep_blank_values=False))
