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

from sqlalchemy import select

from ..models import Message, MessageKind, Rule, Ticket, utcnow
from ..state import current_helpdesk
from . import audit, rule_actions
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
from .rule_conditions import Facts, matches
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
    return ActiveRule(
        rule.id, rule.name, rule.trigger, rule.conditions or {}, tuple(rule.steps), rule.preset
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


def facts_for(ticket: Ticket, change: Change | None = None) -> Facts:
    return Facts(
        ticket=ticket,
        changes=change.changes if change else {},
        message=change.message if change else None,
        now=utcnow(),
        _latest=_latest_public_body(ticket),
    )


def fire(rule: ActiveRule, ticket: Ticket, trigger: str) -> None:
    """Record the firing and run *rule*'s actions on *ticket*, each in a savepoint."""
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
    for rule in rules:
        if rule.id in run.fired:
            continue
        for index, change in enumerate(changes):
            if change.trigger != rule.trigger:
                continue
            if index not in facts:
                facts[index] = facts_for(ticket, change)
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
