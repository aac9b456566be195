"""The response promise shown to customers: "We usually answer within 1 hour during business
hours. Expect a reply by Monday 10:00 (Europe/Berlin)."

Read-only: computed from the policy that would apply (new-ticket form) or from the ticket's own
due time (ticket page), in the reader's language and time zone: the caller (the portal) gives
the customer's zone when it knows it (the host user's, or the browser's) and how to write the
instant in the reader's locale; otherwise the policy calendar's zone is used. The zone is named.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, format_timedelta
from flask_babel import get_locale

from ..businesstime import NoWorkingTime
from ..i18n import gettext as _
from ..models import (
    Channel,
    Contact,
    Department,
    Priority,
    SlaPolicy,
    Ticket,
    TicketStatus,
    utcnow,
)
from .sla import _calendar, _policy
from .sla_policies import ordered_policies, policy_for

WAITING_ON_SUPPORT = frozenset({TicketStatus.OPEN, TicketStatus.PROCESSING})
# (due instant, zone, within the week) -> "Monday 10:00 (Europe/Berlin)" in the reader's locale
WhenFormatter = Callable[[datetime, ZoneInfo, bool], str]


def format_duration(minutes: int, locale: str) -> str:
    """ "1 hour", "90 minutes", "72 hours" (not "3 days": a promise in the unit it was set in)."""
    if minutes % 60:
        threshold = minutes  # no larger unit reaches it: shown in minutes
    elif minutes < 24 * 60:
        threshold = 1  # in hours
    else:
        threshold = minutes // 60  # days never reach it: still in hours
    return format_timedelta(
        timedelta(minutes=minutes), threshold=threshold, locale=locale, format="long"
    )


@dataclass(frozen=True)
class Promise:
    minutes: int  # the first-response target
    working: bool  # counted in business hours (else plain elapsed time)
    due_at: datetime
    zone: ZoneInfo

    def text(self, format_when: WhenFormatter | None = None) -> str:
        """The sentence for the customer, in the current language (*format_when* writes the
        instant, e.g. in the Jalali calendar; by default Babel's Gregorian one)."""
        locale = str(get_locale() or "en")
        duration = format_duration(self.minutes, locale)
        soon = self.due_at - utcnow() < timedelta(days=6)
        when = format_when(self.due_at, self.zone, soon) if format_when else self.when(locale)
        if self.working:
            return _(
                "We usually answer within %(duration)s during business hours."
                " Expect a reply by %(when)s.",
                duration=duration,
                when=when,
            )
        return _(
            "We usually answer within %(duration)s. Expect a reply by %(when)s.",
            duration=duration,
            when=when,
        )

    def when(self, locale: str) -> str:
        soon = self.due_at - utcnow() < timedelta(days=6)
        pattern = "EEEE HH:mm" if soon else "EEEE d MMMM HH:mm"
        moment = format_datetime(self.due_at, pattern, tzinfo=self.zone, locale=locale)
        return f"{moment} ({self.zone.key})"


def for_new_ticket(
    department: Department,
    contact: Contact | None,
    priority: Priority = Priority.NORMAL,
    channel: Channel = Channel.WEB,
    now: datetime | None = None,
    policies: list[SlaPolicy] | None = None,
    zone: ZoneInfo | None = None,
) -> Promise | None:
    """What a ticket opened now in *department* would be promised (None: no first-response
    target applies), the time in *zone* (the customer's; default: the calendar's)."""
    now = now or utcnow()
    draft = SimpleNamespace(
        department_id=department.id, priority=priority, channel=channel, requester=contact
    )
    policies = ordered_policies() if policies is None else policies
    policy = policy_for(draft, policies)  # type: ignore[arg-type]
    if policy is None or not policy.first_response_minutes:
        return None
    calendar = _calendar(policy)
    if policy.after_hours_first_response_minutes and policy.calendar and not calendar.is_open(now):
        minutes = policy.after_hours_first_response_minutes
        return Promise(minutes, False, now + timedelta(minutes=minutes), zone or calendar.zone)
    try:
        due = calendar.add_minutes(now, policy.first_response_minutes)
    except NoWorkingTime:
        return None
    working = policy.calendar is not None
    return Promise(policy.first_response_minutes, working, due, zone or calendar.zone)


def for_ticket(ticket: Ticket, zone: ZoneInfo | None = None) -> Promise | None:
    """The reply the customer of *ticket* is waiting for, if support owes one; the time in
    *zone* (the customer's; default: the calendar's)."""
    if ticket.status not in WAITING_ON_SUPPORT and ticket.status != TicketStatus.CUSTOMER_REPLIED:
        return None
    policy = _policy(ticket)
    if policy is None:
        return None
    if ticket.first_response_seconds is None and ticket.first_response_due_at is not None:
        due, minutes = ticket.first_response_due_at, policy.first_response_minutes
        working = policy.calendar is not None and not ticket.sla_after_hours
        if ticket.sla_after_hours and policy.after_hours_first_response_minutes:
            minutes = policy.after_hours_first_response_minutes
    elif ticket.next_response_due_at is not None:
        due, minutes = ticket.next_response_due_at, policy.next_response_minutes
        working = policy.calendar is not None
    else:
        return None
    if due <= utcnow() or not minutes:
        return None  # late already: no promise we cannot keep
    return Promise(minutes, working, due, zone or _calendar(policy).zone)


def new_ticket_lines(
    departments: list[Department],
    contact: Contact | None,
    zone: ZoneInfo | None = None,
    format_when: WhenFormatter | None = None,
) -> list[tuple[str | None, str]]:
    """(department name or None, sentence) for the new-ticket form: one line when every
    department promises the same, else one per department that promises something."""
    policies = ordered_policies()
    lines = []
    for department in departments:
        promise = for_new_ticket(department, contact, policies=policies, zone=zone)
        if promise is not None:
            lines.append((department.name, promise.text(format_when)))
    texts = {text for _name, text in lines}
    if len(texts) == 1 and len(lines) == len(departments):
        return [(None, texts.pop())]
    return lines
