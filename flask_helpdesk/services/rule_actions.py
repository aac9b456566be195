"""What a rule does: a closed list of actions, each checked on save and run through the
services an agent's click would use (so audit, events, signals, SLA and status machine are the
same whether a person or a rule acts).

An action is ``{"type": ..., "value": ...}``. The engine (:mod:`.rules`) runs each in a
savepoint: one that fails (a status the machine refuses now, a canned reply deleted since)
leaves an event on the ticket and the rule's other actions still run.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ..i18n import gettext as _
from ..i18n import lazy_gettext as _l
from ..models import (
    Agent,
    CannedReply,
    Department,
    DistributionMode,
    Priority,
    Ticket,
    TicketStatus,
)
from . import audit, desk, distribution, messages, notifications, rule_guards, tickets
from .base import ValidationError, session
from .canned import fill_placeholders
from .identity import SYSTEM
from .rule_conditions import MAX_TEXT
from .rule_events import ActiveRule

ACTION_LABELS = {
    "set_status": _l("Set status"),
    "set_priority": _l("Set priority"),
    "set_department": _l("Move to department"),
    "assign": _l("Assign to agent"),
    "add_tags": _l("Add tags"),
    "remove_tags": _l("Remove tags"),
    "note": _l("Add internal note"),
    "reply": _l("Reply with canned reply"),
    "notify": _l("Notify agents"),
    "mark_spam": _l("Mark as spam"),
    "close": _l("Close"),
    "webhook": _l("Call webhooks"),
}
NO_VALUE = frozenset({"mark_spam", "close", "webhook"})
MAX_ACTIONS = 20
RULE_STATUSES = ("open", "processing", "answered", "closed", "spam")


class ActionError(ValueError):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def _id(value: Any, path: str) -> int:
    if isinstance(value, bool) or not str(value).isdigit():
        raise ActionError(path, _("Expected a number (an id)."))
    return int(value)


def _tags(value: Any, path: str) -> list[str]:
    names = value.split(",") if isinstance(value, str) else value
    if not isinstance(names, list):
        raise ActionError(path, _("Expected tag names."))
    clean = [str(n).strip().lower() for n in names if str(n).strip()]
    bad = [n for n in clean if not desk.TAG_PATTERN.match(n)]
    if not clean or bad or len(clean) > desk.MAX_TAGS:
        raise ActionError(path, _("Not a valid tag: %(tag)s", tag=", ".join(bad) or "—"))
    return clean


def validate_actions(steps: Any) -> list[dict[str, Any]]:
    """Check a rule's action list; returns it normalized. Raises :class:`ActionError`."""
    if not isinstance(steps, list) or not steps:
        raise ActionError("actions", _("A rule needs at least one action."))
    if len(steps) > MAX_ACTIONS:
        raise ActionError("actions", _("Too many actions (at most %(n)d).", n=MAX_ACTIONS))
    return [_validate_step(step, f"actions[{i}]") for i, step in enumerate(steps)]


def _validate_step(step: Any, path: str) -> dict[str, Any]:
    if not isinstance(step, dict) or step.get("type") not in ACTION_LABELS:
        raise ActionError(path, _("Unknown action."))
    kind = step["type"]
    if set(step) - {"type", "value"}:
        raise ActionError(path, _("An action has a type and a value, nothing else."))
    if kind in NO_VALUE:
        return {"type": kind}
    value = step.get("value")
    where = f"{path}.value"
    if kind == "set_status":
        if value not in RULE_STATUSES:
            raise ActionError(where, _("Not a valid status."))
    elif kind == "set_priority":
        try:
            value = Priority[str(value).upper()].slug
        except KeyError:
            raise ActionError(where, _("Unknown priority.")) from None
    elif kind in ("set_department", "reply"):
        value = _id(value, where)
        model = Department if kind == "set_department" else CannedReply
        found = session().get(model, value)
        if found is None or (kind == "reply" and found.department_id is None):
            raise ActionError(where, _("No such department or shared canned reply."))
    elif kind == "assign":
        if value not in ("none", "distribute"):
            value = _id(value, where)
            if session().get(Agent, value) is None:
                raise ActionError(where, _("No such agent."))
    elif kind in ("add_tags", "remove_tags"):
        value = _tags(value, where)
    elif kind == "note":
        if not isinstance(value, str) or not value.strip() or len(value) > 5000:
            raise ActionError(where, _("Write the note (up to 5000 characters)."))
        value = value.strip()
    elif kind == "notify":
        if not isinstance(value, dict):
            raise ActionError(where, _("Name the agents or a department to notify."))
        agents = [_id(a, where) for a in value.get("agents") or []]
        department = value.get("department")
        department = _id(department, where) if department not in (None, "") else None
        text = str(value.get("text") or "").strip()[:MAX_TEXT]
        if not agents and department is None:
            raise ActionError(where, _("Name the agents or a department to notify."))
        value = {"agents": agents, "department": department, "text": text}
    return {"type": kind, "value": value}


