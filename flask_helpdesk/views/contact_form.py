"""The help center's contact form for visitors who cannot log in (issue 15, item 5).

``<prefix>/help/contact``: name, address, department, subject, message. The service keeps it
and mails a confirmation link; following the link shows a button, and pressing it opens the
ticket. A GET never confirms: mail scanners and link previews open links in mail, and would
otherwise send the request for the visitor. Rate limits per client address and per email
address (``HELPDESK_CONTACT_FORM_RATE_LIMIT``, ``..._ADDRESS_RATE_LIMIT``); a hidden honeypot
field catches form robots, which are shown the same "check your mail" page as people.
"""

from __future__ import annotations

from flask import abort, redirect, request, url_for
from wtforms.fields.choices import SelectChoice

from ..forms import get_form_class
from ..i18n import department_name
from ..i18n import gettext as _
from ..ratelimit import FixedWindow
from ..services import contact_requests, departments, house_rules
from ..services.base import NotFound, ValidationError
from ..services.mail_posting import parse_rate
from ..state import current_helpdesk
from .actors import current_host_user, request_ip
from .common import apply_service_error, current_language, render
from .portal import bp

_per_ip = FixedWindow("contact-form-ip")
_per_address = FixedWindow("contact-form-address")


def _form_available() -> None:
    """Logged-in customers use the portal's own form; without the setting there is no page."""
    if not current_helpdesk.config["HELPDESK_CONTACT_FORM"]:
        abort(404)


def _over_limit(window: FixedWindow, setting: str, key: str) -> bool:
    rate = parse_rate(current_helpdesk.config[setting])
    if rate is None:
        return False
    count, seconds = rate
    return window.hit(key, seconds)[0] > count


def _refused(form, message: str):
    form.form_errors = [*form.form_errors, message]
    return _page(form, 429)


def _page(form, status: int = 200):
    return render("helpdesk/help/contact.html", form=form), status


@bp.route("/help/contact", methods=["GET", "POST"])
def contact():
    _form_available()
    if current_host_user() is not None:
        return redirect(url_for("helpdesk.new_ticket", q=request.args.get("q", "")))
    form = get_form_class("contact")()
    choices = departments.active_departments()
    placeholder = SelectChoice(
        0, _("Choose a department…"), render_kw={"disabled": True, "selected": True}
    )
    form.department_id.choices = [placeholder] + [
        SelectChoice(d.id, department_name(d.name)) for d in choices
    ]
    if request.method == "GET":
        form.subject.data = form.subject.data or (request.args.get("q") or "")[:200]
        return _page(form)
    if not form.validate_on_submit():
        return _page(form, 422)
    ip = request_ip()
    if _over_limit(_per_ip, "HELPDESK_CONTACT_FORM_RATE_LIMIT", ip or "-"):
        return _refused(form, _("Too many messages from your network. Please try again later."))
    if form.website.data:
        contact_requests.honeypot_caught(ip)
        return render("helpdesk/help/contact_sent.html", email=form.email.data, ticket=None)
    address = (form.email.data or "").strip().casefold()
    if _over_limit(_per_address, "HELPDESK_CONTACT_FORM_ADDRESS_RATE_LIMIT", address):
        return _refused(form, _("Too many messages for this address. Please try again later."))
    data = contact_requests.ContactData(
        name=form.name.data or "",
        email=form.email.data or "",
        department_id=form.department_id.data,
        subject=form.subject.data or "",
        body=form.body.data or "",
        language=current_language(),
    )
    try:
        sent = contact_requests.submit(data, ip_address=ip)
    except (ValidationError, house_rules.TooManyTickets) as error:
        apply_service_error(form, error)
        return _page(form, error.status_code if error.status_code == 429 else 422)
    ticket = sent.ticket.code if sent.ticket is not None else None
    return render("helpdesk/help/contact_sent.html", email=sent.email, ticket=ticket)


def _request_or_page(token: str, expired_ok: bool = False):
    """The request of *token*, or the page that says why there is none (as a response)."""
    invalid = None, (render("helpdesk/help/contact_confirm.html", state="invalid"), 404)
    try:
        return contact_requests.request_for_token(token, expired_ok=expired_ok), None
    except NotFound:
        return invalid
    except ValidationError:
        try:
            found = contact_requests.request_for_token(token, expired_ok=True)
        except NotFound:  # expired, and deleted since (HELPDESK_CONTACT_FORM_KEEP)
            return invalid
        state = "expired" if found.ticket_id is None and found.confirmed_at is None else "done"
        page = render(
            "helpdesk/help/contact_confirm.html",
            state=state,
            found=found,
            token=token,
            form=get_form_class("contact_confirm")(),
        )
        return None, (page, 410 if state == "expired" else 200)


@bp.route("/help/contact/confirm/<token>", methods=["GET", "POST"])
def contact_confirm(token: str):
    form = get_form_class("contact_confirm")()
    if request.method == "POST" and not form.validate_on_submit():
        abort(400)
    found, page = _request_or_page(token)
    if page is not None:
        return page
    if request.method == "GET" or found.ticket_id is not None:
        state = "done" if found.ticket_id is not None else "confirm"
        return render(
            "helpdesk/help/contact_confirm.html",
            state=state,
            found=found,
            token=token,
            form=form,
            ticket=found.ticket.code if found.ticket is not None else None,
        )
    try:
        outcome = contact_requests.confirm(found, ip_address=request_ip())
    except (ValidationError, house_rules.TooManyTickets) as error:
        page = render(
            "helpdesk/help/contact_confirm.html",
            state="refused",
            found=found,
            token=token,
            form=form,
            reason=error.message,
        )
        return page, error.status_code if error.status_code == 429 else 422
    return render(
        "helpdesk/help/contact_confirm.html",
        state="done",
        found=outcome.request,
        ticket=outcome.ticket.code if outcome.ticket is not None else None,
    )


@bp.post("/help/contact/resend/<token>")
def contact_resend(token: str):
    if not get_form_class("contact_confirm")().validate_on_submit():
        abort(400)
    found, page = _request_or_page(token, expired_ok=True)
    if page is not None:
        return page
    if found.ticket_id is not None or found.confirmed_at is not None:
        return redirect(url_for("helpdesk.contact_confirm", token=token))
    address = found.email.casefold()
    if _over_limit(_per_address, "HELPDESK_CONTACT_FORM_ADDRESS_RATE_LIMIT", address):
        page = render(
            "helpdesk/help/contact_confirm.html",
            state="refused",
            found=found,
            token=token,
            form=get_form_class("contact_confirm")(),
            reason=_("Too many messages for this address. Please try again later."),
        )
        return page, 429
    contact_requests.resend(found, ip_address=request_ip())
    return render("helpdesk/help/contact_sent.html", email=found.email, ticket=None)
