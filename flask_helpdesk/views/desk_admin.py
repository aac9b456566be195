"""The desk's admin pages (agents, departments) and an agent's own availability.

Only helpdesk admins reach the admin pages: the host's admins (``@helpdesk.is_admin``) and
agents given the admin role. Everyone else on the desk gets 403, customers too (the service's
``ensure(actor, "manage")`` decides; the pages only ask it).
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for
from wtforms.fields.choices import SelectChoice

from ..forms import get_form_class
from ..i18n import department_name
from ..i18n import gettext as _
from ..models import AgentRole, Availability, DistributionMode
from ..services import ServiceError, agents, calendars, departments, distribution
from ..services.identity import Actor
from ..services.permissions import ensure
from ..state import current_helpdesk
from .common import apply_service_error, render
from .desk import bp, desk_actor, safe_desk_url


def _admin() -> Actor:
    actor = desk_actor()
    ensure(actor, "manage")  # Forbidden -> 403 by the blueprint's error handler
    return actor


def _agent_choices(form: Any) -> None:
    form.role.choices = [SelectChoice(r.value, r.label) for r in AgentRole]
    form.departments.choices = [
        SelectChoice(str(d.id), department_name(d.name)) for d in departments.active_departments()
    ]


# -- agents ---------------------------------------------------------------------------------------
def _agents_page(actor: Actor, add_form: Any, status: int = 200):
    _agent_choices(add_form)
    user_query = request.args.get("user_q", "")
    rows = agents.list_agents(actor)
    return render(
        "helpdesk/admin/agents.html",
        actor=actor,
        rows=rows,
        availability=distribution.availability_labels([r.agent for r in rows]),
        add_form=add_form,
        user_query=user_query,
        user_matches=agents.find_users(actor, user_query),
        can_search_users=current_helpdesk.extension._user_search_callback is not None,
    ), status


@bp.get("/admin/agents")
def admin_agents():
    """The agent list; ``?user_q=`` searches the host's users, ``?user=`` pre-fills the form."""
    actor = _admin()
    form = get_form_class("admin_agent_add")(formdata=None)
    form.role.data = AgentRole.AGENT.value
    form.user.data = request.args.get("user", "")
    return _agents_page(actor, form)


@bp.post("/admin/agents")
def admin_add_agent():
    actor = _admin()
    form = get_form_class("admin_agent_add")()
    if form.validate_on_submit():
        try:
            agent = agents.add_agent(
                actor,
                form.user.data or "",
                form.role.data or AgentRole.AGENT.value,
                form.departments.data or [],
                form.capacity.data,
            )
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("%(name)s is now an agent.", name=agent.display_name), "success")
            return redirect(url_for(".admin_agents"))
    return _agents_page(actor, form, 422)


def _agent_page(actor: Actor, agent: Any, form: Any, status: int = 200):
    _agent_choices(form)
    form.shift_calendar_id.choices = [SelectChoice("", _("None"))] + [
        SelectChoice(str(c.id), c.name) for c in calendars.list_calendars()
    ]
    return render(
        "helpdesk/admin/agent.html",
        actor=actor,
        agent=agent,
        form=form,
        roles=list(AgentRole),
        availability=distribution.availability_labels([agent])[agent.id],
    ), status


@bp.get("/admin/agents/<helpdesk_id:agent_id>")
def admin_agent(agent_id: int):
    actor = _admin()
    agent = agents.get_agent(actor, agent_id)
    form = get_form_class("admin_agent_edit")(formdata=None)
    form.role.data = agent.role.value
    form.departments.data = [str(d.id) for d in agent.departments]
    form.capacity.data = agent.capacity
    form.is_active.data = agent.is_active
    form.shift_calendar_id.data = str(agent.shift_calendar_id or "")
    return _agent_page(actor, agent, form)


@bp.post("/admin/agents/<helpdesk_id:agent_id>")
def admin_update_agent(agent_id: int):
    actor = _admin()
    agent = agents.get_agent(actor, agent_id)
    form = get_form_class("admin_agent_edit")()
    if form.validate_on_submit():
        try:
            agents.update_agent(
                actor,
                agent,
                form.role.data or "",
                form.departments.data or [],
                form.capacity.data,
                bool(form.is_active.data),
                form.shift_calendar_id.data or "",
            )
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("Agent %(name)s saved.", name=agent.display_name), "success")
            return redirect(url_for(".admin_agents"))
    agent = agents.get_agent(actor, agent_id)  # a refusal rolled back: show what is stored
    return _agent_page(actor, agent, form, 422)


# -- departments ----------------------------------------------------------------------------------
def _distribution_choices(form: Any) -> None:
    form.distribution.choices = [SelectChoice(m.value, m.label) for m in DistributionMode]