# -- running ----------------------------------------------------------------------------------


def perform(rule: ActiveRule, ticket: Ticket, step: dict[str, Any]) -> None:
    """Run one (validated) action on *ticket* as the system. Raises ServiceError when the
    ticket cannot take it now; the engine records that and goes on."""
    kind, value = step["type"], step.get("value")
    if kind == "set_status":
        if value == "closed":
            _close(rule, ticket)
        else:
            tickets.change_status(SYSTEM, ticket, TicketStatus(value))
    elif kind == "mark_spam":
        tickets.change_status(SYSTEM, ticket, TicketStatus.SPAM)  # the desk's "mark spam"
    elif kind == "close":
        _close(rule, ticket)
    elif kind == "set_priority":
        desk.set_priority(SYSTEM, ticket, value)
    elif kind == "set_department":
        desk.transfer(SYSTEM, ticket, value)
    elif kind == "assign":
        if value == "distribute":
            _distribute(ticket)
        else:
            desk.assign(SYSTEM, ticket, None if value == "none" else value)
    elif kind == "add_tags":
        desk.add_tags(SYSTEM, ticket, value)
    elif kind == "remove_tags":
        names = set(value)
        desk.set_tags(SYSTEM, ticket, [t.name for t in ticket.tags if t.name not in names])
    elif kind == "note":
        text = fill_placeholders(value, ticket, SYSTEM, agent_name=rule.name)
        messages.post_message(SYSTEM, ticket, text, internal=True, data={"rule_id": rule.id})
    elif kind == "reply":
        _reply(rule, ticket, value)
    elif kind == "notify":
        _notify(rule, ticket, value)
    elif kind == "webhook":
        audit.record(SYSTEM, "rule.webhook", ticket, rule_id=rule.id, rule=rule.name)


def _distribute(ticket: Ticket) -> None:
    """Hand the ticket out by its department's distribution (round robin where the department
    has none switched on). Nobody available is no failure: the ticket waits for an agent."""
    mode = ticket.department.distribution
    distribution.distribute_ticket(
        ticket, mode=DistributionMode.ROUND_ROBIN if mode == DistributionMode.OFF else mode
    )


def _notify(rule: ActiveRule, ticket: Ticket, value: dict[str, Any]) -> None:
    """Mail the named agents and the department's, each within the automatic-mail caps (a rule
    that fires on every reply must not flood a colleague's inbox either)."""
    wanted = Agent.id.in_(value["agents"] or [-1])
    if value["department"] is not None:
        wanted = wanted | Agent.departments.any(Department.id == value["department"])
    agents = session().scalars(
        select(Agent).where(wanted, Agent.is_active.is_(True)).order_by(Agent.id)
    )
    allowed = []
    for agent in agents:
        if not agent.email:
            continue
        reason = rule_guards.cap_reached(ticket, agent.email)
        if reason is not None:
            tickets.add_event(ticket, SYSTEM, "rule_mail_held", rule_name=rule.name, reason=reason)
            continue
        rule_guards.count_mail(ticket, rule.id, agent.email)
        allowed.append(agent.id)
    if allowed:
        notifications.rule_notice(ticket, rule.name, allowed, None, value["text"])


def _held_back(rule: ActiveRule, ticket: Ticket) -> bool:
    """Ask the mail loop guards; a refusal is an event on the ticket saying why."""
    reason = rule_guards.refusal(ticket)
    if reason is None:
        return False
    tickets.add_event(ticket, SYSTEM, "rule_mail_held", rule_name=rule.name, reason=reason)
    return True


def _close(rule: ActiveRule, ticket: Ticket) -> None:
    if ticket.status == TicketStatus.CLOSED:
        return
    notify = not _held_back(rule, ticket)
    reason = "auto_close" if rule.preset == "auto_close" else "rule"
    tickets.close_ticket(SYSTEM, ticket, reason=reason, notify_customer=notify)
    if notify:
        rule_guards.count_mail(ticket, rule.id)


def _reply(rule: ActiveRule, ticket: Ticket, reply_id: int) -> None:
    reply = session().get(CannedReply, reply_id)
    if reply is None:
        raise ValidationError(_("The canned reply of this rule no longer exists."))
    if _held_back(rule, ticket):
        return
    body = fill_placeholders(reply.body, ticket, SYSTEM, agent_name=ticket.department.name)
    messages.post_message(SYSTEM, ticket, body, data={"automatic": True, "rule_id": rule.id})
    rule_guards.count_mail(ticket, rule.id)
