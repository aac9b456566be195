"""Ninety days of past tickets for the demo, so the reports page has something to show.

Written in bulk (one executemany per table, not the services one ticket at a time) so that
``seed-demo`` stays quick: closed tickets of customers known by email only (the demo logins'
own ticket lists stay as the demo describes them), with their first message and the agent's
answer, and the facts reports read. Working times come from each department's SLA calendar
through businesstime (the one time engine), as they would have been recorded live.
"""

from __future__ import annotations

import random
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select

from ..models import (
    Agent,
    Channel,
    Contact,
    Department,
    FactKind,
    Message,
    MessageKind,
    Priority,
    Rating,
    SlaPolicy,
    Ticket,
    TicketFact,
    TicketStatus,
    utcnow,
)
from ..state import current_helpdesk
from .base import commit, session
from .calendars import work_calendar
from .codes import CODE_ALPHABET, CODE_LENGTH
from .facts import roll_up

DAYS = 90
STILL_WAITING = 8  # the newest few are answered and wait on the customer: the backlog moves
TOPICS = [
    (
        "Cannot log in after password reset",
        "The reset link worked but the new password is refused.",
    ),
    (
        "Invoice shows the wrong VAT number",
        "Our VAT number changed last month; the invoice has the old one.",
    ),
    ("Campaign paused without notice", "Our spring campaign stopped yesterday afternoon."),
    (
        "Report totals differ from the dashboard",
        "The weekly report says 1,204 clicks, the dashboard 1,187.",
    ),
    (
        "How do I add a partner account?",
        "We signed with a new agency and want them to see our data.",
    ),
    ("Payout not received", "The payout of last week has not arrived in our bank account."),
    ("Notification emails go to spam", "Our team finds your alerts in the spam folder."),
    ("Change the account owner", "Our manager left; please make me the account owner."),
]
CUSTOMERS = [
    ("Mai Pham", "mai@example.org"),
    ("Huy Do", "huy@example.org"),
    ("Nora Weber", "nora@example.org"),
    ("Omid Rahimi", "omid@example.org"),
    ("Thu Vo", "thu@example.org"),
    ("Leila Moradi", "leila@example.org"),
]
CHANNELS = [(Channel.WEB, 55), (Channel.EMAIL, 35), (Channel.API, 5), (Channel.DESK, 5)]
PRIORITIES = [(Priority.LOW, 20), (Priority.NORMAL, 60), (Priority.HIGH, 15), (Priority.URGENT, 5)]
STARS = [(5, 50), (4, 28), (3, 10), (2, 6), (1, 6)]


def _pick(rng: random.Random, weighted: list[tuple]) -> object:
    return rng.choices([v for v, _w in weighted], [w for _v, w in weighted])[0]


