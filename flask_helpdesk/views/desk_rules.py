"""Automation rules in the desk's admin area: the ordered list with on/off and up/down, the
auto-close preset, a form per rule (conditions and actions as the JSON of
docs/automation.rst, checked by the service), and "which open tickets would it match now"."""

from __future__ import annotations

import json
from typing import Any

from flask import flash, redirect, request, url_for
from wtforms.fields.choices import SelectChoice

from ..forms import get_form_class
from ..i18n import gettext as _
from ..services import ValidationError, rule_admin
from ..services.identity import Actor
from ..services.permissions import ensure
from ..services.rule_actions import ACTION_LABELS
from ..services.rule_conditions import ALL_OPERATORS, FIELDS
from ..services.rule_sweep import UNITS
from .common import apply_service_error, render
from .desk import bp, desk_actor


def _admin() -> Actor:
    actor = desk_actor()
    ensure(actor, "manage")  # Forbidden -> 403 by the blueprint's error handler
    return actor


def _rule_form(**kwargs: Any):
    form = get_form_class("admin_rule")(**kwargs)
    form.trigger.choices = [SelectChoice(k, str(v)) for k, v in rule_admin.TRIGGER_LABELS.items()]
    form.unit.choices = [SelectChoice(k, str(v)) for k, v in UNITS.items()]
    return form


def _data(form: Any) -> rule_admin.RuleData:
    return rule_admin.RuleData(
        name=form.name.data or "",
        description=form.description.data or "",
        trigger=form.trigger.data or "",
        after=form.after.data,
        unit=form.unit.data,
        conditions=form.conditions.data or "",
        actions=form.actions.data or "",
        is_active=bool(form.is_active.data),
    )


def _pretty(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2) if value else ""


def _list_page(actor: Actor, auto_close_form: Any = None, status: int = 200):
    preset = rule_admin.auto_close_rule()
    if auto_close_form is None:
        auto_close_form = get_form_class("admin_auto_close")(formdata=None)
        if preset is not None:
            auto_close_form.after.data = preset.schedule.get("after", 3)
            auto_close_form.working_days.data = preset.schedule.get("unit") == "working_days"
            auto_close_form.is_active.data = preset.is_active
    return render(
        "helpdesk/admin/rules.html",
        rules=rule_admin.list_rules(actor),
        trigger_labels=rule_admin.TRIGGER_LABELS,
        units=UNITS,
        auto_close_form=auto_close_form,
        button=get_form_class("admin_action")(formdata=None),
    ), status


@bp.get("/admin/rules")
def admin_rules():
    return _list_page(_admin())


@bp.post("/admin/rules/auto-close")
def admin_auto_close():
    actor = _admin()
    form = get_form_class("admin_auto_close")()
    if form.validate_on_submit():
        try:
            rule_admin.configure_auto_close(
                actor, form.after.data, bool(form.working_days.data), bool(form.is_active.data)
            )
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            flash(_("Auto-close saved."), "success")
            return redirect(url_for(".admin_rules"))
    return _list_page(actor, form, 422)


def _edit_page(form: Any, rule: Any = None, status: int = 200):
    return render(
        "helpdesk/admin/rule.html",
        form=form,
        rule=rule,
        fields=[*sorted(FIELDS), "customer.<attribute>"],
        operators=ALL_OPERATORS,
        actions=ACTION_LABELS,
        builder=rule_admin.builder_schema(desk_actor()),
        button=get_form_class("admin_action")(formdata=None),
    ), status


@bp.route("/admin/rules/new", methods=["GET", "POST"])
def admin_new_rule():
    actor = _admin()
    form = _rule_form(formdata=None) if request.method == "GET" else _rule_form()
    if request.method == "GET":
        form.conditions.data = _pretty({"field": "status", "op": "is", "value": "open"})
        form.actions.data = _pretty([{"type": "add_tags", "value": ["example"]}])
    elif form.validate_on_submit():
        try:
            rule = rule_admin.create_rule(actor, _data(form))
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            flash(_("Rule saved."), "success")
            return redirect(url_for(".admin_edit_rule", rule_id=rule.id))
    return _edit_page(form, status=200 if request.method == "GET" else 422)


@bp.route("/admin/rules/<helpdesk_id:rule_id>", methods=["GET", "POST"])
def admin_edit_rule(rule_id: int):
    actor = _admin()
    rule = rule_admin.get_rule(actor, rule_id)  # 404 when missing
    if request.method == "GET":
        form = _rule_form(formdata=None, obj=rule)
        form.after.data = rule.schedule.get("after")
        form.unit.data = rule.schedule.get("unit")
        form.conditions.data = _pretty(rule.conditions)
        form.actions.data = _pretty(rule.steps)
        return _edit_page(form, rule)
    form = _rule_form()
    if form.validate_on_submit():
        try:
            rule_admin.update_rule(actor, rule.id, _data(form))
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            flash(_("Rule saved."), "success")
            return redirect(url_for(".admin_edit_rule", rule_id=rule.id))
    return _edit_page(form, rule, 422)


def _button_post() -> bool:
    return bool(get_form_class("admin_action")().validate_on_submit())


@bp.post("/admin/rules/<helpdesk_id:rule_id>/switch")
def admin_switch_rule(rule_id: int):
    actor = _admin()
    if _button_post():
        rule = rule_admin.get_rule(actor, rule_id)
        rule_admin.set_active(actor, rule.id, not rule.is_active)
    return redirect(url_for(".admin_rules"))


@bp.post("/admin/rules/<helpdesk_id:rule_id>/move")
def admin_move_rule(rule_id: int):
    actor = _admin()
    if _button_post():
        rule_admin.move(actor, rule_id, -1 if request.form.get("direction") == "up" else 1)
    return redirect(url_for(".admin_rules"))


@bp.post("/admin/rules/<helpdesk_id:rule_id>/delete")
def admin_delete_rule(rule_id: int):
    actor = _admin()
    if _button_post():
        rule_admin.delete_rule(actor, rule_id)
        flash(_("Rule deleted."), "success")
    return redirect(url_for(".admin_rules"))


@bp.get("/admin/rules/<helpdesk_id:rule_id>/test")
def admin_test_rule(rule_id: int):
    actor = _admin()
    rule = rule_admin.get_rule(actor, rule_id)
    page = request.args.get("page", 1, type=int) or 1
    return render(
        "helpdesk/admin/rule_test.html", rule=rule, result=rule_admin.would_match(actor, rule, page)
    )
