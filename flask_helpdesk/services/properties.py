"""The workspace's properties panel: several of a ticket's fields changed with one Save.

Each change goes through its own service (transfer, assign, priority, status, tags), which
validates, audits and signals as it does alone; only what differs from the ticket is applied,
in the order the rules need: the department first (who may be assigned depends on it), the
status last (closing may depend on nothing else changing after it).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..models import Ticket
from . import desk, tickets
from .identity import Actor


@dataclass
class PropertyChanges:
    """What the panel sent: ``None`` leaves a field as it is."""

    department_id: int | None = None
    assignee_id: str | None = None  # "" = nobody
    priority: str | None = None
    status: str | None = None
    tags: str | None = None  # comma-separated: the ticket's whole set


def update_properties(actor: Actor, ticket: Ticket, changes: PropertyChanges) -> list[str]:
    """Apply *changes* that differ from *ticket*; the names of the fields changed, in order.

    A refused value raises the service's ``ValidationError``; what came before it is kept
    (each step is a complete change of its own, committed and audited).
    """
    done: list[str] = []
    if changes.department_id is not None and changes.department_id != ticket.department_id:
        desk.transfer(actor, ticket, changes.department_id)
        done.append("department")
    if changes.assignee_id is not None and changes.assignee_id != str(ticket.assignee_id or ""):
        desk.assign(actor, ticket, changes.assignee_id or None)
        done.append("assignee")
    if changes.priority is not None and changes.priority != str(int(ticket.priority)):
        desk.set_priority(actor, ticket, changes.priority)
        done.append("priority")
    if changes.tags is not None:
        names = desk.parse_tags(changes.tags)
        if sorted(names) != sorted(t.name for t in ticket.tags):
            desk.set_tags(actor, ticket, names)
            done.append("tags")
    if changes.status is not None and changes.status != ticket.status.value:
        tickets.change_status(actor, ticket, changes.status)
        done.append("status")
    return done
