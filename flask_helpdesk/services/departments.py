"""Departments: the routing units customers choose from."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, func, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from ..forms import EMAIL_PATTERN
from ..i18n import N_
from ..i18n import gettext as _
from ..inputs import parse_int
from ..models import Department, DistributionMode, Mailbox, Ticket, agent_department
from . import audit, distribution
from .base import (
    Conflict,
    NotFound,
    ValidationError,
    add_detached,
    cached_for_app,
    commit,
    forget_on_change,
    new_row,
    rollback,
    session,
    to_detached,
)
from .identity import SYSTEM, Actor
from .permissions import ensure

MAX_POSITION = 1_000_000  # places in lists: far more than anyone orders by hand


def active_departments() -> list[Department]:
    return list(
        session().scalars(
            select(Department)
            .where(Department.is_active.is_(True))
            .order_by(Department.position, Department.name)
        )
    )


# Every department's row, kept per process for :func:`department_row` (ticket creation asks for
# one each time). Forgotten at once by a change in this process, within a second in the others
# when Redis is configured (``base.cached_for_app``), else after this long.
ROWS_KEY = "helpdesk-department-rows"
ROWS_TTL = 30.0


def _rows() -> dict[int, dict[str, Any]]:
    keys = [p.key for p in inspect(Department).column_attrs]
    statement = select(*(p.columns[0] for p in inspect(Department).column_attrs))
    return {row[0]: dict(zip(keys, row, strict=True)) for row in session().execute(statement)}


def department_row(department_id: int) -> Department | None:
    """The department with *department_id* (None if there is none) as a loaded row of this
    session: the one the session holds, else one made from the process's copy of the
    departments' rows (read at most every ``ROWS_TTL`` seconds), without a query.

    For ticket creation (issue 17), which needs the chosen department every time. Its settings
    may lag another process's change by a second (with Redis), like the SLA policies and the
    automation rules; distribution reads the mode and the turn again under its lock anyway.
    """
    db = session()()
    known = db.identity_map.get(identity_key(Department, department_id))
    expired = inspect(known).expired_attributes if known is not None else ()
    if known is not None and not expired:
        return known
    values = cached_for_app(ROWS_KEY, ROWS_TTL, _rows).get(department_id)
    if values is None:  # created a moment ago in another process, or never
        return db.get(Department, department_id)
    if known is not None:  # expired by a commit: its columns from the copy, not a refresh
        for name in list(expired):
            if name in values:
                set_committed_value(known, name, values[name])
        return known
    department = new_row(Department, **values)
    state = inspect(department)
    to_detached(state)  # loaded, unchanged: nothing to flush
    add_detached(db, state)
    return department


# Whoever adds, changes or deletes a department (the admin pages, a test, the demo), this
# process opens the next ticket with the change; the others within a second (Redis).
forget_on_change(ROWS_KEY, Department)


# The department requests go to while a fresh install has none (shown translated, stored as is).
FALLBACK_NAME = N_("General")
FALLBACK_SLUG = "general"


def fallback_department() -> Department:
    """Where a customer's request goes when no department is active (a fresh install): the
    department ``general``, created on the first such request. Admins rename or replace it."""
    found = session().scalar(select(Department).where(Department.slug == FALLBACK_SLUG))
    if found is not None:
        return found

    try:
        return create_department(SYSTEM, FALLBACK_NAME, slug=FALLBACK_SLUG)
    except (ValidationError, IntegrityError):  # two first requests at once: the other won
        rollback()
        return session().scalar(select(Department).where(Department.slug == FALLBACK_SLUG))


SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


def slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "department"


def create_department(
    actor: Actor,
    name: str,
    slug: str | None = None,
    description: str = "",
    email: str | None = None,
    position: int = 0,
    distribution_mode: str | None = None,
) -> Department:
    ensure(actor, "manage")
    name = name.strip()
    if not name:
        raise ValidationError(_("Please enter a name."), {"name": [_("Required.")]})
    if len(name) > 120:
        raise ValidationError(_("The name is too long."), {"name": [_("The name is too long.")]})
    slug = (slug or "").strip() or slugify(name)
    if not SLUG_PATTERN.match(slug):
        message = _("Use lower-case letters, digits and dashes.")
        raise ValidationError(message, {"slug": [message]})
    email = _clean_email(email)
    position = _position(position, 0)
    mode = distribution.parse_mode(distribution_mode)
    if session().scalar(select(Department).where(Department.slug == slug)) is not None:
        raise ValidationError(
            _("This department exists already."), {"slug": [_("Already in use.")]}
        )
    department = Department(
        name=name,
        slug=slug,
        description=description,
        email=email,
        position=position,
        is_active=True,
        distribution=mode,
    )
    session().add(department)
    session().flush()
    audit.record(
        actor, "department.created", department_id=department.id, name=name, distribution=mode
    )
    if mode != DistributionMode.OFF:
        distribution.mode_changed(department)
    commit()
    return department


@dataclass(frozen=True)
class DepartmentRow:
    """One line of the admin's department list."""

    department: Department
    has_tickets: bool
    agent_count: int


