"""Tickets on behalf of a customer (seed 001 "Tạo cho tài khoản" / "Gửi tới người dùng")."""

from __future__ import annotations

from flask import flash, jsonify, redirect, request, url_for
from wtforms.fields.choices import SelectChoice

from ..forms import get_form_class
from ..i18n import department_name
from ..i18n import gettext as _
from ..models import Contact
from ..services import NotFound, ValidationError, contacts, departments, tickets
from .common import apply_service_error, render, uploads_from
from .desk import bp, desk_actor


@bp.get("/customers.json")
def customers_json():
    """Customer search for the picker: name, email or phone contains ``q`` (contacts, and host
    users through ``@helpdesk.user_search``)."""
    actor = desk_actor()
    term = request.args.get("q", "")
    if request.args.get("contacts"):  # the queue's account filter: only who has tickets here
        found = [
            contacts.CustomerMatch(f"contact:{c.id}", c.display_name, c.email, c.phone)
            for c in contacts.search_contacts(actor, term)
        ]
    else:
        found = contacts.find_customers(actor, term)
    return jsonify(
        [{"key": c.key, "name": c.name, "email": c.email, "phone": c.phone} for c in found]
    )


@bp.route("/new", methods=["GET", "POST"])
def new_ticket():
    actor = desk_actor()
    form = get_form_class("desk_on_behalf")()
    form.department_id.choices = [
        SelectChoice(d.id, department_name(d.name))
        for d in departments.active_departments()
        if actor.is_admin or d.id in actor.department_ids
    ]
    customer_query = request.args.get("customer_q", "").strip()
    matches = contacts.find_customers(actor, customer_query) if customer_query else []
    requester = _chosen(actor, form.requester_id.data or request.args.get("requester"))
    if requester is not None and request.method == "GET":
        form.requester_id.data = f"contact:{requester.id}"
        form.email.data = form.email.data or requester.email
        form.phone.data = form.phone.data or requester.phone
    if form.validate_on_submit():
        data = tickets.NewTicket(
            department_id=form.department_id.data,
            subject=form.subject.data or "",
            body=form.body.data or "",
            priority=form.priority.data,
            phone=form.phone.data,
            email=form.email.data,
            notify_sms=bool(form.notify_sms.data),
            uploads=uploads_from(form.attachments.data or []),
        )
        try:
            if requester is None:
                raise ValidationError(
                    _("Please choose the customer."), {"requester_id": [_("Required.")]}
                )
            ticket = tickets.open_ticket(
                actor, data, requester=requester, send_to_user=bool(form.send_to_user.data)
            )
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            flash(_("Ticket %(code)s created.", code=ticket.code), "success")
            return redirect(url_for(".ticket", code=ticket.code))
    status = 422 if request.method == "POST" else 200
    return render(
        "helpdesk/desk/new.html",
        form=form,
        requester=requester,
        customer_query=customer_query,
        matches=matches,
    ), status


def _chosen(actor, value) -> Contact | None:
    """The picked customer; a host user is mirrored into a contact once picked."""
    try:
        return contacts.resolve_customer(actor, value) if value else None
    except NotFound:
        return None
