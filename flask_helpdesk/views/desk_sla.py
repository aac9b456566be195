"""The desk's service-level pages for admins: the overview (policies in the order they are
tried, calendars with their hours and coming holidays) and the pages that edit them. Every change
goes through the services (calendars, holiday_sources, sla_policies), which check the admin
right again and record the audit event; the same operations exist as ``flask helpdesk calendar``
and ``flask helpdesk sla`` commands (docs/sla.rst)."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import abort, flash, redirect, request, url_for
from wtforms.fields.choices import SelectChoice

from ..admin_forms import HOURS_HINT, WEEKDAYS
from ..businesstime import format_windows
from ..forms import get_form_class
from ..i18n import department_name
from ..i18n import gettext as _
from ..i18n import lazy_gettext as _l
from ..models import Channel, Priority, utcnow
from ..services import ServiceError, ValidationError, departments
from ..services.calendars import (
    add_holiday,
    create_calendar,
    get_calendar,
    list_calendars,
    remove_holiday,
    update_calendar,
    weekly_hours,
)
from ..services.holiday_sources import ICAL_MAX_BYTES, import_ical, seed_country
from ..services.identity import Actor
from ..services.permissions import ensure
from ..services.sla_policies import (
    PolicyData,
    create_policy,
    delete_policy,
    get_policy,
    move_policy,
    ordered_policies,
    update_policy,
)
from ..services.sla_presets import policy_label
from .common import apply_service_error, render
from .desk import bp, desk_actor

UPCOMING_HOLIDAYS = 10
CHANNEL_LABELS = {
    Channel.WEB: _l("Web form"),
    Channel.EMAIL: _l("Email"),
    Channel.API: _l("API"),
    Channel.DESK: _l("Opened by an agent"),
}


def _admin() -> Actor:
    actor = desk_actor()
    ensure(actor, "manage")  # Forbidden -> 403 by the blueprint's error handler
    return actor


def conditions_text(conditions: dict[str, Any] | None, names: dict[int, str]) -> list[str]:
    """A policy's conditions as lines people read ("Priorities: High, Urgent"); *names* are
    the departments' by id."""
    conditions = conditions or {}
    lines = []
    if conditions.get("department_ids"):
        listed = ", ".join(names.get(i, f"#{i}") for i in conditions["department_ids"])
        lines.append(_("Departments: %(names)s", names=listed))
    if conditions.get("priorities"):
        listed = ", ".join(str(Priority[p.upper()].label) for p in conditions["priorities"])
        lines.append(_("Priorities: %(names)s", names=listed))
    if conditions.get("channels"):
        listed = ", ".join(str(CHANNEL_LABELS[Channel(c)]) for c in conditions["channels"])
        lines.append(_("Channels: %(names)s", names=listed))
    for name, value in (conditions.get("customer") or {}).items():
        lines.append(_("Customer's %(name)s is %(value)s", name=name, value=value))
    return lines


@bp.get("/admin/sla")
def admin_sla():
    actor = _admin()
    names = {d.id: department_name(d.name) for d in departments.active_departments()}
    today = utcnow().date()
    calendars = [
        {
            "calendar": calendar,
            "hours": {day: format_windows(w) for day, w in weekly_hours(calendar).items()},
            "holidays": [h for h in calendar.holidays if h.active and h.day >= today][
                :UPCOMING_HOLIDAYS
            ],
        }
        for calendar in list_calendars(with_details=True)
    ]
    return render(
        "helpdesk/admin/sla.html",
        actor=actor,
        policy_label=policy_label,
        conditions_text=lambda conditions: conditions_text(conditions, names),
        calendars=calendars,
        policies=ordered_policies(active_only=False, with_calendars=True),
        move_form=get_form_class("admin_sla_policy_move")(formdata=None),
    )


# -- calendars --------------------------------------------------------------------------------
def _weekly(form: Any) -> dict[int, str]:
    return {day: getattr(form, f"day_{day}").data or "" for day in range(7)}


def _calendar_page(actor: Actor, form: Any, calendar: Any = None, status: int = 200, **forms):
    holidays = []
    if calendar is not None:
        today = utcnow().date()
        holidays = sorted(
            (h for h in calendar.holidays if h.active and h.day >= today), key=lambda h: h.day
        )
        forms.setdefault("holiday_form", get_form_class("admin_holiday")(formdata=None))
        forms.setdefault("import_form", get_form_class("admin_holiday_import")(formdata=None))
        forms.setdefault("action_form", get_form_class("admin_action")(formdata=None))
    return render(
        "helpdesk/admin/sla_calendar.html",
        actor=actor,
        form=form,
        calendar=calendar,
        holidays=holidays,
        weekdays=WEEKDAYS,
        hours_hint=HOURS_HINT,
        **forms,
    ), status


