"""What agents do to a ticket in the desk besides writing: assign, transfer, priority, tags,
merge. Each validates what a form sent (a forged id or value is refused here, not only by the
form's choices), checks permission, writes, audits, fires its signal and commits."""

from __future__ import annotations

import re

from sqlalchemy import exists, select, update

from .. import signals
from ..i18n import gettext as _
from ..inputs import parse_id
from ..models import (
    Agent,
    AgentRole,
    Attachment,
    Department,
    Message,
    Tag,
    Ticket,
    TicketStatus,
    agent_department,
)
from ..workflow import Trigger, can
from . import audit, distribution, rule_events, sla
from .base import Forbidden, NotFound, ValidationError, commit, send_signal, session
from .identity import Actor
from .permissions import ensure
from .tickets import _coerce_priority, add_event, find_ticket
from .transitions import transition

MAX_TAGS = 20
TAG_PATTERN = re.compile(r"^[\w][\w .:/+-]{0,63}$", re.UNICODE)


def _agent_only(actor: Actor) -> None:
    if not (actor.is_agent or actor.is_system):
        raise Forbidden(_("Only support staff can do this."))


def assignable_agents(department_id: int) -> list[Agent]:
    """Active agents who may own a ticket of *department_id*: its members and all admins."""
    member = exists().where(
        agent_department.c.agent_id == Agent.id,
        agent_department.c.department_id == department_id,
    )
    return list(
        session().scalars(
            select(Agent)
            .where(Agent.is_active.is_(True), (Agent.role == AgentRole.ADMIN) | member)
            .order_by(Agent.name, Agent.id)
        )
    )


def assign(actor: Actor, ticket: Ticket, agent_id: int | str | None) -> Ticket:
    """Give *ticket* to an agent of its department (or an admin); ``None`` or ``""`` unassigns.

    A form's raw value is accepted: anything that is not the id of an assignable agent is
    refused, never read as "unassigned"."""
    ensure(actor, "assign", ticket)
    _agent_only(actor)
    agent = None
    if agent_id not in (None, ""):
        wanted = parse_id(agent_id)
        agent = next((a for a in assignable_agents(ticket.department_id) if a.id == wanted), None)
        if agent is None:
            raise ValidationError(
                _("This agent cannot take tickets of this department."),
                {"assignee_id": [_("Not an agent of this department.")]},
            )
    if ticket.assignee_id == (agent.id if agent else None):
        return ticket
    old = ticket.assignee
    if agent is None and ticket.status in distribution.ACTIVE_STATUSES:
        # Waiting now: a rule may distribute it; the department's row before the change takes
        # a count slot (the lock order of distribution.lock_department_first).
        with session().no_autoflush:
            distribution.lock_department_first(ticket.department)
    ticket.assignee = agent
    add_event(ticket, actor, "assigned", assignee_name=agent.display_name if agent else None)
    audit.record(
        actor,
        "ticket.assigned",
        ticket,
        old=old.id if old else None,
        new=agent.id if agent else None,
    )
    rule_events.record(ticket, "assignee_changed", assignee=agent.id if agent else None)
    if old is not None and ticket.status in distribution.ACTIVE_STATUSES:
        distribution.offer_later(old.id)  # a place freed up in their capacity
    commit()
    send_signal(signals.ticket_assigned, ticket=ticket, actor=actor, assignee=agent, previous=old)
    return ticket


def transfer(actor: Actor, ticket: Ticket, department_id: int) -> Ticket:
    """Move *ticket* to another active department. An assignee who does not work there (and is
    no admin) is removed, so the ticket lands in the new department's unassigned queue."""
    ensure(actor, "transfer", ticket)
    _agent_only(actor)
    department = session().get(Department, department_id) if department_id else None
    if department is None or not department.is_active:
        raise ValidationError(
            _("Please choose a department."), {"department_id": [_("Unknown department.")]}
        )
    if department.id == ticket.department_id:
        return ticket
    old = ticket.department
    # The new department's row before the move touches a ticket count slot (lock order).
    distribution.lock_department_first(department)
    ticket.department = department
    if ticket.assignee is not None and ticket.assignee not in assignable_agents(department.id):
        distribution.offer_later(ticket.assignee_id)
        ticket.assignee = None
    sla.recompute(ticket)  # another department may mean another policy
    add_event(ticket, actor, "transferred", department_name=department.name)
    audit.record(actor, "ticket.transferred", ticket, old=old.id, new=department.id)
    rule_events.record(ticket, "department_changed", department=department.id)
    distribution.distribute_ticket(ticket)  # lands unassigned in a distributing department
    commit()
    send_signal(signals.ticket_updated, ticket=ticket, actor=actor, changes={"department": old.id})
    return ticket


def set_priority(actor: Actor, ticket: Ticket, priority: int | str) -> Ticket:
    ensure(actor, "change_priority", ticket)
    _agent_only(actor)
    new = _coerce_priority(priority)
    if new == ticket.priority:
        return ticket
    old = ticket.priority
    ticket.priority = new
    sla.recompute(ticket)
    audit.record(actor, "ticket.priority_changed", ticket, old=old, new=new)
    rule_events.record(ticket, "priority_changed", priority=new.slug)
    commit()
    send_signal(signals.ticket_updated, ticket=ticket, actor=actor, changes={"priority": old})
    return ticket


