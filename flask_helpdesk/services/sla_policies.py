"""SLA policies: which targets a ticket gets, chosen by conditions in admin order.

Conditions are a closed schema, validated when saved; unknown keys are refused rather than
silently ignored (a misspelled condition would otherwise match every ticket)::

    {"department_ids": [1, 2], "priorities": ["high", "urgent"], "channels": ["email"],
     "customer": {"plan": "gold"}}

Every given key must hold (a list: any of its values); an empty dict matches every ticket.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import selectinload

from ..businesstime import WorkCalendar
from ..i18n import gettext as _
from ..inputs import is_printable_name
from ..models import (
    BusinessCalendar,
    CalendarWindow,
    Channel,
    Department,
    Holiday,
    Priority,
    SlaPolicy,
    Ticket,
    utcnow,
)
from . import audit
from .base import (
    NotFound,
    ValidationError,
    cached_for_app,
    commit,
    forget_on_change,
    session,
)
from .calendars import get_calendar, schedule_recompute, work_calendar
from .identity import Actor
from .permissions import ensure

MAX_TARGET_MINUTES = 366 * 24 * 60  # a year of working minutes is far beyond any promise
CONDITION_KEYS = frozenset({"department_ids", "priorities", "channels", "customer"})


@dataclass
class PolicyData:
    name: str
    first_response_minutes: int | None = None
    next_response_minutes: int | None = None
    resolution_minutes: int | None = None
    after_hours_first_response_minutes: int | None = None
    calendar_id: int | None = None
    conditions: dict[str, Any] = field(default_factory=dict)
    warn_before_minutes: int = 30
    notify_outside_hours: bool = False
    is_default: bool = False
    is_active: bool = True


def _invalid(field_name: str, message: str) -> ValidationError:
    return ValidationError(message, {field_name: [message]})


def clean_conditions(conditions: dict[str, Any] | None) -> dict[str, Any]:
    """The conditions in canonical form (priority names, channel values), or ValidationError."""
    conditions = dict(conditions or {})
    unknown = set(conditions) - CONDITION_KEYS
    if unknown:
        raise _invalid("conditions", _("Unknown condition: %(name)s", name=sorted(unknown)[0]))
    clean: dict[str, Any] = {}
    try:
        if conditions.get("department_ids"):
            wanted = {int(v) for v in conditions["department_ids"]}
            if any(not 0 < v < 2**63 for v in wanted):
                raise ValueError
            found = set(session().scalars(select(Department.id).where(Department.id.in_(wanted))))
            if found != wanted:
                raise ValueError
            clean["department_ids"] = sorted(wanted)
        if conditions.get("priorities"):
            clean["priorities"] = sorted(
                {Priority[str(v).upper()].name.lower() for v in conditions["priorities"]}
            )
        if conditions.get("channels"):
            clean["channels"] = sorted({Channel(str(v)).value for v in conditions["channels"]})
        if conditions.get("customer"):
            customer = conditions["customer"]
            if not isinstance(customer, dict) or not all(
                isinstance(k, str) and isinstance(v, str | int | bool) for k, v in customer.items()
            ):
                raise TypeError
            clean["customer"] = dict(sorted(customer.items()))
    except (KeyError, ValueError, TypeError, OverflowError):
        raise _invalid("conditions", _("These conditions are not valid.")) from None
    return clean


def matches(policy: SlaPolicy | ActivePolicy, ticket: Ticket) -> bool:
    """Whether every condition of *policy* holds for *ticket*."""
    conditions = policy.conditions or {}
    if "department_ids" in conditions and ticket.department_id not in conditions["department_ids"]:
        return False
    if (
        "priorities" in conditions
        and Priority(ticket.priority).name.lower() not in conditions["priorities"]
    ):
        return False
    if "channels" in conditions and Channel(ticket.channel).value not in conditions["channels"]:
        return False
    if "customer" in conditions:
        attributes = (ticket.requester.attributes if ticket.requester else None) or {}
        if any(attributes.get(k) != v for k, v in conditions["customer"].items()):
            return False
    return True


def ordered_policies(active_only: bool = True, with_calendars: bool = False) -> list[SlaPolicy]:
    """Policies in the order they are tried, the default last (only the active ones, unless
    *active_only* is false: the admin page lists the switched-off ones in their place too)."""
    query = select(SlaPolicy).order_by(SlaPolicy.is_default, SlaPolicy.position, SlaPolicy.id)
    if active_only:
        query = query.where(SlaPolicy.is_active)
    if with_calendars:
        query = query.options(selectinload(SlaPolicy.calendar))
    return list(session().scalars(query))


def policy_for(ticket: Ticket, policies: list[Any] | None = None) -> Any:
    """The first matching policy in admin order, else the default, else None (no SLA).

    *policies*: :func:`ordered_policies` (read now) unless given, such as the process's
    :func:`active_policies`; the result is one of them."""
    for policy in ordered_policies() if policies is None else policies:
        if policy.is_default or matches(policy, ticket):
            return policy
    return None


@dataclass(frozen=True)
class ActivePolicy:
    """What choosing a new ticket's policy and its targets reads of an active policy, kept per
    process (:func:`active_policies`). Its fields have the names of :class:`SlaPolicy`'s."""

    id: int
    is_default: bool
    conditions: dict[str, Any]
    calendar_id: int | None
    first_response_minutes: int | None
    next_response_minutes: int | None
    resolution_minutes: int | None
    after_hours_first_response_minutes: int | None
    warn_before_minutes: int
    work: WorkCalendar  # its calendar's arithmetic (round the clock without one)


