"""The rules engine: runs the active rules on what services recorded, in the same transaction.

Services note each change with :func:`.rule_events.record`; just before the unit of work commits
(:func:`.base.before_commit`) the engine takes those changes and, per ticket, runs the active
rules whose trigger matches, in the admins' order. Actions go through the ordinary services as
the system actor; what they change is recorded in turn and runs as the next *round*.

Loop guards (DESIGN §3, issue 13 §2):

- a rule fires at most once per ticket for one original change, however many rounds follow
  (so two rules flipping a status back and forth each fire once, then stop);
- rounds stop at ``HELPDESK_RULES_CHAIN_LIMIT`` with an event on the ticket saying so;
- time rules fire once per ticket and condition window (:mod:`.rule_sweep`);
- automatic mail passes the guards of :mod:`.rule_guards`.

Every firing is an event in the ticket's thread naming the rule, and an audit event.
"""

from __future__ import annotations

import functools
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, func, inspect, select

from ..models import Contact, Message, MessageKind, Rule, Tag, Ticket, ticket_tag, utcnow
from ..state import current_helpdesk
from . import audit, distribution, rule_actions
from .base import (
    PENDING_SIGNALS_KEY,
    RULE_EVENTS_KEY,
    UNIT_DEPTH_KEY,
    ServiceError,
    before_commit,
    cached_for_app,
    forget_cached_for_app,
    session,
)
from .identity import SYSTEM
from .rule_conditions import NEEDS_CUSTOMER, NEEDS_LATEST, NEEDS_TAGS, Facts, matches, needs
from .rule_events import EVENT_TRIGGERS, ActiveRule, Change, take_pending
from .tickets import add_event

logger = logging.getLogger("flask_helpdesk.rules")

RUNNING_KEY = "helpdesk_rules_running"


@dataclass
class _TicketRun:
    """One original change's cascade on one ticket."""

    fired: set[int] = field(default_factory=set)
    rounds: int = 0
    stopped: bool = False


# The switched-on rules, copied once and reused by every change in this process. A change made
# through rule_admin forgets the copy at once; other processes see it within this many seconds.
RULES_CACHE_KEY = ("helpdesk-active-rules",)
RULES_CACHE_TTL = 5.0


def snapshot(rule: Rule) -> ActiveRule:
    conditions = rule.conditions or {}
    return ActiveRule(
        rule.id,
        rule.name,
        rule.trigger,
        conditions,
        tuple(rule.steps),
        rule.preset,
        needs(conditions),
    )


def active_rules(triggers: Iterable[str]) -> list[ActiveRule]:
    """The switched-on rules for *triggers*, in the admins' order: no query at all while the
    process's copy is fresh (a site without rules pays nothing per change)."""
    wanted = set(triggers)

    def load() -> list[ActiveRule]:
        query = select(Rule).where(Rule.is_active.is_(True)).order_by(Rule.position, Rule.id)
        return [snapshot(rule) for rule in session().scalars(query)]

    every = cached_for_app(RULES_CACHE_KEY, RULES_CACHE_TTL, load)
    return [rule for rule in every if rule.trigger in wanted]


def forget_rules() -> None:
    """Drop this process's copy of the rules (they were just changed)."""
    forget_cached_for_app(RULES_CACHE_KEY)


def _latest_public_body(ticket: Ticket):
    @functools.cache
    def load() -> str:
        return (
            session().scalar(
                select(Message.body)
                .where(Message.ticket_id == ticket.id, Message.kind == MessageKind.REPLY)
                .order_by(Message.created_at.desc(), Message.id.desc())
                .limit(1)
            )
            or ""
        )

    return load


# Tag names joined into one text by the database (a tag name is printable text, never this).
_TAG_SEPARATOR = "\x1f"
_CUSTOMER_COLUMNS = frozenset({"email", "name", "attributes"})