def parse_tags(text: str) -> list[str]:
    """Comma-separated names, trimmed, lower-cased, de-duplicated in order."""
    names = [part.strip().lower() for part in (text or "").split(",")]
    return list(dict.fromkeys(n for n in names if n))


def set_tags(actor: Actor, ticket: Ticket, names: list[str]) -> Ticket:
    """Replace the ticket's tags by *names*, creating tags that do not exist yet."""
    ensure(actor, "tag", ticket)
    _agent_only(actor)
    names = list(dict.fromkeys(n.strip().lower() for n in names if n.strip()))
    bad = [n for n in names if not TAG_PATTERN.match(n)]
    if bad or len(names) > MAX_TAGS:
        raise ValidationError(
            _("Tags are short words separated by commas."),
            {"tags": [_("Not a valid tag: %(tag)s", tag=", ".join(bad) or names[-1])]},
        )
    existing = {t.name: t for t in session().scalars(select(Tag).where(Tag.name.in_(names)))}
    tags = [existing.get(n) or Tag(name=n) for n in names]
    old = sorted(t.name for t in ticket.tags)
    if old == sorted(names):
        return ticket
    ticket.tags = tags
    audit.record(actor, "ticket.tagged", ticket, old=old, new=sorted(names))
    rule_events.record(ticket, "tags_changed", tags=set(names) - set(old))
    commit()
    send_signal(signals.ticket_updated, ticket=ticket, actor=actor, changes={"tags": old})
    return ticket


def add_tags(actor: Actor, ticket: Ticket, names: list[str]) -> Ticket:
    """Add *names* to the ticket's tags (the ones it has stay)."""
    return set_tags(actor, ticket, [t.name for t in ticket.tags] + list(names))


def remove_tag(actor: Actor, ticket: Ticket, name: str) -> Ticket:
    """Take tag *name* off the ticket (nothing happens if it does not carry it)."""
    name = (name or "").strip().lower()
    return set_tags(actor, ticket, [t.name for t in ticket.tags if t.name != name])


def merge(actor: Actor, duplicate: Ticket, target_code: str) -> Ticket:
    """Merge *duplicate* into the ticket with *target_code*: its messages and files move over,
    tags are united, and the duplicate closes with a link to the target (both threads say so).
    Returns the target."""
    ensure(actor, "merge", duplicate)
    _agent_only(actor)
    try:
        target = find_ticket(actor, target_code)
    except NotFound:
        # A mistyped code is a form error, not a 404 page (and says nothing about other
        # departments' tickets: unseen and missing read the same).
        problem = _("No ticket %(code)s that you can see.", code=(target_code or "").strip())
        raise ValidationError(problem, {"target_code": [problem]}) from None
    ensure(actor, "merge", target)
    problem = None
    if target.id == duplicate.id:
        problem = _("A ticket cannot be merged into itself.")
    elif duplicate.merged_into_id is not None:
        problem = _("This ticket was merged already.")
    elif target.merged_into_id is not None or target.status == TicketStatus.SPAM:
        problem = _("The ticket %(code)s cannot receive a merge.", code=target.code)
    elif duplicate.status == TicketStatus.SPAM:
        problem = _("Spam cannot be merged.")
    elif target.requester_id != duplicate.requester_id and not actor.is_admin:
        problem = _("Only an admin can merge tickets of different customers.")
    if problem:
        raise ValidationError(problem, {"target_code": [problem]})

    session().execute(
        update(Message).where(Message.ticket_id == duplicate.id).values(ticket_id=target.id)
    )
    session().execute(
        update(Attachment).where(Attachment.ticket_id == duplicate.id).values(ticket_id=target.id)
    )
    for tag in duplicate.tags:
        if tag not in target.tags:
            target.tags.append(tag)
    _absorb_timestamps(target, duplicate)
    old_status = duplicate.status
    duplicate.merged_into_id = target.id
    if can(duplicate.status, Trigger.CLOSE):
        transition(actor, duplicate, Trigger.CLOSE)  # ticket-closed too, after the commit
    add_event(duplicate, actor, "merged", into_code=target.code)
    add_event(target, actor, "merged_from", from_code=duplicate.code)
    audit.record(actor, "ticket.merged", duplicate, into=target.code, old_status=old_status)
    audit.record(actor, "ticket.merged_from", target, source=duplicate.code)
    commit()
    session().expire(target)
    session().expire(duplicate)
    send_signal(signals.ticket_merged, ticket=duplicate, actor=actor, into=target)
    return target


def _absorb_timestamps(target: Ticket, duplicate: Ticket) -> None:
    """The target's reply markers cover the moved messages too (unread stays correct)."""
    for name in ("last_customer_reply_at", "last_agent_reply_at", "updated_at"):
        theirs = getattr(duplicate, name)
        if theirs is not None and (getattr(target, name) is None or theirs > getattr(target, name)):
            setattr(target, name, theirs)
    if duplicate.created_at < target.created_at and duplicate.first_response_at:
        target.first_response_at = min(
            filter(None, [target.first_response_at, duplicate.first_response_at])
        )
