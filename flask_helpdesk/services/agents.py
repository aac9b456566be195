"""Agents: making a host user staff, their departments, role, availability and capacity.

An :class:`Agent` mirrors a host user (DESIGN §2): the helpdesk finds the user through the host's
user loader (by Flask-Login id) or the ``@helpdesk.user_by_email`` hook, never by reading the
host's tables. Who is an *admin* is the host's call first (``@helpdesk.is_admin``); a helpdesk
admin may also give the admin role to an agent, but cannot take it from a host admin.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ..i18n import gettext as _
from ..inputs import clean_search, parse_id, parse_int
from ..models import Agent, AgentRole, Availability, BusinessCalendar, Department, Ticket
from ..state import current_helpdesk
from . import audit, distribution
from .base import Conflict, NotFound, ValidationError, commit, session
from .identity import SYSTEM, Actor
from .permissions import ensure

MAX_CAPACITY = 1000
# Statuses that count against an agent's capacity: work that is still theirs to do.
ACTIVE_STATUSES = distribution.ACTIVE_STATUSES


def find_user(reference: str) -> Any:
    """The host user behind *reference*: a Flask-Login id, or an email address the host's
    ``@helpdesk.user_by_email`` hook knows. :class:`NotFound` with a message saying why."""
    reference = (reference or "").strip()
    if not reference:
        raise ValidationError(
            _("Please give a user id or an email address."), {"user": [_("Required.")]}
        )
    try:
        user = current_helpdesk.load_user(reference)
    except (TypeError, ValueError, LookupError):
        user = None  # a loader that chokes on a value that is no id of its kind: not found
    if user is None and "@" in reference:
        if current_helpdesk.extension._user_by_email_callback is None:
            message = _(
                "The site does not let the helpdesk look users up by email"
                " (it registers no @helpdesk.user_by_email); give the user id instead."
            )
            raise NotFound(message, {"user": [message]})
        user = current_helpdesk.user_by_email(reference)
    if user is None:
        message = _("No user %(reference)s on this site.", reference=reference)
        raise NotFound(message, {"user": [message]})
    return user


def _role(value: AgentRole | str) -> AgentRole:
    try:
        return AgentRole(value)
    except ValueError:
        raise ValidationError(_("Unknown role."), {"role": [_("Unknown role.")]}) from None


def _capacity(value: int | str | None, default: int) -> int:
    if value is None or value == "":
        return default
    number = parse_int(value, 0, MAX_CAPACITY)
    if number is None:
        message = _("Capacity is a number from 0 to %(max)d.", max=MAX_CAPACITY)
        raise ValidationError(message, {"capacity": [message]})
    return number


# ``update_agent``'s default for what the caller does not set.
KEEP: Any = object()


def _calendar(value: int | str | None) -> int | None:
    """A shift calendar's id (None for none); a forged or deleted one is refused."""
    if value is None or value == "":
        return None
    calendar_id = parse_id(value)
    if calendar_id is None or session().get(BusinessCalendar, calendar_id) is None:
        message = _("Unknown calendar.")
        raise ValidationError(message, {"shift_calendar_id": [message]})
    return calendar_id


def _departments(
    ids: Iterable[int | str] = (), slugs: Iterable[str] = (), active_only: bool = True
) -> list[Department]:
    """Departments by id or slug; a forged or unknown one is refused, not skipped."""
    wanted_ids: set[int] = set()
    for value in ids:
        # Not an id (text, beyond the INTEGER column): -1 is found nowhere and reads "unknown".
        wanted_ids.add(parse_id(value) or -1)
    wanted_slugs = {s for s in slugs if s}
    if not wanted_ids and not wanted_slugs:
        return []
    found = list(
        session().scalars(
            select(Department).where(
                Department.id.in_(wanted_ids) | Department.slug.in_(wanted_slugs)
            )
        )
    )
    missing = sorted(wanted_slugs - {d.slug for d in found}) + [
        str(i) for i in sorted(wanted_ids - {d.id for d in found})
    ]
    inactive = [d.slug for d in found if active_only and not d.is_active]
    if missing or inactive:
        raise ValidationError(
            _("Unknown department: %(slugs)s", slugs=", ".join(missing + inactive)),
            {"departments": [_("Unknown department.")]},
        )
    return sorted(found, key=lambda d: (d.position, d.name))


def _host_admin(agent: Agent) -> bool:
    user = current_helpdesk.load_user(agent.user_id)
    return user is not None and current_helpdesk.is_admin(user)


