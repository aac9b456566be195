"""The seeds' service levels, installable in one step (CLI, admin page, demo).

* ``72-hours`` (seed 000): every answer within 72 hours, round the clock.
* ``business-hour`` (seed 002): every answer within 1 working hour during business hours
  (Monday to Friday 08:00-19:00); a ticket arriving outside them is first answered within 24
  hours.
"""

from __future__ import annotations

from sqlalchemy import select

from ..i18n import N_, gettext
from ..models import BusinessCalendar, SlaPolicy
from .base import ValidationError, session
from .calendars import create_calendar
from .identity import Actor
from .sla_policies import PolicyData, create_policy

# Stored in English; policy_label() shows them in each reader's language.
PRESETS = {
    "72-hours": N_("Answer within 72 hours"),
    "business-hour": N_("1 working hour 08:00-19:00, else 24 hours"),
}
BUSINESS_HOURS_CALENDAR = "Business hours 08:00-19:00"


def install_preset(
    actor: Actor,
    key: str,
    timezone: str = "UTC",
    default: bool = True,
    conditions: dict | None = None,
) -> SlaPolicy:
    """Create the policy of preset *key* (and its calendar), the default policy unless told;
    *conditions* limit it (see ``services.sla_policies``)."""
    if key not in PRESETS:
        raise ValidationError(f"unknown preset {key!r}; choose from {', '.join(PRESETS)}")
    name = PRESETS[key]
    existing = session().scalar(select(SlaPolicy).where(SlaPolicy.name == name))
    if existing is not None:
        return existing
    if key == "72-hours":
        data = PolicyData(
            name=name,
            first_response_minutes=72 * 60,
            next_response_minutes=72 * 60,
            is_default=default,
            conditions=conditions or {},
        )
    else:
        calendar = session().scalar(
            select(BusinessCalendar).where(BusinessCalendar.name == BUSINESS_HOURS_CALENDAR)
        ) or create_calendar(
            actor, BUSINESS_HOURS_CALENDAR, timezone, {day: "08:00-19:00" for day in range(5)}
        )
        data = PolicyData(
            name=name,
            first_response_minutes=60,
            next_response_minutes=60,
            after_hours_first_response_minutes=24 * 60,
            calendar_id=calendar.id,
            warn_before_minutes=15,
            is_default=default,
            conditions=conditions or {},
        )
    return create_policy(actor, data)


def policy_label(name: str) -> str:
    """A policy's name as shown to people: a preset's in the current language, an admin's own
    as written."""
    return gettext(name) if name in PRESETS.values() else name
