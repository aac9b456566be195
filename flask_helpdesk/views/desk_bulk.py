"""Bulk actions from the queue: the selected tickets, one action, a report of each outcome."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect

from ..forms import get_form_class
from ..i18n import gettext as _
from ..i18n import ngettext
from ..services import ValidationError, bulk
from .common import render
from .desk import bp, desk_actor, safe_desk_url


def bulk_form() -> Any:
    """The (empty) form behind the queue's bulk toolbar: its CSRF token and the batch limit."""
    form = get_form_class("desk_bulk")(formdata=None)
    form.max_tickets = bulk.max_batch()
    return form


@bp.post("/bulk")
def bulk_action():
    """All succeeded: back to the queue with a one-line summary. Anything failed: a report page
    listing every selected ticket with what happened and why (nothing is hidden in a flash)."""
    actor = desk_actor()
    form = get_form_class("desk_bulk")()
    back = safe_desk_url(form.next.data)
    if not form.validate_on_submit():
        flash(_("The form expired. Please try again."), "error")
        return redirect(back, 303)
    action = form.action.data or ""
    value = {"assign": form.assignee_id.data, "status": form.status.data, "tag": form.tags.data}
    try:
        report = bulk.run(actor, action, form.ticket_ids.data or [], value.get(action))
    except ValidationError as error:
        details = [m for messages in error.field_errors.values() for m in messages]
        flash(" ".join([error.message, *[d for d in details if d != error.message]]), "error")
        return redirect(back, 303)
    if not report.failed:
        count = len(report.succeeded)
        flash(
            ngettext(
                "%(action)s: %(num)d ticket done.",
                "%(action)s: %(num)d tickets done.",
                count,
                action=report.label,
            ),
            "success",
        )
        return redirect(back, 303)
    return render(
        "helpdesk/desk/bulk_report.html", actor=actor, report=report, back=back
    ), 422 if not report.succeeded else 200