def make_agent(
    user: str,
    department_slugs: Iterable[str] = (),
    role: AgentRole | str = AgentRole.AGENT,
    actor: Actor = SYSTEM,
    capacity: int | None = None,
) -> Agent:
    """Create or update the Agent mirroring the host user *user* (id or email, see
    :func:`find_user`), adding the departments given by slug; ``flask helpdesk create-agent``."""
    ensure(actor, "manage")
    host_user = find_user(user)
    agent_role = _role(role)
    departments = _departments(slugs=department_slugs, active_only=False)
    info = current_helpdesk.user_info(host_user)
    user_id = str(host_user.get_id())
    agent = session().scalar(select(Agent).where(Agent.user_id == user_id))
    if agent is None:
        agent = Agent(user_id=user_id, departments=[])
        session().add(agent)
    agent.name, agent.email, agent.phone = info.name, info.email, info.phone
    agent.role = agent_role
    agent.via_host_admin = False  # staff by this decision now, whatever the host says later
    agent.capacity = _capacity(capacity, agent.capacity or 20)
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
        capacity=agent.capacity,
    )
    commit()
    return agent


@dataclass(frozen=True)
class AgentRow:
    """One line of the admin's agent list: the agent and how many live tickets they hold."""

    agent: Agent
    open_tickets: int
    host_admin: bool  # staff only because the site says admin (no role of the helpdesk's)


def list_agents(actor: Actor) -> list[AgentRow]:
    """Every agent (active first), departments loaded, with their open-ticket load: three
    queries whatever the number of agents (agents, their departments, one grouped count)."""
    ensure(actor, "manage")
    agents = list(
        session().scalars(
            select(Agent)
            .options(selectinload(Agent.departments))
            .order_by(Agent.is_active.desc(), Agent.name, Agent.id)
        )
    )
    load = dict(
        session()
        .execute(
            select(Ticket.assignee_id, func.count())
            .where(Ticket.assignee_id.is_not(None), Ticket.status.in_(ACTIVE_STATUSES))
            .group_by(Ticket.assignee_id)
        )
        .all()
    )
    return [AgentRow(a, load.get(a.id, 0), a.via_host_admin) for a in agents]


@dataclass(frozen=True)
class UserMatch:
    """A host user found for the admin's "add an agent" search."""

    user_id: str
    name: str
    email: str | None
    agent: Agent | None  # already staff: link to them instead of adding


def find_users(actor: Actor, term: str, limit: int = 20) -> list[UserMatch]:
    """Host users matching *term* through the host's ``@helpdesk.user_search`` hook (none
    without it: the helpdesk never reads the host's user table), marking who is staff already."""
    ensure(actor, "manage")
    term = clean_search(term)
    if len(term) < 2:
        return []
    users = current_helpdesk.search_users(term, limit)
    staff = staff_by_user_id((str(u.get_id()) for u in users), active_only=False)
    matches = []
    for user in users:
        info = current_helpdesk.user_info(user)
        user_id = str(user.get_id())
        matches.append(UserMatch(user_id, info.name, info.email, staff.get(user_id)))
    return matches


def staff_by_user_id(user_ids: Iterable[str], active_only: bool = True) -> dict[str, Agent]:
    """Agents among host users *user_ids* (Flask-Login ids), departments loaded: for a host
    page that labels its users ("agent of Billing"), in two queries. Empty before the
    helpdesk's tables exist, so the host's page works before ``flask helpdesk db upgrade``."""
    wanted = [str(u) for u in user_ids]
    if not wanted or not current_helpdesk.schema_ready():
        return {}
    query = select(Agent).where(Agent.user_id.in_(wanted))
    if active_only:
        query = query.where(Agent.is_active.is_(True))
    rows = session().scalars(query.options(selectinload(Agent.departments)))
    return {a.user_id: a for a in rows}


def get_agent(actor: Actor, agent_id: int) -> Agent:
    ensure(actor, "manage")
    agent = session().get(Agent, agent_id)
    if agent is None:
        raise NotFound(_("No such agent."))
    return agent


