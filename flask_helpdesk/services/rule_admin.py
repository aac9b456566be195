"""Managing automation rules (admins only): create, edit, order, switch on/off, delete, and
"which open tickets would this rule match now?"; plus the auto-close preset (issue 13 §4)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from ..i18n import N_
from ..i18n import gettext as _
from ..i18n import lazy_gettext as _l
from ..inputs import parse_id
from ..models import (
    Agent,
    CannedReply,
    Channel,
    Department,
    Priority,
    Rule,
    Ticket,
    TicketStatus,
    utcnow,
)
from . import audit, rules
from .base import NotFound, ValidationError, commit, session
from .identity import Actor
from .permissions import ensure
from .rule_actions import ACTION_LABELS, RULE_STATUSES, ActionError, validate_actions
from .rule_conditions import FIELDS, OPERATORS, ConditionError, to_sql, validate
from .rule_events import EVENT_TRIGGERS
from .rule_sweep import MAX_AMOUNT, TIME_TRIGGERS, UNITS

TRIGGER_LABELS = {
    "ticket_created": _l("A ticket is created"),
    "customer_replied": _l("The customer replies"),
    "agent_replied": _l("Support replies"),
    "status_changed": _l("The status changes"),
    "priority_changed": _l("The priority changes"),
    "assignee_changed": _l("The assignee changes"),
    "department_changed": _l("The department changes"),
    "tags_changed": _l("Tags are added"),
    "sla_warned": _l("An SLA target is near"),
    "sla_breached": _l("An SLA target is missed"),
    **TIME_TRIGGERS,
}
AUTO_CLOSE = "auto_close"
AUTO_CLOSE_CONDITIONS = {"field": "status", "op": "is", "value": "answered"}
TEST_PAGE_SIZE = 25


@dataclass
class RuleData:
    """What the rule form sends. *conditions* and *actions* may be JSON text or parsed."""

    name: str
    trigger: str
    conditions: Any = field(default_factory=dict)
    actions: Any = field(default_factory=list)
    after: int | str | None = None
    unit: str | None = None
    description: str = ""
    is_active: bool = False


def _parsed(value: Any, key: str, empty: Any) -> Any:
    if not isinstance(value, str):
        return value
    if not value.strip():
        return empty
    try:
        return json.loads(value)
    except ValueError as error:
        raise ValidationError(
            _("Please correct the errors below."),
            {key: [_("Not valid JSON: %(error)s", error=str(error))]},
        ) from None


def _clean(data: RuleData) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    name = " ".join((data.name or "").split())
    if not name or len(name) > 120:
        errors["name"] = [_("Give the rule a name (up to 120 characters).")]
    trigger = data.trigger
    is_time = trigger in TIME_TRIGGERS
    if trigger not in EVENT_TRIGGERS and not is_time:
        errors["trigger"] = [_("Choose what starts the rule.")]
    schedule: dict[str, Any] = {}
    if is_time:
        after = parse_id(data.after)
        if after is None or not 1 <= after <= MAX_AMOUNT:
            errors["after"] = [_("Enter a number from 1 to %(n)d.", n=MAX_AMOUNT)]
        if data.unit not in UNITS:
            errors["unit"] = [_("Choose a unit.")]
        schedule = {"after": after, "unit": data.unit}
    conditions = actions = None
    try:
        conditions = validate(_parsed(data.conditions, "conditions", {}), for_sql=is_time)
    except ConditionError as error:
        errors["conditions"] = [f"{error.path}: {error.message}"]
    except ValidationError as error:
        errors.update(error.field_errors)
    try:
        actions = validate_actions(_parsed(data.actions, "actions", []))
    except ActionError as error:
        errors["actions"] = [f"{error.path}: {error.message}"]
    except ValidationError as error:
        errors.update(error.field_errors)
    if errors:
        raise ValidationError(_("Please correct the errors below."), errors)
    return {
        "name": name,
        "description": (data.description or "").strip()[:2000],
        "trigger": trigger,
        "schedule": schedule,
        "conditions": conditions,
        "actions": {"steps": actions},
        "is_active": bool(data.is_active),
    }


def list_rules(actor: Actor) -> list[Rule]:
    ensure(actor, "manage")
    return list(session().scalars(select(Rule).order_by(Rule.position, Rule.id)))


def get_rule(actor: Actor, rule_id: int | str) -> Rule:
    ensure(actor, "manage")
    wanted = parse_id(rule_id)
    rule = session().get(Rule, wanted) if wanted is not None else None
    if rule is None:
        raise NotFound(_("No such rule."))
    return rule


def create_rule(actor: Actor, data: RuleData) -> Rule:
    ensure(actor, "manage")
    values = _clean(data)
    last = session().scalar(select(func.max(Rule.position))) or 0
    rule = Rule(**values, position=last + 1, created_at=utcnow(), updated_at=utcnow())
    session().add(rule)
    session().flush()
    audit.record(actor, "rule.created", rule_id=rule.id, name=rule.name, trigger=rule.trigger)
    commit()
    rules.forget_rules()
    return rule


def update_rule(actor: Actor, rule_id: int | str, data: RuleData) -> Rule:
    rule = get_rule(actor, rule_id)
    values = _clean(data)
    for key, value in values.items():
        setattr(rule, key, value)
    rule.updated_at = utcnow()
    audit.record(actor, "rule.updated", rule_id=rule.id, name=rule.name, active=rule.is_active)
    commit()
    rules.forget_rules()
    return rule


def set_active(actor: Actor, rule_id: int | str, active: bool) -> Rule:
    rule = get_rule(actor, rule_id)
    rule.is_active = bool(active)
    rule.updated_at = utcnow()
    audit.record(actor, "rule.switched", rule_id=rule.id, name=rule.name, active=rule.is_active)
    commit()
    rules.forget_rules()
    return rule


def move(actor: Actor, rule_id: int | str, offset: int) -> Rule:
    """Move a rule up (-1) or down (+1) in the order rules run; positions are renumbered."""
    rule = get_rule(actor, rule_id)
    ordered = list_rules(actor)
    index = ordered.index(rule)
    target = max(0, min(len(ordered) - 1, index + offset))
    ordered.insert(target, ordered.pop(index))
    now = utcnow()
    for position, each in enumerate(ordered, start=1):
        each.position = position
        each.updated_at = now
    audit.record(actor, "rule.moved", rule_id=rule.id, name=rule.name, position=target + 1)
    commit()
    rules.forget_rules()
    return rule


def delete_rule(actor: Actor, rule_id: int | str) -> None:
    rule = get_rule(actor, rule_id)
    audit.record(actor, "rule.deleted", rule_id=rule.id, name=rule.name)
    session().delete(rule)
    commit()
    rules.forget_rules()


@dataclass
class MatchPage:
    items: list[Ticket]
    page: int
    has_next: bool
    partial: bool  # "changed to" conditions were left out: they hold only at a change


def would_match(actor: Actor, rule: Rule, page: int = 1) -> MatchPage:
    """The open tickets *rule*'s conditions hold for now (through the SQL compilation; time
    rules' own "N hours since" is not applied: this answers "which tickets fit")."""
    ensure(actor, "manage")
    page = max(1, page)
    conditions, partial = _without_changes(rule.conditions)
    query = (
        select(Ticket)
        .where(
            Ticket.status.not_in([TicketStatus.CLOSED, TicketStatus.SPAM]),
            Ticket.merged_into_id.is_(None),
            to_sql(conditions, utcnow()),
        )
        .order_by(Ticket.updated_at.desc(), Ticket.id.desc())
        .limit(TEST_PAGE_SIZE + 1)
        .offset((page - 1) * TEST_PAGE_SIZE)
    )
    rows = list(session().scalars(query))
    return MatchPage(rows[:TEST_PAGE_SIZE], page, len(rows) > TEST_PAGE_SIZE, partial)