def _departments_page(actor: Actor, form: Any, status: int = 200):
    _distribution_choices(form)
    return render(
        "helpdesk/admin/departments.html",
        actor=actor,
        rows=departments.list_departments(actor),
        form=form,
        action_form=get_form_class("admin_action")(formdata=None),
    ), status


@bp.get("/admin/departments")
def admin_departments():
    actor = _admin()
    return _departments_page(actor, get_form_class("admin_department_new")(formdata=None))


@bp.post("/admin/departments")
def admin_create_department():
    actor = _admin()
    form = get_form_class("admin_department_new")()
    if form.validate_on_submit():
        try:
            department = departments.create_department(
                actor,
                form.name.data or "",
                slug=form.slug.data or None,
                description=form.description.data or "",
                email=form.email.data or None,
                position=form.position.data or 0,
                distribution_mode=form.distribution.data or None,
            )
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("Department %(name)s created.", name=department.name), "success")
            return redirect(url_for(".admin_departments"))
    return _departments_page(actor, form, 422)


def _department_page(actor: Actor, department: Any, form: Any, status: int = 200):
    _distribution_choices(form)
    return render(
        "helpdesk/admin/department.html",
        actor=actor,
        department=department,
        form=form,
        action_form=get_form_class("admin_action")(formdata=None),
        mailboxes=departments.department_mailboxes(department),
    ), status


@bp.get("/admin/departments/<helpdesk_id:department_id>")
def admin_department(department_id: int):
    actor = _admin()
    department = departments.get_department(actor, department_id)
    form = get_form_class("admin_department")(obj=department, formdata=None)
    form.distribution.data = department.distribution.value
    return _department_page(actor, department, form)


@bp.post("/admin/departments/<helpdesk_id:department_id>")
def admin_update_department(department_id: int):
    actor = _admin()
    department = departments.get_department(actor, department_id)
    form = get_form_class("admin_department")()
    if form.validate_on_submit():
        try:
            departments.update_department(
                actor,
                department,
                form.name.data or "",
                description=form.description.data or "",
                email=form.email.data or None,
                position=form.position.data,
                distribution_mode=form.distribution.data or None,
            )
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("Department %(name)s saved.", name=department.name), "success")
            return redirect(url_for(".admin_departments"))
    department = departments.get_department(actor, department_id)
    return _department_page(actor, department, form, 422)


def _department_action(department_id: int, call, done: str):
    actor = _admin()
    department = departments.get_department(actor, department_id)
    name = department.name
    form = get_form_class("admin_action")()
    if not form.validate_on_submit():
        flash(_("The form expired. Please try again."), "error")
        return redirect(url_for(".admin_department", department_id=department_id)), 303
    try:
        call(actor, department)
    except ServiceError as error:
        flash(error.message, "error")
        return redirect(url_for(".admin_department", department_id=department_id)), 303
    flash(done % {"name": name}, "success")
    return redirect(url_for(".admin_departments"))


@bp.post("/admin/departments/<helpdesk_id:department_id>/deactivate")
def admin_deactivate_department(department_id: int):
    return _department_action(
        department_id,
        lambda actor, d: departments.set_active(actor, d, False),
        _("Department %(name)s deactivated."),
    )


@bp.post("/admin/departments/<helpdesk_id:department_id>/activate")
def admin_activate_department(department_id: int):
    return _department_action(
        department_id,
        lambda actor, d: departments.set_active(actor, d, True),
        _("Department %(name)s is active again."),
    )


@bp.post("/admin/departments/<helpdesk_id:department_id>/delete")
def admin_delete_department(department_id: int):
    return _department_action(
        department_id, departments.delete_department, _("Department %(name)s deleted.")
    )


# -- the agent's own availability -----------------------------------------------------------------
@bp.post("/me/availability")
def set_availability():
    actor = desk_actor()
    form = get_form_class("desk_availability")()
    target = safe_desk_url(form.next.data)
    if not form.validate_on_submit():
        flash(_("The form expired. Please try again."), "error")
        return redirect(target)
    try:
        agent = agents.set_availability(actor, form.availability.data or "")
    except ServiceError as error:
        flash(error.message, "error")
    else:
        flash(_("You are now: %(state)s.", state=agent.availability.label), "success")
    return redirect(target)


def availability_form(actor: Actor) -> Any:
    """The small form in the desk's navigation, showing the agent's current availability."""
    form = get_form_class("desk_availability")(formdata=None)
    form.availability.choices = [SelectChoice(a.value, a.label) for a in Availability]
    form.availability.data = actor.agent.availability.value if actor.agent else None
    form.next.data = request.full_path if request.method == "GET" else ""
    return form