@functools.cache
def _related_statement(want: frozenset[str]) -> Any:
    """The one SELECT of :func:`read_related` for *want*, built once per process (a handful of
    combinations) with the ticket as parameters: no statement building per change."""
    ticket_id, requester_id = bindparam("ticket_id"), bindparam("requester_id")
    columns: list[Any] = []
    if NEEDS_CUSTOMER in want:
        columns += [
            select(column).where(Contact.id == requester_id).scalar_subquery()
            for column in (Contact.email, Contact.name, Contact.attributes)
        ]
    if NEEDS_TAGS in want:
        names = (
            select(func.aggregate_strings(Tag.name, _TAG_SEPARATOR))
            .join(ticket_tag, ticket_tag.c.tag_id == Tag.id)
            .where(ticket_tag.c.ticket_id == ticket_id)
        )
        columns.append(names.scalar_subquery())
    if NEEDS_LATEST in want:
        latest = (
            select(Message.body)
            .where(Message.ticket_id == ticket_id, Message.kind == MessageKind.REPLY)
            .order_by(Message.created_at.desc(), Message.id.desc())
            .limit(1)
        )
        columns.append(latest.scalar_subquery())
    return select(*columns)


def read_related(
    ticket: Ticket, wanted: Iterable[str], message: Message | None = None
) -> dict[str, Any]:
    """What the rules' conditions read beyond *ticket*'s row (*wanted*: see
    :func:`.rule_conditions.needs`), in one statement whatever the number of rules; nothing is
    read that the session holds already (a relation loaded in this transaction, the message
    just posted)."""
    want = set(wanted)
    unloaded = inspect(ticket).unloaded
    if NEEDS_TAGS in want and "tags" not in unloaded:
        want.discard(NEEDS_TAGS)
    if NEEDS_CUSTOMER in want and ticket.requester_id is None:
        want.discard(NEEDS_CUSTOMER)
    elif NEEDS_CUSTOMER in want and "requester" not in unloaded:
        requester = ticket.requester
        if requester is None or not (inspect(requester).expired_attributes & _CUSTOMER_COLUMNS):
            want.discard(NEEDS_CUSTOMER)
    if NEEDS_LATEST in want and message is not None and message.kind == MessageKind.REPLY:
        want.discard(NEEDS_LATEST)
    if not want:
        return {}
    statement = _related_statement(frozenset(want))
    session().flush()  # what this transaction changed is what the rules see
    parameters = {"ticket_id": ticket.id, "requester_id": ticket.requester_id}
    connection = session().connection(bind_arguments={"mapper": Ticket})
    row = list(connection.execute(statement, parameters).one())
    related: dict[str, Any] = {}
    if NEEDS_CUSTOMER in want:
        email, name, attributes = row[:3]
        del row[:3]
        related[NEEDS_CUSTOMER] = (email, name, attributes or {})
    if NEEDS_TAGS in want:
        joined = row.pop(0)
        related[NEEDS_TAGS] = set(joined.split(_TAG_SEPARATOR)) if joined else set()
    if NEEDS_LATEST in want:
        related[NEEDS_LATEST] = row.pop(0) or ""
    return related


def facts_for(ticket: Ticket, change: Change | None = None, wanted: Iterable[str] = ()) -> Facts:
    """What rules read about *ticket* at *change*; *wanted* (what their conditions read beyond
    the ticket's row) is read at once, in one statement."""
    message = change.message if change else None
    return Facts(
        ticket=ticket,
        changes=change.changes if change else {},
        message=message,
        now=utcnow(),
        _latest=_latest_public_body(ticket),
        related=read_related(ticket, wanted, message),
    )


def fire(rule: ActiveRule, ticket: Ticket, trigger: str) -> None:
    """Record the firing and run *rule*'s actions on *ticket*, each in a savepoint."""
    if any(step["type"] == "assign" and step.get("value") == "distribute" for step in rule.steps):
        # The department's row before the actions touch the ticket (a status set before the
        # distribution takes a count slot): the lock order every distributor keeps.
        with session().no_autoflush:
            distribution.lock_department_first(ticket.department)
    add_event(ticket, SYSTEM, "rule_fired", rule_id=rule.id, rule_name=rule.name)
    audit.record(SYSTEM, "rule.fired", ticket, rule_id=rule.id, rule=rule.name, trigger=trigger)
    info = session().info
    for step in rule.steps:
        signals_before = len(info.get(PENDING_SIGNALS_KEY, []))
        events_before = len(info.get(RULE_EVENTS_KEY, []))
        try:
            with session().begin_nested():
                rule_actions.perform(rule, ticket, step)
        except ServiceError as error:
            # Nothing of the failed action stays: its announcements go with its writes.
            del info.setdefault(PENDING_SIGNALS_KEY, [])[signals_before:]
            del info.setdefault(RULE_EVENTS_KEY, [])[events_before:]
            session().refresh(ticket)
            add_event(
                ticket,
                SYSTEM,
                "rule_action_failed",
                rule_name=rule.name,
                action=step["type"],
                reason=error.message,
            )
            logger.info("rule %s: %s failed on %s: %s", rule.id, step["type"], ticket.code, error)