# The active policies and their calendars, read by every ticket created: copied once per
# process and forgotten at once when this process flushes a change to a policy or a calendar
# (other processes: within a second with Redis, else within the TTL). Saves a query for the
# policies and one for the chosen policy's calendar per ticket (issue 17).
ACTIVE_POLICIES_KEY = ("helpdesk-active-sla-policies",)
ACTIVE_POLICIES_TTL = 5.0


def active_policies() -> list[ActivePolicy]:
    """The active policies in the order they are tried, as this process last read them."""

    def load() -> list[ActivePolicy]:
        return [
            ActivePolicy(
                **{name: getattr(policy, name) for name in _COPIED},
                conditions=dict(policy.conditions or {}),
                work=work_calendar(policy.calendar),
            )
            for policy in ordered_policies(with_calendars=True)
        ]

    return cached_for_app(ACTIVE_POLICIES_KEY, ACTIVE_POLICIES_TTL, load)


_COPIED = tuple(f.name for f in fields(ActivePolicy) if f.name not in ("conditions", "work"))
_POLICY_ROWS = (SlaPolicy, BusinessCalendar, CalendarWindow, Holiday)


# Whoever changes a policy or a calendar (the admin pages, a holiday import, a test), the next
# ticket this process opens is timed by the change.
forget_on_change(ACTIVE_POLICIES_KEY, *_POLICY_ROWS)


