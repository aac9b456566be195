"""Agents: making a host user staff, their departments, role, availability and capacity."""

from __future__ import annotations

from sqlalchemy import select

from ..extension import current_helpdesk
from ..i18n import gettext as _
from ..models import Agent, AgentRole, Department
from . import audit
from .base import NotFound, ValidationError, commit, session
from .identity import SYSTEM, Actor


def make_agent(
    user_id: str, department_slugs: list[str], role: str = "agent", actor: Actor = SYSTEM
) -> Agent:
    """Create or update the Agent mirroring host user *user_id* (resolved by the user loader)."""
    user = current_helpdesk.load_user(str(user_id))
    if user is None:
        raise NotFound(_("No user with id %(id)s.", id=user_id))
    try:
        agent_role = AgentRole(role)
    except ValueError:
        raise ValidationError(_("Unknown role."), {"role": [_("Unknown role.")]}) from None
    departments = list(
        session().scalars(select(Department).where(Department.slug.in_(department_slugs)))
    )
    missing = set(department_slugs) - {d.slug for d in departments}
    if missing:
        raise ValidationError(
            _("Unknown department: %(slugs)s", slugs=", ".join(sorted(missing))),
            {"departments": [_("Unknown department.")]},
        )
    info = current_helpdesk.user_info(user)
    agent = session().scalar(select(Agent).where(Agent.user_id == str(user.get_id())))
    if agent is None:
        agent = Agent(user_id=str(user.get_id()))
        session().add(agent)
    agent.name, agent.email, agent.phone = info.name, info.email, info.phone
    agent.role = agent_role
    agent.is_active = True
    for department in departments:
        if department not in agent.departments:
            agent.departments.append(department)
    session().flush()
    audit.record(
        actor,
        "agent.saved",
        agent_id=agent.id,
        role=agent_role,
        departments=[d.slug for d in agent.departments],
    )
    commit()
    return agent
