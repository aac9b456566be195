"""What services tell the rules engine: "this happened to that ticket".

A service that changes a ticket calls :func:`record` before it commits; the engine
(:mod:`.rules`) runs the matching rules on everything recorded just before the transaction
commits (see :func:`.base.before_commit`), so the rules' changes are stored with the change that
caused them, or not at all. This module imports nothing of the engine: every service may call it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..models import Message, Ticket
from .base import RULE_EVENTS_KEY as EVENTS_KEY
from .base import session

EVENT_TRIGGERS = (
    "ticket_created",
    "customer_replied",
    "agent_replied",
    "status_changed",
    "priority_changed",
    "assignee_changed",
    "department_changed",
    "tags_changed",
    "sla_warned",
    "sla_breached",
)


@dataclass(frozen=True)
class ActiveRule:
    """What the engine needs of a switched-on rule: a plain copy, reused across requests while
    no rule changes (services/rules.py caches them per app)."""

    id: int
    name: str
    trigger: str
    conditions: dict[str, Any]
    steps: tuple[dict[str, Any], ...]
    preset: str | None = None
    # What its conditions read beyond the ticket's row (rule_conditions.needs), worked out once.
    needs: frozenset[str] = frozenset()


@dataclass
class Change:
    ticket: Ticket
    trigger: str
    changes: dict[str, Any] = field(default_factory=dict)  # "status" -> new value, ...
    message: Message | None = None


def record(ticket: Ticket, trigger: str, message: Message | None = None, **changes: Any) -> None:
    """Note that *trigger* happened to *ticket* (``changes``: the new values, for "changed to")."""
    assert trigger in EVENT_TRIGGERS, trigger
    session().info.setdefault(EVENTS_KEY, []).append(Change(ticket, trigger, changes, message))


def take_pending() -> list[Change]:
    return session().info.pop(EVENTS_KEY, None) or []


def forget_pending() -> None:
    session().info.pop(EVENTS_KEY, None)
