"""The desk's queue page: filters, search, keyset pages, saved views, department counters."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import parse_qsl, urlencode

from flask import flash, redirect, request, url_for
from werkzeug.datastructures import MultiDict

from ..forms import get_form_class
from ..i18n import gettext as _
from ..inputs import parse_id
from ..models import Priority, TicketStatus, utcnow
from ..services import NotFound, ValidationError, departments, queues, saved_views
from ..services.identity import Actor
from ..state import current_helpdesk
from .common import render
from .desk import bp, desk_actor


@bp.get("/")
def queue():
    actor = desk_actor()
    builtin = {slug: (label, f) for slug, label, f in queues.builtin_views()}
    view = request.args.get("view")
    saved_id = parse_id(request.args.get("saved"))
    args: MultiDict[str, str] = request.args
    current_saved = None
    if view in builtin:
        args = MultiDict(builtin[view][1].to_args())
    elif saved_id is not None:
        try:
            current_saved = saved_views.get_view(actor, saved_id)
        except NotFound:
            flash(_("That saved view does not exist any more."), "error")
        else:
            args = MultiDict(parse_qsl(current_saved.query))
    queue_filter, problems = queues.parse(args)
    cursor = request.args.get("cursor")
    if cursor and queues.decode_cursor(cursor, queue_filter.sort) is None:
        problems.append(_("That page link is out of date; this is the first page."))
        cursor = None
    per_page = current_helpdesk.config["HELPDESK_TICKETS_PER_PAGE"]
    page = queues.queue_page(actor, queue_filter, cursor, per_page)
    all_departments = departments.active_departments()
    visible_departments = [
        d for d in all_departments if actor.is_admin or d.id in actor.department_ids
    ]
    # The pager keeps the view the agent chose, so it stays marked on page 2.
    marker = [("view", view)] if view in builtin else []
    if current_saved is not None:
        marker = [("saved", str(current_saved.id))]

    def page_url(queue_filter: queues.QueueFilter, cursor: str | None = None) -> str:
        args = marker or queue_filter.to_args()
        if cursor:
            args = [*args, ("cursor", cursor)]
        return url_for(".queue") + ("?" + urlencode(args) if args else "")

    save_form = get_form_class("desk_save_view")(formdata=None)
    save_form.query.data = queue_filter.query_string()
    return render(
        "helpdesk/desk/queue.html",
        actor=actor,
        page=page,
        queue_filter=queue_filter,
        filter_problems=problems,
        current_view=view if view in builtin else None,
        current_saved=current_saved,
        builtin_views=[(slug, _(label)) for slug, (label, _f) in builtin.items()],
        saved_views=saved_views.list_views(actor),
        counters=queues.department_counters(actor),
        departments=visible_departments,
        department_names={d.id: d.name for d in all_departments},
        agents=queues.agents_for_filter(actor),
        requester=queues.filtered_requester(actor, queue_filter.requester_id),
        without_requester_url=page_url(replace(queue_filter, requester_id=None)),
        **_result_count(actor, queue_filter, page),
        statuses=list(TicketStatus),
        priorities=list(Priority),
        save_form=save_form,
        view_form=get_form_class("desk_delete_view")(formdata=None),
        rename_form=get_form_class("desk_rename_view")(formdata=None),
        page_url=page_url,
        now=utcnow(),
    )


def _result_count(
    actor: Actor, queue_filter: queues.QueueFilter, page: queues.QueuePage
) -> dict[str, int | None]:
    """The heading's count. A text search is not counted again (its plan is the costly part
    of the page): the page says how many it shows, or "more than" when there is a next page."""
    if not queue_filter.q:
        return {
            "result_count": queues.count_matching(actor, queue_filter),
            "count_cap": queues.COUNT_CAP,
        }
    shown = len(page.items)
    if page.prev_cursor:
        return {"result_count": None, "count_cap": queues.COUNT_CAP}
    if page.next_cursor:
        return {"result_count": shown + 1, "count_cap": shown}
    return {"result_count": shown, "count_cap": queues.COUNT_CAP}


def _queue_url(queue_filter: queues.QueueFilter) -> str:
    query = queue_filter.query_string()
    return url_for(".queue") + ("?" + query if query else "")


@bp.post("/views")
def save_view():
    actor = desk_actor()
    form = get_form_class("desk_save_view")()
    queue_filter = queues.QueueFilter.from_args(MultiDict(parse_qsl(form.query.data or "")))
    if not form.validate_on_submit():
        flash(_("The view was not saved: please give it a name."), "error")
        return redirect(_queue_url(queue_filter))
    try:
        saved = saved_views.save_view(actor, form.name.data or "", queue_filter)
    except ValidationError as error:
        flash(error.message, "error")
        return redirect(_queue_url(queue_filter))
    flash(_("View “%(name)s” saved.", name=saved.name), "success")
    return redirect(url_for(".queue", saved=saved.id))


@bp.post("/views/<helpdesk_id:view_id>/rename")
def rename_view(view_id: int):
    actor = desk_actor()
    form = get_form_class("desk_rename_view")()
    if not form.validate_on_submit():
        flash(_("The view was not renamed: please give it a name."), "error")
        return redirect(url_for(".queue", saved=view_id))
    try:
        saved = saved_views.rename_view(actor, view_id, form.name.data or "")
    except ValidationError as error:
        flash(error.message, "error")
    else:
        flash(_("View renamed to “%(name)s”.", name=saved.name), "success")
    return redirect(url_for(".queue", saved=view_id))


@bp.post("/views/<helpdesk_id:view_id>/delete")
def delete_view(view_id: int):
    actor = desk_actor()
    form = get_form_class("desk_delete_view")()
    if form.validate_on_submit():
        saved_views.delete_view(actor, view_id)
        flash(_("The view was deleted."), "success")
    return redirect(url_for(".queue"))