def _round(rules: list[ActiveRule], ticket: Ticket, changes: list[Change], run: _TicketRun) -> None:
    run.rounds += 1
    if run.rounds > current_helpdesk.config["HELPDESK_RULES_CHAIN_LIMIT"]:
        if not run.stopped:
            run.stopped = True
            limit = current_helpdesk.config["HELPDESK_RULES_CHAIN_LIMIT"]
            add_event(ticket, SYSTEM, "rule_chain_stopped", rounds=limit)
            audit.record(SYSTEM, "rule.chain_stopped", ticket, rounds=limit)
        return
    facts: dict[int, Facts] = {}  # per change, shared by the rules (lazy reads happen once)
    triggered = {change.trigger for change in changes}
    # What the rules that may run now read beyond the ticket's row: one statement per change.
    wanted = frozenset().union(
        *(rule.needs for rule in rules if rule.trigger in triggered and rule.id not in run.fired)
    )
    for rule in rules:
        if rule.id in run.fired:
            continue
        for index, change in enumerate(changes):
            if change.trigger != rule.trigger:
                continue
            if index not in facts:
                facts[index] = facts_for(ticket, change, wanted)
            if matches(rule.conditions, facts[index]):
                run.fired.add(rule.id)
                fire(rule, ticket, change.trigger)
                facts.clear()  # the actions may have changed what the next rules read
                break


@contextmanager
def _running() -> Iterator[None]:
    """While rules run, the services their actions call only flush (as inside
    :func:`.base.unit_of_work`): the commit that follows stores everything at once."""
    info = session().info
    info[RUNNING_KEY] = True
    info[UNIT_DEPTH_KEY] = info.get(UNIT_DEPTH_KEY, 0) + 1
    try:
        yield
    finally:
        info[UNIT_DEPTH_KEY] -= 1
        info.pop(RUNNING_KEY, None)


def _cascade(rules: list[ActiveRule], pending: list[Change], runs: dict[int, _TicketRun]) -> None:
    """Round after round, until no rule changes anything more (or the chain limit)."""
    while pending:
        by_ticket: dict[int, list[Change]] = defaultdict(list)
        tickets: dict[int, Ticket] = {}
        for change in pending:
            by_ticket[change.ticket.id].append(change)
            tickets[change.ticket.id] = change.ticket
        for ticket_id, changes in by_ticket.items():
            _round(rules, tickets[ticket_id], changes, runs[ticket_id])
        pending = take_pending()


def run_pending() -> None:
    """Run the rules on every change recorded in this unit of work (the before-commit hook)."""
    if session().info.get(RUNNING_KEY):
        return
    pending = take_pending()
    if not pending:
        return
    rules = active_rules(EVENT_TRIGGERS)
    if rules:
        with _running():
            _cascade(rules, pending, defaultdict(_TicketRun))


def run_for(
    rule: ActiveRule, ticket: Ticket, trigger: str, rules: list[ActiveRule] | None = None
) -> None:
    """Fire *rule* on *ticket* now (a time rule whose window came), then the event rules its
    actions set off, with the same guards as for a change (the caller commits)."""
    with _running():
        fire(rule, ticket, trigger)
        pending = take_pending()
        if pending:
            runs: dict[int, _TicketRun] = defaultdict(_TicketRun)
            runs[ticket.id] = _TicketRun(fired={rule.id}, rounds=1)
            _cascade(active_rules(EVENT_TRIGGERS) if rules is None else rules, pending, runs)


before_commit(run_pending)