@bp.route("/admin/sla/calendars/new", methods=["GET", "POST"])
def admin_new_calendar():
    actor = _admin()
    form = get_form_class("admin_calendar")()
    if form.validate_on_submit():
        try:
            calendar = create_calendar(actor, form.name.data, form.timezone.data, _weekly(form))
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("Calendar saved."), "success")
            return redirect(url_for(".admin_calendar", calendar_id=calendar.id))
    return _calendar_page(actor, form, status=422 if form.is_submitted() else 200)


@bp.route("/admin/sla/calendars/<helpdesk_id:calendar_id>", methods=["GET", "POST"])
def admin_calendar(calendar_id: int):
    actor = _admin()
    calendar = get_calendar(calendar_id)
    form = get_form_class("admin_calendar")(
        formdata=None if request.method == "GET" else request.form, obj=calendar
    )
    if request.method == "GET":
        for day, windows in weekly_hours(calendar).items():
            getattr(form, f"day_{day}").data = format_windows(windows)
    elif form.validate_on_submit():
        try:
            update_calendar(actor, calendar.id, form.name.data, form.timezone.data, _weekly(form))
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("Calendar saved. Open tickets' due times are being recomputed."), "success")
            return redirect(url_for(".admin_calendar", calendar_id=calendar.id))
    return _calendar_page(actor, form, calendar, status=422 if form.is_submitted() else 200)


@bp.post("/admin/sla/calendars/<helpdesk_id:calendar_id>/holidays")
def admin_add_holiday(calendar_id: int):
    actor = _admin()
    calendar = get_calendar(calendar_id)
    form = get_form_class("admin_holiday")()
    if form.validate_on_submit():
        try:
            add_holiday(actor, calendar.id, form.day.data, form.name.data or "")
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("Holiday saved."), "success")
            return redirect(url_for(".admin_calendar", calendar_id=calendar.id))
    return _calendar_page(actor, _calendar_form(calendar), calendar, 422, holiday_form=form)


@bp.post("/admin/sla/calendars/<helpdesk_id:calendar_id>/holidays/<day>/remove")
def admin_remove_holiday(calendar_id: int, day: str):
    actor = _admin()
    calendar = get_calendar(calendar_id)
    try:
        when = date.fromisoformat(day)
    except ValueError:
        abort(404)
    form = get_form_class("admin_action")()
    if form.validate_on_submit():
        remove_holiday(actor, calendar.id, when)  # NotFound -> 404
        flash(_("Holiday removed: the calendar is open that day."), "success")
    else:
        flash(_("The form expired. Please try again."), "error")
    return redirect(url_for(".admin_calendar", calendar_id=calendar.id))


@bp.post("/admin/sla/calendars/<helpdesk_id:calendar_id>/holidays/import")
def admin_import_holidays(calendar_id: int):
    actor = _admin()
    calendar = get_calendar(calendar_id)
    form = get_form_class("admin_holiday_import")()
    if form.validate_on_submit():
        try:
            added, removed = _import(actor, calendar.id, form)
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(
                _(
                    "Holidays imported: %(added)d added, %(removed)d removed.",
                    added=added,
                    removed=removed,
                ),
                "success",
            )
            return redirect(url_for(".admin_calendar", calendar_id=calendar.id))
    return _calendar_page(actor, _calendar_form(calendar), calendar, 422, import_form=form)


def _import(actor: Actor, calendar_id: int, form: Any) -> tuple[int, int]:
    upload = form.ical_file.data
    country = (form.country.data or "").strip()
    if upload and upload.filename:
        data = upload.read(ICAL_MAX_BYTES + 1)
        if len(data) > ICAL_MAX_BYTES:
            raise ValidationError(
                _("The file is too large."), {"ical_file": [_("The file is too large.")]}
            )
        try:
            return import_ical(actor, calendar_id, data=data)
        except ValidationError as error:
            raise ValidationError(error.message, {"ical_file": [error.message]}) from None
    if country:
        return seed_country(actor, calendar_id, country, form.subdivision.data or None)
    message = _("Give a country code or choose an iCalendar file.")
    raise ValidationError(message, {"country": [message]})


def _calendar_form(calendar: Any) -> Any:
    form = get_form_class("admin_calendar")(formdata=None, obj=calendar)
    for day, windows in weekly_hours(calendar).items():
        getattr(form, f"day_{day}").data = format_windows(windows)
    return form


# -- policies ---------------------------------------------------------------------------------
def _policy_choices(form: Any) -> None:
    form.calendar_id.choices = [SelectChoice("", _("Round the clock"))] + [
        SelectChoice(str(c.id), c.name) for c in list_calendars()
    ]
    form.departments.choices = [
        SelectChoice(str(d.id), department_name(d.name)) for d in departments.active_departments()
    ]
    form.priorities.choices = [SelectChoice(p.name.lower(), p.label) for p in Priority]
    form.channels.choices = [
        SelectChoice(c.value, str(label)) for c, label in CHANNEL_LABELS.items()
    ]