def list_departments(actor: Actor) -> list[DepartmentRow]:
    """All departments, inactive ones too, each with whether it holds tickets (an EXISTS on the
    department index, cheap at a million tickets) and its number of agents: two queries."""
    ensure(actor, "manage")
    has_tickets = exists().where(Ticket.department_id == Department.id)
    rows = session().execute(
        select(Department, has_tickets).order_by(
            Department.is_active.desc(), Department.position, Department.name
        )
    )
    counts = dict(
        session()
        .execute(
            select(agent_department.c.department_id, func.count()).group_by(
                agent_department.c.department_id
            )
        )
        .all()
    )
    return [DepartmentRow(d, bool(used), counts.get(d.id, 0)) for d, used in rows]


def get_department(actor: Actor, department_id: int) -> Department:
    ensure(actor, "manage")
    department = session().get(Department, department_id)
    if department is None:
        raise NotFound(_("No such department."))
    return department


def department_mailboxes(department: Department) -> list[Mailbox]:
    """The IMAP mailboxes feeding *department* (managed with mail intake, shown on its page)."""
    return list(
        session().scalars(
            select(Mailbox).where(Mailbox.department_id == department.id).order_by(Mailbox.id)
        )
    )


def _clean_email(email: str | None) -> str | None:
    email = (email or "").strip() or None
    if email is not None and (len(email) > 254 or not re.match(EMAIL_PATTERN, email)):
        message = _("Not a valid email.")
        raise ValidationError(message, {"email": [message]})
    return email


def _position(value: int | str | None, default: int) -> int:
    """A place in lists; a number the INTEGER column cannot hold is a form error."""
    if value is None or value == "":
        return default
    number = parse_int(value, -MAX_POSITION, MAX_POSITION)
    if number is None:
        message = _(
            "The position is a number from %(min)d to %(max)d.", min=-MAX_POSITION, max=MAX_POSITION
        )
        raise ValidationError(message, {"position": [message]})
    return number


def update_department(
    actor: Actor,
    department: Department,
    name: str,
    description: str = "",
    email: str | None = None,
    position: int | None = None,
    distribution_mode: str | None = None,
) -> Department:
    """Rename a department and set its description, from-address, place in lists and
    distribution mode (``None`` keeps it). The slug stays: mail routing and links may use it."""
    ensure(actor, "manage")
    name = (name or "").strip()
    if not name:
        raise ValidationError(_("Please enter a name."), {"name": [_("Required.")]})
    if len(name) > 120:
        raise ValidationError(_("The name is too long."), {"name": [_("The name is too long.")]})
    email = _clean_email(email)
    new = {
        "name": name,
        "description": (description or "").strip(),
        "email": email,
        "position": _position(position, department.position),
        "distribution": department.distribution
        if distribution_mode is None
        else distribution.parse_mode(distribution_mode),
    }
    old = {key: getattr(department, key) for key in new}
    if old == new:
        return department
    for key, value in new.items():
        setattr(department, key, value)
    changed = {k: [old[k], new[k]] for k in new if old[k] != new[k]}
    audit.record(actor, "department.updated", department_id=department.id, **changed)
    if "distribution" in changed:
        distribution.mode_changed(department)
    commit()
    return department


def set_active(actor: Actor, department: Department, active: bool) -> Department:
    """Deactivate (customers and agents can no longer choose it; its tickets stay where they
    are and can be transferred) or reactivate a department."""
    ensure(actor, "manage")
    if department.is_active == active:
        return department
    department.is_active = active
    audit.record(
        actor,
        "department.activated" if active else "department.deactivated",
        department_id=department.id,
    )
    commit()
    return department


def delete_department(actor: Actor, department: Department) -> None:
    """Delete a department that never held a ticket (a typo, say). One with tickets is refused:
    deactivate it instead, so history keeps its department."""
    ensure(actor, "manage")
    if session().scalar(select(exists().where(Ticket.department_id == department.id))):
        message = _("This department has tickets: deactivate it instead.")
        raise Conflict(message, {"department": [message]})
    name = department.name
    department_id = department.id
    department.agents = []
    session().delete(department)
    try:
        session().flush()
    except IntegrityError:
        rollback()
        message = _("This department is still in use: deactivate it instead.")
        raise Conflict(message, {"department": [message]}) from None
    audit.record(actor, "department.deleted", department_id=department_id, name=name)
    commit()
