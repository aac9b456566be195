"""Departments: the routing units customers choose from."""

from __future__ import annotations

import re

from sqlalchemy import select

from ..i18n import gettext as _
from ..models import Department
from . import audit
from .base import ValidationError, commit, session
from .identity import Actor
from .permissions import ensure


def active_departments() -> list[Department]:
    return list(
        session().scalars(
            select(Department)
            .where(Department.is_active.is_(True))
            .order_by(Department.position, Department.name)
        )
    )


def slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "department"


def create_department(
    actor: Actor,
    name: str,
    slug: str | None = None,
    description: str = "",
    email: str | None = None,
    position: int = 0,
) -> Department:
    ensure(actor, "manage")
    name = name.strip()
    if not name:
        raise ValidationError(_("Please enter a name."), {"name": [_("Required.")]})
    slug = slug or slugify(name)
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
    )
    session().add(department)
    session().flush()
    audit.record(actor, "department.created", department_id=department.id, name=name)
    commit()
    return department