def _customer_conditions(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in filter(None, (line.strip() for line in text.splitlines())):
        name, equals, value = line.partition("=")
        if not equals or not name.strip():
            message = _("Write each attribute as name=value: %(line)s", line=line)
            raise ValidationError(message, {"customer": [message]})
        found[name.strip()] = value.strip()
    return found


def _policy_data(form: Any) -> PolicyData:
    conditions: dict[str, Any] = {}
    if form.departments.data:
        conditions["department_ids"] = form.departments.data
    if form.priorities.data:
        conditions["priorities"] = form.priorities.data
    if form.channels.data:
        conditions["channels"] = form.channels.data
    customer = _customer_conditions(form.customer.data or "")
    if customer:
        conditions["customer"] = customer
    return PolicyData(
        name=form.name.data or "",
        first_response_minutes=form.first_response_minutes.data,
        next_response_minutes=form.next_response_minutes.data,
        resolution_minutes=form.resolution_minutes.data,
        after_hours_first_response_minutes=form.after_hours_first_response_minutes.data,
        calendar_id=form.calendar_id.data or None,
        conditions=conditions,
        warn_before_minutes=form.warn_before_minutes.data or 0,
        notify_outside_hours=form.notify_outside_hours.data,
        is_default=form.is_default.data,
        is_active=form.is_active.data,
    )


def _fill_policy_form(form: Any, policy: Any) -> None:
    conditions = policy.conditions or {}
    form.calendar_id.data = str(policy.calendar_id or "")
    form.departments.data = [str(i) for i in conditions.get("department_ids", [])]
    form.priorities.data = list(conditions.get("priorities", []))
    form.channels.data = list(conditions.get("channels", []))
    form.customer.data = "\n".join(f"{k}={v}" for k, v in conditions.get("customer", {}).items())


def _policy_page(actor: Actor, form: Any, policy: Any = None, status: int = 200):
    return render(
        "helpdesk/admin/sla_policy.html",
        actor=actor,
        policy_label=policy_label,
        form=form,
        policy=policy,
        action_form=get_form_class("admin_action")(formdata=None),
    ), status


def _save_policy(actor: Actor, form: Any, policy: Any = None):
    try:
        data = _policy_data(form)
        if policy is None:
            policy = create_policy(actor, data)
        else:
            update_policy(actor, policy.id, data)
    except ServiceError as error:
        apply_service_error(form, error)
        return None
    flash(_("Policy saved. Open tickets' due times are being recomputed."), "success")
    return redirect(url_for(".admin_sla"))


@bp.route("/admin/sla/policies/new", methods=["GET", "POST"])
def admin_new_policy():
    actor = _admin()
    form = get_form_class("admin_sla_policy")()
    _policy_choices(form)
    if form.validate_on_submit() and (done := _save_policy(actor, form)) is not None:
        return done
    return _policy_page(actor, form, status=422 if form.is_submitted() else 200)


@bp.route("/admin/sla/policies/<helpdesk_id:policy_id>", methods=["GET", "POST"])
def admin_policy(policy_id: int):
    actor = _admin()
    policy = get_policy(policy_id)
    form = get_form_class("admin_sla_policy")(
        formdata=None if request.method == "GET" else request.form, obj=policy
    )
    _policy_choices(form)
    if request.method == "GET":
        _fill_policy_form(form, policy)
    elif form.validate_on_submit() and (done := _save_policy(actor, form, policy)) is not None:
        return done
    return _policy_page(actor, form, policy, status=422 if form.is_submitted() else 200)


@bp.post("/admin/sla/policies/<helpdesk_id:policy_id>/move")
def admin_move_policy(policy_id: int):
    actor = _admin()
    form = get_form_class("admin_sla_policy_move")()
    if form.validate_on_submit() and form.direction.data in ("up", "down"):
        move_policy(actor, policy_id, -1 if form.direction.data == "up" else 1)
        flash(_("Order saved."), "success")
    else:
        flash(_("The form expired. Please try again."), "error")
    return redirect(url_for(".admin_sla"))


@bp.post("/admin/sla/policies/<helpdesk_id:policy_id>/delete")
def admin_delete_policy(policy_id: int):
    actor = _admin()
    form = get_form_class("admin_action")()
    if form.validate_on_submit():
        delete_policy(actor, policy_id)
        flash(_("Policy deleted."), "success")
    else:
        flash(_("The form expired. Please try again."), "error")
    return redirect(url_for(".admin_sla"))
