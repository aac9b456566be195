"""The ticket workspace: thread, customer sidebar, reply/note and every ticket action."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash, jsonify, redirect, request, url_for
from wtforms.fields.choices import SelectChoice

from ..forms import get_form_class
from ..i18n import department_name
from ..i18n import gettext as _
from ..inputs import parse_id
from ..models import Availability, Priority, Ticket, TicketStatus
from ..services import (
    NotFound,
    ServiceError,
    ValidationError,
    attachments,
    canned,
    contacts,
    departments,
    desk,
    distribution,
    mail_auth,
    messages,
    presence,
    properties,
    tickets,
)
from ..services.base import session
from ..services.identity import Actor
from ..workflow import agent_choices
from .common import abort_for, apply_service_error, render, send_attachment, uploads_from
from .desk import bp, desk_actor
from .desk_articles import article_picker

# Forms of the workspace: name in DEFAULT_FORMS -> template variable.
WORKSPACE_FORMS = {
    "desk_reply": "reply_form",
    "desk_status": "status_form",
    "desk_priority": "priority_form",
    "desk_transfer": "transfer_form",
    "desk_assign": "assign_form",
    "desk_tags": "tags_form",
    "desk_tag_remove": "tag_remove_form",
    "desk_merge": "merge_form",
    "desk_contact_notes": "notes_form",
    "desk_properties": "properties_form",
}


def _workspace(actor: Actor, ticket: Ticket, status: int = 200, **overrides: Any):
    """Render the workspace; *overrides* replace forms (kept input + errors) or add context."""
    forms = {var: get_form_class(name)(formdata=None) for name, var in WORKSPACE_FORMS.items()}
    forms.update({k: v for k, v in overrides.items() if k in forms})
    extra = {k: v for k, v in overrides.items() if k not in forms}
    thread = messages.thread(actor, ticket)
    newest = max((m.id for m in thread if m.kind.value != "event"), default=0)
    if "reply_form" not in overrides:
        forms["reply_form"].last_seen_message_id.data = str(newest)
    _fill_choices(ticket, forms)
    _show_on_properties(forms)
    forms["reply_form"].canned_id.choices = [SelectChoice("", _("Choose a canned reply"))] + [
        SelectChoice(str(c.id), c.title) for c in canned.for_ticket(actor, ticket)
    ]
    verdicts, held_mail = mail_auth.sender_view(ticket, thread)
    context = {
        "actor": actor,
        "ticket": ticket,
        "thread": thread,
        "sender_verdicts": verdicts,
        "held_mail": held_mail,
        "held_form": get_form_class("desk_button")() if held_mail else None,
        # The spam filter's verdict on the ticket's first message (services/spam.py).
        "spam_check": next((m.data["spam"] for m in thread if "spam" in (m.data or {})), None),
        "viewers": presence.other_viewers(actor, ticket),
        "earlier": contacts.earlier_tickets(actor, ticket),
        "collisions": [],
        # Articles to link in a reply (the help-center picker in the workspace).
        **article_picker(),
        **forms,
        **extra,
    }
    return render("helpdesk/desk/ticket.html", **context), status


def _assignee_choices(ticket: Ticket) -> list[SelectChoice]:
    """Who may own the ticket, each marked when not available ("Sara — Away")."""
    people = desk.assignable_agents(ticket.department_id)
    labels = distribution.availability_labels(people)
    available = str(Availability.AVAILABLE.label)
    return [
        SelectChoice(
            str(a.id),
            a.display_name if labels[a.id] == available else f"{a.display_name} — {labels[a.id]}",
        )
        for a in people
    ]


def _fill_choices(ticket: Ticket, forms: dict[str, Any]) -> None:
    """Choices and current values of the workspace's selects (properties panel and the
    one-field forms hosts may still use)."""
    # The current status comes first and selected: a list without it preselects another
    # status ("Open" while the ticket is "Processing") and agents misread it.
    choices = {
        "status": [
            SelectChoice(s.value, s.label) for s in [ticket.status, *agent_choices(ticket.status)]
        ],
        "priority": [SelectChoice(str(int(p)), p.label) for p in Priority],
        "department_id": [
            SelectChoice(str(d.id), department_name(d.name))
            for d in departments.active_departments()
        ],
        "assignee_id": [SelectChoice("", _("Unassigned")), *_assignee_choices(ticket)],
    }
    current = {
        "status": ticket.status.value,
        "priority": str(int(ticket.priority)),
        "department_id": str(ticket.department_id),
        "assignee_id": str(ticket.assignee_id or ""),
    }
    owners = {"status": "status_form", "priority": "priority_form"}
    owners |= {"department_id": "transfer_form", "assignee_id": "assign_form"}
    for name, form_name in owners.items():
        for form in (forms[form_name], forms["properties_form"]):
            field = form[name]
            field.choices = choices[name]
            if field.data is None:
                field.data = current[name]
    if forms["properties_form"].tags.data is None:
        forms["properties_form"].tags.data = ", ".join(t.name for t in ticket.tags)
    forms["reply_form"].then_status.choices = [
        SelectChoice("", _("and mark it Answered")),
        SelectChoice(TicketStatus.PROCESSING.value, _("and set it to Processing")),
        SelectChoice(TicketStatus.CLOSED.value, _("and close the ticket")),
    ]
    if forms["notes_form"].notes.data is None:
        forms["notes_form"].notes.data = ticket.requester.notes


# The one-field forms the page no longer shows (their routes stay): errors of a refused
# submission appear on the properties panel's field of the same name.
ONE_FIELD_FORMS = {
    "status_form": "status",
    "priority_form": "priority",
    "transfer_form": "department_id",
    "assign_form": "assignee_id",
    "tags_form": "tags",
}


def _show_on_properties(forms: dict[str, Any]) -> None:
    panel = forms["properties_form"]
    for form_name, field_name in ONE_FIELD_FORMS.items():
        form = forms[form_name]
        if form[field_name].errors or form.form_errors:
            panel[field_name].errors = [*panel[field_name].errors, *form[field_name].errors]
            panel.form_errors = [*panel.form_errors, *form.form_errors]
            if form[field_name].data is not None:
                panel[field_name].data = form[field_name].data


def _find(code: str, page: bool = False) -> tuple[Actor, Ticket]:
    actor = desk_actor()
    return actor, tickets.find_ticket(actor, code, page=page)


@bp.get("/tickets/<code>")
def ticket(code: str):
    actor, found = _find(code, page=True)
    unread_before = found.unread_for_agents
    # Both markers are committed after the page is built (nothing it loaded gets expired).
    with presence.viewing(actor, found), tickets.reading(actor, found):
        return _workspace(actor, found, unread_before=unread_before)


@bp.post("/tickets/<code>/reply")
def reply(code: str):
    """Public reply (``action=reply``) or internal note (``action=note``).

    If someone else wrote since the page loaded, nothing is sent: the page comes back with the
    text kept, the new messages visible and the form's marker moved, so pressing send again
    means "send anyway".
    """
    actor, found = _find(code)
    form = get_form_class("desk_reply")()
    internal = request.form.get("action") == "note"
    if not form.validate_on_submit():
        return _workspace(actor, found, 422, reply_form=form)
    if request.form.get("action") == "insert":
        return _insert_canned(actor, found, form)
    newer = presence.written_since(actor, found, form.last_seen_message_id.data)
    if newer:
        form.last_seen_message_id.data = str(newer[-1].id)
        return _workspace(actor, found, 409, reply_form=form, collisions=newer)
    try:
        messages.post_message(
            actor,
            found,
            form.body.data or "",
            uploads=uploads_from(form.attachments.data or []),
            internal=internal,
        )
    except ValidationError as error:
        apply_service_error(form, error)
        return _workspace(actor, found, 422, reply_form=form)
    then = form.then_status.data or ""
    if not internal and then in (TicketStatus.PROCESSING.value, TicketStatus.CLOSED.value):
        try:
            tickets.change_status(actor, found, then)
        except ValidationError as error:
            flash(error.message, "error")
    flash(_("Internal note added.") if internal else _("Reply sent."), "success")
    return redirect(url_for(".ticket", code=found.code, _anchor="latest"))


def _insert_canned(actor: Actor, found: Ticket, form: Any):
    """No-JavaScript insert: the page returns with the canned text added to the typed text.

    The "written since" marker is left as it was, so a reply another agent wrote meanwhile is
    still caught when this text is finally sent.
    """
    try:
        text = canned.render_reply(actor, form.canned_id.data or "", found)
    except NotFound:
        form.canned_id.errors = [_("Please choose a canned reply.")]
        return _workspace(actor, found, 422, reply_form=form)
    typed = (form.body.data or "").rstrip()
    form.body.data = f"{typed}\n\n{text}" if typed else text
    form.canned_id.data = ""
    return _workspace(actor, found, reply_form=form)


@bp.get("/tickets/<code>/canned/<helpdesk_id:reply_id>")
def canned_text(code: str, reply_id: int):
    """JSON for the reply box's script: the canned reply's text filled in for this ticket."""
    actor, found = _find(code)
    return jsonify(text=canned.render_reply(actor, reply_id, found))


def _action(code: str, form_name: str, call: Callable[[Actor, Ticket, Any], Any], done: str) -> Any:
    """Shared shape of the one-field actions: validate CSRF, call the service, show errors."""
    actor, found = _find(code)
    form = get_form_class(form_name)()
    if form.validate_on_submit():
        try:
            result = call(actor, found, form)
        except ValidationError as error:
            apply_service_error(form, error)
            session().refresh(found)
        else:
            flash(done, "success")
            target = result if isinstance(result, Ticket) else found
            return redirect(url_for(".ticket", code=target.code))
    return _workspace(actor, found, 422, **{WORKSPACE_FORMS[form_name]: form})


@bp.post("/tickets/<code>/status")
def change_status(code: str):
    return _action(
        code,
        "desk_status",
        lambda a, t, f: (
            t
            if f.status.data == t.status.value
            else tickets.change_status(a, t, f.status.data or "")
        ),
        _("Status changed."),
    )


@bp.post("/tickets/<code>/properties")
def save_properties(code: str):
    """The properties panel: status, priority, assignee, department and tags, one Save."""

    def call(actor: Actor, found: Ticket, form: Any) -> Ticket:
        changes = properties.PropertyChanges(
            department_id=(parse_id(form.department_id.data) or 0)
            if form.department_id.data
            else None,
            assignee_id=form.assignee_id.data,
            priority=form.priority.data,
            status=form.status.data,
            tags=form.tags.data,
        )
        properties.update_properties(actor, found, changes)
        return found

    return _action(code, "desk_properties", call, _("Ticket saved."))


@bp.post("/tickets/<code>/priority")
def change_priority(code: str):
    return _action(
        code,
        "desk_priority",
        lambda a, t, f: desk.set_priority(a, t, f.priority.data or ""),
        _("Priority changed."),
    )


@bp.post("/tickets/<code>/transfer")
def transfer(code: str):
    return _action(
        code,
        "desk_transfer",
        lambda a, t, f: desk.transfer(a, t, parse_id(f.department_id.data) or 0),
        _("Ticket moved to another department."),
    )


@bp.post("/tickets/<code>/assign")
def assign(code: str):
    return _action(
        code,
        "desk_assign",
        lambda a, t, f: desk.assign(a, t, f.assignee_id.data),
        _("Assignee changed."),
    )


@bp.post("/tickets/<code>/tags")
def set_tags(code: str):
    return _action(
        code,
        "desk_tags",
        lambda a, t, f: desk.set_tags(a, t, desk.parse_tags(f.tags.data or "")),
        _("Tags saved."),
    )


@bp.post("/tickets/<code>/tags/add")
def add_tags(code: str):
    return _action(
        code,
        "desk_tags",
        lambda a, t, f: desk.add_tags(a, t, desk.parse_tags(f.tags.data or "")),
        _("Tags saved."),
    )


@bp.post("/tickets/<code>/tags/remove")
def remove_tag(code: str):
    return _action(
        code,
        "desk_tag_remove",
        lambda a, t, f: desk.remove_tag(a, t, f.tag.data or ""),
        _("Tag removed."),
    )


@bp.post("/tickets/<code>/merge")
def merge(code: str):
    return _action(
        code,
        "desk_merge",
        lambda a, t, f: desk.merge(a, t, f.target_code.data or ""),
        _("Tickets merged."),
    )


@bp.post("/tickets/<code>/contact-notes")
def contact_notes(code: str):
    def call(actor: Actor, found: Ticket, form: Any) -> Ticket:
        contacts.update_notes(actor, found.requester, form.notes.data or "")
        return found

    return _action(code, "desk_contact_notes", call, _("Notes saved."))


@bp.get("/tickets/<code>/presence")
def presence_poll(code: str):
    """JSON for the page's poll: who else is here, and the newest reply or note id."""
    actor, found = _find(code)
    presence.touch(actor, found)
    return jsonify(
        viewers=[a.display_name for a in presence.other_viewers(actor, found)],
        newest_message_id=presence.newest_message_id(found),
    )


@bp.get("/tickets/<code>/files/<helpdesk_id:attachment_id>/<path:filename>")
def download(code: str, attachment_id: int, filename: str):
    actor, found = _find(code)
    try:
        attachment = attachments.find_attachment(actor, found, attachment_id)
    except ServiceError as error:
        return abort_for(error)
    return send_attachment(attachment)


__all__ = ["ServiceError"]
