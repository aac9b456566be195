"""Facts are written with the change they record; created, solved and the backlog add up; each
actor sees the reports they may; existing installs get their facts from the backfill."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import delete, func, select

from flask_helpdesk.models import FactKind, Ticket, TicketFact, TicketStatus
from flask_helpdesk.services import desk, messages, reports, tickets
from flask_helpdesk.services.agents import make_agent
from flask_helpdesk.services.base import Forbidden, commit, session
from flask_helpdesk.services.identity import SYSTEM, agent_as_actor
from flask_helpdesk.services.sla_sweep import sweep
from tests.conftest import make_member


def _kinds(ticket) -> list[str]:
    query = select(TicketFact.kind).where(TicketFact.ticket_id == ticket.id)
    return [k.value for k in session().scalars(query.order_by(TicketFact.id))]


def test_each_change_writes_its_fact(policy, clock, lan, agent, admin, open_for, departments):
    clock.set("2026-03-02T09:00+00:00")
    ticket = open_for(lan)
    clock.set("2026-03-02T10:00+00:00")
    messages.post_message(agent, ticket, "Try again.")
    messages.post_message(agent, ticket, "And tell us.")  # nobody was waiting: no timing
    clock.set("2026-03-02T11:00+00:00")
    messages.post_message(lan, ticket, "Still broken.")
    clock.set("2026-03-02T11:20+00:00")
    messages.post_message(agent, ticket, "Fixed.")
    tickets.close_ticket(lan, ticket)
    messages.post_message(lan, ticket, "Broken again.")  # reopens
    desk.transfer(admin, ticket, departments["billing"].id)
    tickets.change_status(admin, ticket, TicketStatus.SPAM)
    assert _kinds(ticket) == [
        "created",
        "reply",
        "first_response",
        "reply",
        "reply",
        "resolved",
        "reopened",
        "moved_out",
        "moved_in",
        "spam",
    ]
    replies = session().execute(
        select(TicketFact.wall_seconds, TicketFact.work_seconds)
        .where(TicketFact.ticket_id == ticket.id, TicketFact.kind == FactKind.REPLY)
        .order_by(TicketFact.id)
    )
    assert list(replies) == [(3600, 3600), (None, None), (1200, 1200)]
    moved = session().scalars(
        select(TicketFact.department_id)
        .where(TicketFact.kind.in_([FactKind.MOVED_OUT, FactKind.MOVED_IN]))
        .order_by(TicketFact.id)
    )
    assert list(moved) == [departments["account"].id, departments["billing"].id]


def test_created_minus_solved_is_the_change_in_backlog(
    policy, clock, lan, agent, admin, open_for, departments
):
    days = ["2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05"]
    opened = []
    for n, day in enumerate(days):
        clock.set(f"{day}T09:00+00:00")
        opened += [open_for(lan) for _ in range(n + 2)]
        clock.set(f"{day}T15:00+00:00")
        tickets.close_ticket(agent, opened.pop(0))
        if n == 1:
            closed_again = opened.pop(0)
            tickets.close_ticket(agent, closed_again)
        if n == 2:
            messages.post_message(lan, closed_again, "Not solved after all.")  # reopen
            tickets.change_status(admin, opened.pop(0), TicketStatus.SPAM)
        if n == 3:
            desk.transfer(admin, opened[0], departments["billing"].id)
    period = reports.Period(date(2026, 3, 3), date(2026, 3, 5))
    opening, series = reports.daily(admin, period)
    assert opening == 1  # Monday: two opened, one solved
    backlog = opening
    for day in series:
        backlog += day.created - day.solved + day.reopened + day.other
        assert day.backlog == backlog
    assert [(d.created, d.solved, d.reopened) for d in series] == [(3, 2, 0), (4, 1, 1), (5, 1, 0)]
    open_now = session().scalar(
        select(func.count())
        .select_from(Ticket)
        .where(Ticket.status.not_in([TicketStatus.CLOSED, TicketStatus.SPAM]))
    )
    assert series[-1].backlog == open_now
    # The same days' totals from the comparison agree with the series.
    current = reports.compare(admin, period)[("current", None)]
    assert (current.created, current.solved) == (12, 4)
    # Per department, backlogs add up to the whole: a transfer moves a ticket between them.
    lead = make_agent(make_member("Lea Lead").get_id(), ["billing"], role="lead")
    _opening, campaigns = reports.daily(agent_as_actor(lead), period)
    assert campaigns[-1].backlog == 1


def test_an_agent_sees_their_own_figures_and_a_customer_none(
    policy, clock, lan, agent, admin, open_for
):
    clock.set("2026-03-02T09:00+00:00")
    mine, other = open_for(lan), open_for(lan)
    clock.set("2026-03-02T09:30+00:00")
    messages.post_message(agent, mine, "On it.")
    messages.post_message(admin, other, "On it too.")
    period = reports.Period(date(2026, 3, 2), date(2026, 3, 2))
    own = reports.compare(agent, period)[("current", None)]
    everyone = reports.compare(admin, period)[("current", None)]
    assert (own.first_responses, everyone.first_responses) == (1, 2)
    assert reports.daily(agent, period)[0] is None  # no backlog in an agent's own figures
    with pytest.raises(Forbidden):
        reports.compare(lan, period)


def test_backfill_records_existing_tickets_once(app, policy, clock, lan, agent, open_for):
    clock.set("2026-03-02T09:00+00:00")
    ticket = open_for(lan)
    clock.set("2026-03-02T09:45+00:00")
    messages.post_message(agent, ticket, "Done.")
    tickets.close_ticket(lan, ticket)
    tickets.rate_ticket(lan, ticket, 4)
    open_for(lan)
    session().execute(delete(TicketFact))  # as before the upgrade
    commit()
    result = app.test_cli_runner().invoke(args=["helpdesk", "reports", "backfill"])
    assert result.exit_code == 0, result.output
    assert "facts recorded for 2 ticket(s)" in result.output
    assert _kinds(ticket) == ["created", "first_response", "resolved", "rated"]
    again = app.test_cli_runner().invoke(args=["helpdesk", "reports", "backfill"])
    assert "facts recorded for 0 ticket(s)" in again.output
    current = reports.compare(SYSTEM, reports.Period(date(2026, 3, 2), date(2026, 3, 2)))
    figures = current[("current", None)]
    assert (figures.created, figures.solved, figures.csat) == (2, 1, 100.0)
    assert figures.time("first_response", 0.5) == 45 * 60


def test_a_breach_the_sweep_raises_is_a_fact_once(policy, clock, lan, admin, open_for):
    clock.set("2026-03-02T09:00+00:00")
    open_for(lan)
    later = clock.set("2026-03-02T11:30+00:00")
    assert sweep(later).breached == 1
    sweep(later)  # a second sweep raises nothing again
    current = reports.compare(admin, reports.Period(date(2026, 3, 2), date(2026, 3, 2)))
    assert current[("current", None)].breaches == 1
    target = session().scalar(select(TicketFact.target).where(TicketFact.kind == "breached"))
    assert target == "first_response"