def _minutes(name: str, value: int | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        minutes = int(value)
    except (TypeError, ValueError, OverflowError):
        raise _invalid(name, _("Enter a number of minutes.")) from None
    if not 1 <= minutes <= MAX_TARGET_MINUTES:
        raise _invalid(name, _("Enter between 1 minute and one year."))
    return minutes


def _apply(policy: SlaPolicy, data: PolicyData) -> None:
    name = " ".join((data.name or "").split())
    if not name or len(name) > 120 or not is_printable_name(name):
        raise _invalid("name", _("Please enter a name."))
    taken = session().scalar(
        select(SlaPolicy.id).where(SlaPolicy.name == name, SlaPolicy.id != policy.id)
    )
    if taken:
        raise _invalid("name", _("That name is taken."))
    calendar: BusinessCalendar | None = None
    if data.calendar_id not in (None, ""):
        calendar = get_calendar(data.calendar_id)  # type: ignore[arg-type]
    policy.name = name
    policy.calendar_id = calendar.id if calendar else None
    policy.calendar = calendar
    policy.conditions = clean_conditions(data.conditions)
    for target in (
        "first_response_minutes",
        "next_response_minutes",
        "resolution_minutes",
        "after_hours_first_response_minutes",
    ):
        setattr(policy, target, _minutes(target, getattr(data, target)))
    warn = _minutes("warn_before_minutes", data.warn_before_minutes or None)
    policy.warn_before_minutes = warn or 0
    policy.notify_outside_hours = bool(data.notify_outside_hours)
    policy.is_active = bool(data.is_active)
    if data.is_default and not policy.is_default:
        # One default: the previous one steps down in the same transaction.
        for other in session().scalars(select(SlaPolicy).where(SlaPolicy.is_default)):
            other.is_default = False
        session().flush()
    policy.is_default = bool(data.is_default)
    policy.updated_at = utcnow()


def create_policy(actor: Actor, data: PolicyData) -> SlaPolicy:
    """A new policy, tried after the existing ones."""
    ensure(actor, "manage")
    policy = SlaPolicy()
    policy.position = (session().scalar(select(func.max(SlaPolicy.position))) or 0) + 1
    _apply(policy, data)
    session().add(policy)
    session().flush()
    audit.record(actor, "sla_policy.created", policy_id=policy.id, name=policy.name)
    schedule_recompute()
    commit()
    return policy


def get_policy(policy_id: int | str) -> SlaPolicy:
    try:
        policy = session().get(SlaPolicy, int(policy_id))
    except (TypeError, ValueError, OverflowError):
        policy = None
    if policy is None:
        raise NotFound(_("Policy not found."))
    return policy


def update_policy(actor: Actor, policy_id: int | str, data: PolicyData) -> SlaPolicy:
    ensure(actor, "manage")
    policy = get_policy(policy_id)
    _apply(policy, data)
    audit.record(actor, "sla_policy.updated", policy_id=policy.id, name=policy.name)
    schedule_recompute()
    commit()
    return policy


def delete_policy(actor: Actor, policy_id: int | str) -> None:
    ensure(actor, "manage")
    policy = get_policy(policy_id)
    audit.record(actor, "sla_policy.deleted", policy_id=policy.id, name=policy.name)
    # Tickets keep no foreign key to their policy (see models.ticket): let go of it here.
    session().execute(
        update(Ticket).where(Ticket.sla_policy_id == policy.id).values(sla_policy_id=None)
    )
    session().delete(policy)
    schedule_recompute()
    commit()


def reorder_policies(actor: Actor, policy_ids: list[int]) -> None:
    """Set the order in which policies are tried (ids first to last; others keep theirs after)."""
    ensure(actor, "manage")
    policies = {p.id: p for p in session().scalars(select(SlaPolicy))}
    ordered = [policies[i] for i in dict.fromkeys(policy_ids) if i in policies]
    rest = sorted((p for p in policies.values() if p not in ordered), key=lambda p: p.position)
    for position, policy in enumerate([*ordered, *rest], start=1):
        policy.position = position
    audit.record(actor, "sla_policy.reordered", order=[p.id for p in ordered])
    schedule_recompute()
    commit()


def move_policy(actor: Actor, policy_id: int | str, offset: int) -> None:
    """Try *policy_id* one place earlier (-1) or later (+1); the default stays last."""
    ensure(actor, "manage")
    policy = get_policy(policy_id)
    order = [p.id for p in ordered_policies(active_only=False) if not p.is_default]
    if policy.id not in order:
        return
    at = order.index(policy.id)
    to = max(0, min(len(order) - 1, at + offset))
    order.insert(to, order.pop(at))
    reorder_policies(actor, order)