def _without_changes(tree: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """*tree* with its "changed to" tests dropped (they mean nothing outside a change)."""
    if not tree:
        return {}, False
    for key in ("all", "any"):
        if key in tree:
            kept, partial = [], False
            for item in tree[key]:
                clean, dropped = _without_changes(item)
                partial = partial or dropped
                if clean:
                    kept.append(clean)
            return ({key: kept} if kept else {}), partial
    if "not" in tree:
        clean, dropped = _without_changes(tree["not"])
        return ({"not": clean} if clean else {}), dropped
    if tree.get("op") == "changed_to":
        return {}, True
    return tree, False


# -- the auto-close preset --------------------------------------------------------------------


def auto_close_rule() -> Rule | None:
    return session().scalar(select(Rule).where(Rule.preset == AUTO_CLOSE))


def configure_auto_close(actor: Actor, after: int | str, working_days: bool, active: bool) -> Rule:
    """Switch the auto-close preset on or off: tickets answered and not replied to for *after*
    days (or working days) close, with a mail telling the customer how to reopen."""
    ensure(actor, "manage")
    days = parse_id(after)
    if days is None or not 1 <= days <= 365:
        problem = _("Enter a number of days from 1 to 365.")
        raise ValidationError(problem, {"after": [problem]})
    rule = auto_close_rule()
    if rule is None:
        last = session().scalar(select(func.max(Rule.position))) or 0
        rule = Rule(
            # Stored in English (N_): Rule.display_name shows it in each reader's language.
            name=N_("Auto-close answered tickets"),
            description=N_("Closes a ticket the customer has not answered, with a mail."),
            trigger="time_since_agent",
            conditions=AUTO_CLOSE_CONDITIONS,
            actions={"steps": [{"type": "close"}]},
            preset=AUTO_CLOSE,
            position=last + 1,
            created_at=utcnow(),
        )
        session().add(rule)
    rule.schedule = {"after": days, "unit": "working_days" if working_days else "days"}
    rule.is_active = bool(active)
    rule.updated_at = utcnow()
    session().flush()
    audit.record(actor, "rule.auto_close", rule_id=rule.id, days=days, active=rule.is_active)
    commit()
    rules.forget_rules()
    return rule


# -- the rule form's builder ------------------------------------------------------------------

FIELD_LABELS = {
    "status": _l("Status"),
    "priority": _l("Priority"),
    "channel": _l("Channel"),
    "department": _l("Department"),
    "assignee": _l("Assignee"),
    "subject": _l("Subject"),
    "message": _l("Latest message"),
    "customer_email": _l("Customer's email"),
    "customer_name": _l("Customer's name"),
    # Not plain "Language": host pages say that word in their own language switch.
    "locale": _l("Ticket language"),
    "tags": _l("Tags"),
    "created_at": _l("Created"),
    "updated_at": _l("Updated"),
    "last_customer_reply_at": _l("Customer's last message"),
    "last_agent_reply_at": _l("Support's last message"),
    "sender": _l("Sender"),
}
# The sender check's verdicts, as the badges on messages say them.
SENDER_LABELS = {
    "failed": _l("Sender verification failed"),
    "unverified": _l("Sender not verified"),
    "verified": _l("Sender verified"),
    "not_mail": _l("Not by mail (signed in)"),
}
OPERATOR_LABELS = {
    "is": _l("is"),
    "is_not": _l("is not"),
    "contains": _l("contains"),
    "starts_with": _l("starts with"),
    "matches_word": _l("has the word"),
    "in": _l("is one of"),
    "not_in": _l("is none of"),
    "less_than": _l("is less than"),
    "greater_than": _l("is greater than"),
    "before": _l("is before"),
    "after": _l("is after"),
    "is_set": _l("is set"),
    "is_not_set": _l("is not set"),
    "changed_to": _l("changed to"),
}


def builder_schema(actor: Actor) -> dict[str, Any]:
    """What the rule form's builder (static/helpdesk/rules.js) offers, in the reader's language:
    fields with their operators and values, actions with theirs. The server stays the only
    judge of a rule: the builder only writes the JSON the form posts."""
    ensure(actor, "manage")
    departments = [
        [d.id, d.name]
        for d in session().scalars(select(Department).order_by(Department.name, Department.id))
    ]
    agents = [
        [a.id, a.display_name]
        for a in session().scalars(
            select(Agent).where(Agent.is_active.is_(True)).order_by(Agent.name, Agent.id)
        )
    ]
    canned = [
        [c.id, c.title]
        for c in session().scalars(
            select(CannedReply)
            .where(CannedReply.department_id.is_not(None))
            .order_by(CannedReply.title, CannedReply.id)
        )
    ]
    statuses = [[s.value, str(s.label)] for s in TicketStatus]
    priorities = [[p.slug, str(p.label)] for p in Priority]
    values = {
        "status": statuses,
        "priority": priorities,
        "channel": [[c.value, str(c.label)] for c in Channel],
        "department": departments,
        "assignee": agents,
        "sender": [[value, str(label)] for value, label in SENDER_LABELS.items()],
    }
    fields = [
        {
            "name": name,
            # A field added without a label here is still offered, under its JSON name.
            "label": str(FIELD_LABELS.get(name, name)),
            "kind": spec.kind,
            "ops": sorted(OPERATORS[spec.kind], key=list(OPERATOR_LABELS).index),
            "values": values.get(name),
        }
        for name, spec in FIELDS.items()
    ]
    fields.append(
        {
            "name": "customer.",
            "label": str(_("Customer attribute")),
            "kind": "attr",
            "ops": sorted(OPERATORS["attr"], key=list(OPERATOR_LABELS).index),
            "values": None,
        }
    )
    rule_statuses = [s for s in statuses if s[0] in RULE_STATUSES]
    action_values = {
        "set_status": ["choice", rule_statuses],
        "set_priority": ["choice", priorities],
        "set_department": ["id", departments],
        "assign": [
            "choice",
            [["none", str(_("Nobody"))], ["distribute", str(_("Distribute"))]]
            + [[str(i), n] for i, n in agents],
        ],
        "add_tags": ["tags", None],
        "remove_tags": ["tags", None],
        "note": ["text", None],
        "reply": ["id", canned],
        "notify": ["notify", departments],
    }
    return {
        "fields": fields,
        "operators": {op: str(label) for op, label in OPERATOR_LABELS.items()},
        "actions": [
            {"type": kind, "label": str(label), "value": action_values.get(kind, ["none", None])}
            for kind, label in ACTION_LABELS.items()
        ],
        "agents": agents,
        "text": {
            "all": str(_("All of these")),
            "any": str(_("Any of these")),
            "none": str(_("None of these")),
            "group": str(_("Conditions group")),
            "field": str(_("Field")),
            "operator": str(_("Operator")),
            "value": str(_("Value")),
            "attribute": str(_("Attribute name")),
            "add_condition": str(_("Add condition")),
            "add_group": str(_("Add group")),
            "remove": str(_("Remove")),
            "add_action": str(_("Add action")),
            "action": str(_("Action")),
            "up": str(_("Move up")),
            "down": str(_("Move down")),
            "department": str(_("Department")),
            "agents": str(_("Agents")),
            "message": str(_("Message")),
            "list_hint": str(_("Separate values with commas.")),
            "time_hint": str(_("A date (2026-01-31) or “-3d” / “-12h” (before now).")),
            "edit_json": str(_("Edit as JSON")),
            "every_ticket": str(_("No conditions: every ticket.")),
        },
    }
