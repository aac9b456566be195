"""Time rules: "N (working) hours/days since the last customer or agent message", "N days in
status", run by a periodic sweep (``rules`` in :mod:`flask_helpdesk.scheduler`).

For each active time rule the sweep turns "N working hours ago" into one instant with the one
time engine (:mod:`flask_helpdesk.businesstime`, on the default SLA policy's calendar), and asks
the database for the tickets whose anchor (the last customer message, the last agent message,
the last status change) is at or before it *and* whose conditions hold, compiled to SQL — so it
reads only matching rows, in batches of ``HELPDESK_RULES_SWEEP_BATCH``, each batch its
own transaction. A :class:`RuleFiring` row keyed by (rule, ticket, anchor) makes each rule fire
once per ticket and window: a ticket that keeps matching is left alone until its anchor moves
(the customer writes again, the status changes), and two sweeps at once fire it once.
Closed, spam and merged tickets are never swept.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..businesstime import NoWorkingTime, WorkCalendar
from ..i18n import lazy_gettext as _l
from ..models import Rule, RuleFiring, SlaPolicy, Ticket, TicketStatus, utcnow
from ..state import current_helpdesk
from . import rules
from .base import commit, session
from .calendars import work_calendar
from .rule_conditions import matches, needs_recheck, to_sql

logger = logging.getLogger("flask_helpdesk.rules")

TIME_TRIGGERS = {
    "time_since_customer": _l("Time since the customer's last message"),
    "time_since_agent": _l("Time since support's last message"),
    "time_in_status": _l("Time in the current status"),
}
UNITS = {
    "hours": _l("hours"),
    "working_hours": _l("working hours"),
    "days": _l("days"),
    "working_days": _l("working days"),
}
MAX_AMOUNT = 24 * 366
MAX_BATCHES = 1000  # per rule and run; the next run goes on


def anchor_column(trigger: str) -> Any:
    return {
        "time_since_customer": Ticket.last_customer_reply_at,
        "time_since_agent": Ticket.last_agent_reply_at,
        "time_in_status": Ticket.status_changed_at,
    }[trigger]


def default_calendar() -> WorkCalendar:
    """The calendar of working time: the default SLA policy's (round the clock without one)."""
    policy = session().scalar(
        select(SlaPolicy).where(SlaPolicy.is_default.is_(True), SlaPolicy.is_active.is_(True))
    )
    return work_calendar(policy.calendar if policy is not None else None)


def threshold(schedule: dict[str, Any], now: datetime, calendar: WorkCalendar) -> datetime:
    """The instant an anchor must be at or before for *schedule*'s time to have passed."""
    amount, unit = int(schedule["after"]), schedule["unit"]
    if unit == "hours":
        return now - timedelta(hours=amount)
    if unit == "days":
        return now - timedelta(days=amount)
    if unit == "working_hours":
        return calendar.subtract(now, timedelta(hours=amount))
    return calendar.subtract_days(now, amount)


def candidates(rule: Rule, now: datetime, calendar: WorkCalendar) -> Any:
    """The SELECT of the tickets *rule* fires on now (a superset when the conditions need a
    Python re-check), not yet fired for their current window. No ORDER BY: the database reads
    the rows through whichever index fits (the anchor's, with the status), never the whole
    table in id order to find a few."""
    anchor = anchor_column(rule.trigger)
    fired = select(RuleFiring.id).where(
        RuleFiring.rule_id == rule.id,
        RuleFiring.ticket_id == Ticket.id,
        RuleFiring.anchor_at == anchor,
    )
    return select(Ticket).where(
        anchor.is_not(None),
        anchor <= threshold(rule.schedule, now, calendar),
        Ticket.status.not_in([TicketStatus.CLOSED, TicketStatus.SPAM]),
        Ticket.merged_into_id.is_(None),
        to_sql(rule.conditions, now),
        ~fired.exists(),
    )


@dataclass
class SweepResult:
    rules: int = 0
    tickets: int = 0
    fired: int = 0

    def __str__(self) -> str:
        return f"{self.rules} time rule(s), {self.tickets} ticket(s) read, {self.fired} fired"


def _claim(rule: Rule, ticket: Ticket, anchor_at: datetime, now: datetime) -> bool:
    """Record the firing unless this window fired already (here or in a sweep running now)."""
    try:
        with session().begin_nested():
            session().add(
                RuleFiring(
                    rule_id=rule.id, ticket_id=ticket.id, anchor_at=anchor_at, created_at=now
                )
            )
            session().flush()
    except IntegrityError:
        return False
    return True


def _batch(rule: Rule, now: datetime, calendar: WorkCalendar, skip: list[int], size: int):
    query = candidates(rule, now, calendar).limit(size)
    if skip:  # the few a Python re-check turned down in this run
        query = query.where(Ticket.id.not_in(skip))
    if session().get_bind().dialect.name == "postgresql":
        # Rows another sweep is firing on are skipped, not waited for.
        query = query.with_for_update(skip_locked=True, of=Ticket)
    return list(session().scalars(query))


def sweep_rule(rule: Rule, now: datetime, result: SweepResult, batch_size: int) -> None:
    try:
        calendar = default_calendar()
        threshold(rule.schedule, now, calendar)
    except NoWorkingTime:
        logger.warning("time rule %s: the calendar has no working time; skipped", rule.id)
        return
    recheck = needs_recheck(rule.conditions)
    turned_down: list[int] = []
    event_rules = rules.active_rules(rules.EVENT_TRIGGERS)
    rule_id = rule.id
    for _ in range(MAX_BATCHES):
        batch = _batch(rule, now, calendar, turned_down, batch_size)
        result.tickets += len(batch)
        for ticket in batch:
            anchor_at = getattr(ticket, anchor_column(rule.trigger).key)
            if recheck and not matches(rule.conditions, rules.facts_for(ticket)):
                turned_down.append(ticket.id)
                continue
            # Fired here or by a sweep running now: either way it leaves the candidates.
            if _claim(rule, ticket, anchor_at, now):
                rules.run_for(rules.snapshot(rule), ticket, rule.trigger, event_rules)
                result.fired += 1
        commit()
        if len(batch) < batch_size:
            break
        rule = session().get(Rule, rule_id)  # the commit expired it
        if rule is None or not rule.is_active:
            break


def sweep(now: datetime | None = None, batch_size: int | None = None) -> SweepResult:
    """Fire every active time rule on the tickets whose time has come (the ``rules`` sweep)."""
    now = now or utcnow()
    batch_size = batch_size or current_helpdesk.config["HELPDESK_RULES_SWEEP_BATCH"]
    result = SweepResult()
    rule_ids = (
        session()
        .scalars(
            select(Rule.id)
            .where(Rule.is_active.is_(True), Rule.trigger.in_(list(TIME_TRIGGERS)))
            .order_by(Rule.position, Rule.id)
        )
        .all()
    )
    for rule_id in rule_ids:
        rule = session().get(Rule, rule_id)
        if rule is None or not rule.is_active:
            continue
        result.rules += 1
        sweep_rule(rule, now, result, batch_size)
    commit()
    if result.fired:
        logger.info("rules sweep: %s", result)
    return result