def seed_history(seed: int = 15) -> int:
    """Insert the history (once, after the demo's departments, agents and policies exist);
    returns how many tickets it made."""
    rng = random.Random(seed)
    now = utcnow().replace(second=0, microsecond=0)
    departments = list(session().scalars(select(Department).where(Department.is_active)))
    agents = list(session().scalars(select(Agent).where(Agent.is_active)))
    policies = list(session().scalars(select(SlaPolicy)))
    default = next((p for p in policies if p.is_default), None)
    contacts = [Contact(name=name, email=email, locale="en") for name, email in CUSTOMERS]
    session().add_all(contacts)
    session().flush()

    def policy_of(department: Department) -> SlaPolicy | None:
        for policy in policies:
            if department.id in (policy.conditions or {}).get("department_ids", []):
                return policy
        return default

    def agent_of(department: Department) -> Agent:
        staff = [a for a in agents if department in a.departments]
        return rng.choice(staff or agents)

    plans = []
    for back in range(DAYS, 0, -1):
        day = (now - timedelta(days=back)).replace(hour=0, minute=0)
        volume = rng.randint(2, 4) if day.weekday() >= 5 else rng.randint(7, 13)
        for _n in range(volume):
            created = day + timedelta(minutes=rng.randint(7 * 60, 20 * 60))
            plans.append((created, rng.choice(departments)))
    plans.sort(key=lambda plan: plan[0])
    codes = _codes(len(plans))
    tickets, history = [], []
    for index, (created, department) in enumerate(plans):
        policy = policy_of(department)
        calendar = work_calendar(policy.calendar if policy else None)
        agent = agent_of(department)
        answered = created + timedelta(
            minutes=rng.choice([5, 15, 30, 45, 60, 90, 120, 240, 900]) * rng.uniform(0.5, 1.5)
        )
        waiting = index >= len(plans) - STILL_WAITING
        closed = None if waiting else answered + timedelta(hours=rng.uniform(1, 96))
        if closed is not None and closed > now:
            closed, waiting = None, True
        first_work = int(calendar.between(created, answered).total_seconds())
        target = (policy.first_response_minutes or 0) * 60 if policy else 0
        first_met = first_work <= target if target else None
        resolution_work = (
            first_work
            + int(min(calendar.between(answered, closed).total_seconds(), rng.uniform(0, 4 * 3600)))
            if closed
            else None
        )
        topic = rng.choice(TOPICS)
        tickets.append(
            {
                "code": codes[index],
                "subject": topic[0],
                "status": TicketStatus.ANSWERED if waiting else TicketStatus.CLOSED,
                "priority": _pick(rng, PRIORITIES),
                "channel": _pick(rng, CHANNELS),
                "department_id": department.id,
                "requester_id": rng.choice(contacts).id,
                "assignee_id": agent.id,
                "locale": "en",
                "created_at": created,
                "updated_at": closed or answered,
                "first_response_at": answered,
                "last_customer_reply_at": created,
                "last_agent_reply_at": answered,
                "closed_at": closed,
                "agent_seen_at": answered,
                "customer_seen_at": answered,
                "sla_policy_id": policy.id if policy else None,
                "sla_clock_seconds": resolution_work or first_work,
                "first_response_seconds": first_work,
                "resolution_seconds": resolution_work,
                "first_response_breached": first_met is False,
            }
        )
        history.append(
            (
                topic,
                agent,
                created,
                answered,
                closed,
                first_work,
                first_met,
                resolution_work,
                target,
                calendar,
            )
        )
    session().execute(insert(Ticket.__table__), tickets)
    ids = dict(
        session().execute(select(Ticket.code, Ticket.id).where(Ticket.code.in_(codes))).all()
    )
    messages, facts, ratings = [], [], []
    for row, (
        topic,
        agent,
        created,
        answered,
        closed,
        first_work,
        first_met,
        resolution_work,
        target,
        calendar,
    ) in zip(tickets, history, strict=True):
        ticket_id = ids[row["code"]]
        messages += [
            _message(ticket_id, row["channel"], created, topic[1], contact_id=row["requester_id"]),
            _message(
                ticket_id,
                row["channel"],
                answered,
                "Thanks for writing. This is sorted now; tell us if anything is still wrong.",
                agent_id=agent.id,
            ),
        ]

        def fact(kind: FactKind, at: datetime, _row=row, _id=ticket_id, _agent=agent, **values):
            facts.append(_fact_row(_row, _id, _agent.id, kind, at, **values))

        wall = int((answered - created).total_seconds())
        fact(FactKind.CREATED, created, backlog_delta=1)
        fact(
            FactKind.REPLY, answered, agent_id=agent.id, wall_seconds=wall, work_seconds=first_work
        )
        fact(
            FactKind.FIRST_RESPONSE,
            answered,
            agent_id=agent.id,
            wall_seconds=wall,
            work_seconds=first_work,
            met=first_met,
        )
        if first_met is False:
            fact(
                FactKind.BREACHED,
                calendar.add(created, timedelta(seconds=target)),
                target="first_response",
            )
        if closed is None:
            continue
        fact(
            FactKind.RESOLVED,
            closed,
            agent_id=agent.id,
            wall_seconds=int((closed - created).total_seconds()),
            work_seconds=resolution_work,
            backlog_delta=-1,
        )
        if rng.random() < 0.45:
            stars = _pick(rng, STARS)
            rated = closed + timedelta(hours=rng.uniform(0.5, 20))
            if rated < now:
                ratings.append(
                    {
                        "ticket_id": ticket_id,
                        "contact_id": row["requester_id"],
                        "stars": stars,
                        "comment": "",
                        "created_at": rated,
                    }
                )
                fact(FactKind.RATED, rated, stars=stars, good=stars >= 4)
    session().execute(insert(Message.__table__), messages)
    session().execute(insert(TicketFact.__table__), facts)
    roll_up(facts)
    if ratings:
        session().execute(insert(Rating.__table__), ratings)
    commit()
    return len(tickets)


def _message(
    ticket_id: int,
    channel: Channel,
    at: datetime,
    body: str,
    contact_id: int | None = None,
    agent_id: int | None = None,
) -> dict:
    return {
        "ticket_id": ticket_id,
        "kind": MessageKind.REPLY,
        "channel": channel,
        "author_contact_id": contact_id,
        "author_agent_id": agent_id,
        "body": body,
        "body_html": None,
        "email_message_id": None,
        "data": {},
        "created_at": at,
    }


def _fact_row(
    ticket: dict[str, Any], ticket_id: int, assignee_id: int, kind: FactKind, at: datetime, **values
) -> dict[str, Any]:
    """One fact as services.facts records it live (every key present: one bulk INSERT)."""
    return {
        "ticket_id": ticket_id,
        "kind": kind,
        "at": at,
        "department_id": ticket["department_id"],
        "assignee_id": assignee_id,
        "channel": ticket["channel"],
        "priority": ticket["priority"],
        "agent_id": None,
        "wall_seconds": None,
        "work_seconds": None,
        "met": None,
        "target": None,
        "backlog_delta": 0,
        "good": None,
        "stars": None,
        "message_id": None,
        **values,
    }


def _codes(count: int) -> list[str]:
    """*count* new ticket codes, none already taken (one query for the check)."""
    prefix = current_helpdesk.config["HELPDESK_TICKET_CODE_PREFIX"]
    taken = set(session().scalars(select(Ticket.code)))
    codes: list[str] = []
    while len(codes) < count:
        code = f"{prefix}-" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if code not in taken:
            taken.add(code)
            codes.append(code)
    return codes