def add_agent(
    actor: Actor,
    user: str,
    role: AgentRole | str = AgentRole.AGENT,
    department_ids: Iterable[int | str] = (),
    capacity: int | str | None = None,
) -> Agent:
    """An admin makes the host user *user* (id or email) an agent. Someone who is an agent
    already is refused (edit them instead), so a typo cannot silently rewrite another agent."""
    ensure(actor, "manage")
    host_user = find_user(user)
    agent_role = _role(role)
    departments = _departments(ids=department_ids)
    capacity_value = _capacity(capacity, 20)
    user_id = str(host_user.get_id())
    if session().scalar(select(Agent.id).where(Agent.user_id == user_id)) is not None:
        message = _("%(user)s is an agent already.", user=user)
        raise Conflict(message, {"user": [message]})
    info = current_helpdesk.user_info(host_user)
    agent = Agent(
        user_id=user_id,
        name=info.name,
        email=info.email,
        phone=info.phone,
        role=agent_role,
        capacity=capacity_value,
        is_active=True,
        departments=departments,
    )
    session().add(agent)
    session().flush()
    audit.record(
        actor,
        "agent.created",
        agent_id=agent.id,
        role=agent_role,
        departments=[d.slug for d in departments],
        capacity=capacity_value,
    )
    commit()
    return agent


def update_agent(
    actor: Actor,
    agent: Agent,
    role: AgentRole | str,
    department_ids: Iterable[int | str],
    capacity: int | str | None,
    is_active: bool,
    shift_calendar_id: int | str | None = KEEP,
) -> Agent:
    """Set an agent's role, departments (among the active ones; memberships of deactivated
    departments stay), capacity, whether they may use the desk at all and their shift calendar
    (their working hours for distribution; ``None`` or ``""``: none, :data:`KEEP`: unchanged)."""
    ensure(actor, "manage")
    agent_role = _role(role)
    chosen = _departments(ids=department_ids)
    capacity_value = _capacity(capacity, agent.capacity)
    shift = agent.shift_calendar_id if shift_calendar_id is KEEP else _calendar(shift_calendar_id)
    myself = actor.agent is not None and actor.agent.id == agent.id
    if myself and not is_active:
        message = _("You cannot deactivate yourself.")
        raise ValidationError(message, {"is_active": [message]})
    if myself and agent_role != AgentRole.ADMIN and not _host_admin(agent):
        message = _("You cannot take the admin role from yourself.")
        raise ValidationError(message, {"role": [message]})
    demoted = agent_role != AgentRole.ADMIN and agent.role == AgentRole.ADMIN
    if (demoted or not is_active) and _host_admin(agent):
        # The host decides who is an admin (DESIGN §2); sync would undo a demotion anyway.
        message = _("The site makes this user an admin; change it there.")
        raise ValidationError(message, {"role" if demoted else "is_active": [message]})
    kept = [d for d in agent.departments if not d.is_active]
    departments = kept + [d for d in chosen if d not in kept]
    old = {
        "role": agent.role.value,
        "departments": sorted(d.slug for d in agent.departments),
        "capacity": agent.capacity,
        "is_active": agent.is_active,
        "via_host_admin": agent.via_host_admin,
        "shift_calendar_id": agent.shift_calendar_id,
    }
    new = {
        "role": agent_role.value,
        "departments": sorted(d.slug for d in departments),
        "capacity": capacity_value,
        "is_active": bool(is_active),
        # Saving the form is a helpdesk admin's decision: the row stops following the host.
        "via_host_admin": False,
        "shift_calendar_id": shift,
    }
    if old == new:
        return agent
    agent.role = agent_role
    agent.departments = departments
    agent.capacity = capacity_value
    agent.is_active = bool(is_active)
    agent.via_host_admin = False
    agent.shift_calendar_id = shift
    changed = {k: [old[k], new[k]] for k in old if old[k] != new[k]}
    audit.record(actor, "agent.updated", agent_id=agent.id, **changed)
    if agent.is_active:
        distribution.offer_later(agent.id)  # more capacity or departments: more they may take
    commit()
    return agent


def set_availability(actor: Actor, availability: Availability | str) -> Agent:
    """An agent sets their own availability (available, away, on break). Back to available,
    the tickets waiting in their distributing departments are offered again."""
    if not actor.is_agent or actor.agent is None:
        raise NotFound(_("No such agent."))
    try:
        value = Availability(availability)
    except ValueError:
        message = _("Unknown availability.")
        raise ValidationError(message, {"availability": [message]}) from None
    agent = actor.agent
    if agent.availability == value:
        return agent
    old = agent.availability
    agent.availability = value
    audit.record(actor, "agent.availability_changed", agent_id=agent.id, old=old, new=value)
    if value == Availability.AVAILABLE:
        distribution.offer_later(agent.id)  # what waited for someone may go to them now
    commit()
    return agent
