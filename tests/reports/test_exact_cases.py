"""The issue's exact cases: first responses of 30, 60, 90 and 600 working minutes against a
120-minute target give a median of 75 minutes and 75 % compliance; ratings 5, 4, 3, 1 give a
CSAT of 50 %."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from flask_helpdesk.models import FactKind, TicketFact
from flask_helpdesk.services import messages, reports, tickets
from flask_helpdesk.services.base import session

MONDAY, TUESDAY = date(2026, 3, 2), date(2026, 3, 3)


def _replied_after(clock, lan, agent, open_for, when: str) -> None:
    clock.set("2026-03-02T09:00+00:00")
    ticket = open_for(lan)
    clock.set(when)
    messages.post_message(agent, ticket, "Here is what to do.")


@pytest.fixture
def four_first_responses(policy, clock, lan, agent, open_for):
    # Office hours 08:00-17:00: 600 working minutes from Monday 09:00 end on Tuesday 10:00.
    for when in ("09:30", "10:00", "10:30"):
        _replied_after(clock, lan, agent, open_for, f"2026-03-02T{when}+00:00")
    _replied_after(clock, lan, agent, open_for, "2026-03-03T10:00+00:00")


def test_median_75_and_compliance_75_percent(four_first_responses, admin):
    figures = reports.compare(admin, reports.Period(MONDAY, TUESDAY))
    current = figures[("current", None)]
    assert current.first_responses == 4
    assert current.time("first_response", 0.5) == 75 * 60
    assert current.sla_compliance == 75.0
    # The late one waited 25 hours on the wall clock but 10 working hours.
    walls = sorted(
        session().scalars(
            select(TicketFact.wall_seconds).where(TicketFact.kind == FactKind.FIRST_RESPONSE)
        )
    )
    assert walls == [30 * 60, 60 * 60, 90 * 60, 25 * 3600]
    assert current.time("first_response_wall", 0.5) == 75 * 60


def test_90th_percentile_interpolates_like_percentile_cont(four_first_responses, admin):
    current = reports.compare(admin, reports.Period(MONDAY, TUESDAY))[("current", None)]
    # Positions 0..3, p90 at 2.7: 90 + 0.7 * (600 - 90) working minutes.
    assert current.time("first_response", 0.9) == pytest.approx((90 + 0.7 * 510) * 60)


def test_ratings_5_4_3_1_give_csat_50_percent(policy, clock, lan, agent, open_for, admin):
    clock.set("2026-03-02T09:00+00:00")
    for stars in (5, 4, 3, 1):
        ticket = open_for(lan)
        tickets.close_ticket(lan, ticket)
        tickets.rate_ticket(lan, ticket, stars)
    current = reports.compare(admin, reports.Period(MONDAY, MONDAY))[("current", None)]
    assert (current.good, current.rated) == (2, 4)
    assert current.csat == 50.0
