"""The customer portal ("Support requests"): thin views that parse, call a service, render."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, request, session, url_for
from flask_login import login_required
from werkzeug.exceptions import NotFound as HTTPNotFound
from wtforms.fields.choices import SelectChoice

from ..forms import get_form_class
from ..i18n import department_name
from ..i18n import gettext as _
from ..inputs import clean_search
from ..models import Ticket, TicketStatus
from ..services import (
    NotFound,
    ValidationError,
    attachments,
    deflection,
    departments,
    house_rules,
    messages,
    reply_ratings,
    sla_promise,
    tickets,
)
from ..services.identity import Actor
from ..services.kb_search import search_articles
from .actors import customer_actor
from .common import (
    KB_OPENED_KEY,
    apply_service_error,
    attachment_hint,
    current_language,
    int_arg,
    page_arg,
    render,
    send_attachment,
    uploads_from,
)
from .formatting import format_promise_time, sentence_digits
from .locale import viewer_timezone

bp = Blueprint(
    "helpdesk",
    __name__,
    template_folder="../templates",
    static_folder="../static",
    static_url_path="/static",
)


def _actor() -> Actor:
    actor = customer_actor()
    assert actor is not None  # login_required ran first
    return actor


@bp.errorhandler(NotFound)
def _not_found(error: NotFound):
    # Hand a plain 404 to the app's own 404 handling (the host's page, if it has one).
    # Raising here instead would escape error handling altogether.
    return current_app.handle_http_exception(HTTPNotFound())


@bp.get("/")
@login_required
def index():
    actor = _actor()
    statuses = [s for s in request.args.getlist("status") if s]
    department_id = int_arg("department")
    search = request.args.get("q", "").strip()
    page = tickets.customer_tickets(
        actor,
        search=search or None,
        statuses=statuses,
        department_id=department_id,
        page=page_arg(),
    )
    return render(
        "helpdesk/portal/index.html",
        page=page,
        search=search,
        statuses=statuses,
        department_id=department_id,
        all_statuses=[s for s in TicketStatus if s != TicketStatus.SPAM],
        departments=departments.active_departments(),
    )


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new_ticket():
    actor = _actor()
    form = get_form_class("new_ticket")()
    choices = departments.active_departments()
    if choices:
        # No department is preselected: a customer who does not choose would file under the
        # first one.
        placeholder = SelectChoice(
            0, _("Choose a department…"), render_kw={"disabled": True, "selected": True}
        )
        form.department_id.choices = [placeholder] + [
            SelectChoice(d.id, department_name(d.name)) for d in choices
        ]
    else:
        # A fresh install without departments: no empty required select; the request goes to
        # the fallback department (docs/quickstart.rst).
        del form.department_id
    if request.method == "GET":
        # Arriving from the help center's "Contact support" with what was searched.
        form.subject.data = form.subject.data or clean_search(request.args.get("q", ""))
    if request.method == "GET" and actor.contact is not None:
        form.email.data = form.email.data or actor.contact.email
        form.phone.data = form.phone.data or actor.contact.phone
    duplicate = None
    if form.validate_on_submit():
        data = tickets.NewTicket(
            department_id=(
                form.department_id.data if choices else departments.fallback_department().id
            ),
            subject=form.subject.data or "",
            body=form.body.data or "",
            priority=form.priority.data,
            phone=form.phone.data,
            email=form.email.data,
            notify_sms=bool(form.notify_sms.data),
            uploads=uploads_from(form.attachments.data or []),
            allow_duplicate=bool(form.send_anyway.data),
        )
        try:
            ticket = tickets.open_ticket(actor, data)
        except house_rules.DuplicateTicket as error:
            duplicate = error.ticket
        except (ValidationError, house_rules.TooManyTickets) as error:
            apply_service_error(form, error)
        else:
            # The suggested articles opened before did not answer this request.
            deflection.ticket_filed(session.pop(KB_OPENED_KEY, []), ticket)
            flash(_("Your support request %(code)s was sent.", code=ticket.code), "success")
            if ticket.status == TicketStatus.SPAM:  # held for review: not the customer's to see
                return redirect(url_for(".index"))
            return redirect(url_for(".ticket", code=ticket.code))
    status = 422 if request.method == "POST" else 200
    # Without JavaScript the "find answers" button reloads the page with ?q=; with it, the
    # list is refreshed from /help/suggest while the subject is typed.
    typed = clean_search(request.args.get("q") or form.subject.data or "")
    limit = current_app.extensions["helpdesk"].config["HELPDESK_ARTICLE_SUGGESTIONS"]
    return render(
        "helpdesk/portal/new.html",
        form=form,
        suggestions=search_articles(typed, current_language(), limit=limit) if limit else [],
        suggestion_query=typed,
        duplicate=duplicate,
        departments=choices,
        attachment_hint=attachment_hint(),
        promise_lines=[
            (name, sentence_digits(text))
            for name, text in sla_promise.new_ticket_lines(
                choices, actor.contact, viewer_timezone(), format_promise_time
            )
        ],
    ), status


@bp.get("/tickets/<code>")
@login_required
def ticket(code: str):
    actor = _actor()
    found = tickets.find_ticket(actor, code, page=True)
    # Agent replies newer than this are marked "new" on the page, then the marker moves on.
    new_since = found.customer_seen_at if found.unread_for_customer else None
    unread = found.unread_for_customer
    with tickets.reading(actor, found):
        return _ticket_page(actor, found, new_since=new_since, unread=unread)


@bp.post("/tickets/<code>/reply")
@login_required
def reply(code: str):
    actor = _actor()
    found = tickets.find_ticket(actor, code)
    form = get_form_class("reply")()
    if form.validate_on_submit():
        try:
            messages.post_message(
                actor,
                found,
                form.body.data or "",
                uploads=uploads_from(form.attachments.data or []),
            )
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            flash(_("Your reply was sent."), "success")
            return redirect(url_for(".ticket", code=found.code, _anchor="latest"))
    return _ticket_page(actor, found, reply_form=form), 422


@bp.post("/tickets/<code>/close")
@login_required
def close(code: str):
    actor = _actor()
    found = tickets.find_ticket(actor, code)
    form = get_form_class("close")()
    if not form.validate_on_submit():
        return _ticket_page(actor, found, close_form=form), 422
    try:
        tickets.close_ticket(actor, found)
    except ValidationError as error:
        flash(error.message, "error")
    else:
        flash(_("The ticket was closed. You can rate our support below."), "success")
    return redirect(url_for(".ticket", code=found.code))


@bp.post("/tickets/<code>/rate")
@login_required
def rate(code: str):
    actor = _actor()
    found = tickets.find_ticket(actor, code)
    form = get_form_class("rate")()
    if form.validate_on_submit():
        try:
            tickets.rate_ticket(actor, found, form.stars.data, form.comment.data or "")
        except ValidationError as error:
            if found.is_closed and found.rating is None:
                apply_service_error(form, error)
            else:
                # Not closed yet, or rated already: the page shows no rating form to mark.
                flash(error.message, "error")
                return redirect(url_for(".ticket", code=found.code))
        else:
            flash(_("Thank you for your rating."), "success")
            return redirect(url_for(".ticket", code=found.code, _anchor="rating"))
    return _ticket_page(actor, found, rate_form=form), 422


def _ticket_page(actor: Actor, found: Ticket, **context: Any) -> str:
    """The ticket page; a failed form passed in *context* shows its errors and its data."""
    for name in ("reply", "close", "rate"):
        context.setdefault(f"{name}_form", get_form_class(name)(formdata=None))
    context.setdefault("new_since", None)
    context.setdefault("unread", False)
    context.setdefault("attachment_hint", attachment_hint())
    promise = sla_promise.for_ticket(found, viewer_timezone()) if actor.is_customer else None
    text = promise.text(format_promise_time) if promise else None
    context.setdefault("promise", sentence_digits(text) if text else None)
    thread = messages.thread(actor, found)
    context.setdefault("reply_rating_form", get_form_class("reply_rating")(formdata=None))
    context.setdefault("reply_ratings", reply_ratings.ratings_of([m.id for m in thread]))
    return render("helpdesk/portal/ticket.html", ticket=found, thread=thread, **context)


@bp.get("/tickets/<code>/files/<helpdesk_id:attachment_id>/<path:filename>")
@login_required
def download(code: str, attachment_id: int, filename: str):
    actor = _actor()
    found = tickets.find_ticket(actor, code)
    return send_attachment(attachments.find_attachment(actor, found, attachment_id))


# Route modules register on ``bp`` when imported.
from . import reply_rating  # noqa: E402,F401

__all__ = ["bp"]
