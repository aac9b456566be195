"""Automatic distribution: the issue's exact case, the modes, availability, shifts, capacity, the
events that offer a waiting ticket again, and the query budget of distributing one ticket."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from flask_helpdesk.models import (
    AuditEvent,
    FactKind,
    Message,
    MessageKind,
    Ticket,
    TicketFact,
    TicketStatus,
    report_day,
)
from flask_helpdesk.models.reports import DAY, WEEK
from flask_helpdesk.scheduler import get_sweep
from flask_helpdesk.services import agents, desk, distribution, mail_routing, tickets
from flask_helpdesk.services.base import session
from flask_helpdesk.services.calendars import create_calendar
from flask_helpdesk.services.identity import SYSTEM, agent_as_actor
from flask_helpdesk.services.sla_presets import install_preset
from tests.conftest import count_queries
from tests.distribution.conftest import assignee_names
from tests.sla.conftest import Clock


def test_issue_case_a_c_a_c_then_the_fifth_waits_for_b(team, round_robin, open_in):
    agents.set_availability(agent_as_actor(team.b), "away")
    rows = [open_in() for _ in range(5)]
    assert assignee_names(team, rows) == ["A", "C", "A", "C", None]
    # B comes back: the waiting ticket is offered again and goes to B, the only one with room.
    agents.set_availability(agent_as_actor(team.b), "available")
    assert assignee_names(team, rows) == ["A", "C", "A", "C", "B"]


def test_the_turn_is_stored_in_the_database(team, round_robin, open_in, departments):
    first = open_in()
    account = departments["account"]
    session().expire_all()  # another process: nothing but the row remembers the turn
    assert account.distribution_last_agent_id == team.a.id
    second = open_in()
    assert assignee_names(team, [first, second]) == ["A", "B"]


def test_the_ticket_records_who_distributed_it(team, round_robin, open_in):
    ticket = open_in()
    event = session().scalar(
        select(Message).where(Message.ticket_id == ticket.id, Message.kind == MessageKind.EVENT)
    )
    assert event.data["event"] == "assigned" and event.data["distribution"] == "round_robin"
    audit = session().scalar(select(AuditEvent).where(AuditEvent.action == "ticket.assigned"))
    assert audit.ticket_id == ticket.id and audit.data["new"] == team.a.id
    assert audit.data["distribution"] == "round_robin"


def test_switching_on_hands_out_what_waits_in_turn_and_within_capacity(team, departments, open_in):
    rows = [open_in() for _ in range(7)]  # the mode is off: all seven wait
    # One offer distributes them all in one transaction: each choice sees the turn and the
    # loads the ones before it wrote (capacity 2 each: six places for seven tickets).
    distribution.set_mode(SYSTEM, departments["account"], "round_robin")
    assert assignee_names(team, rows) == ["A", "B", "C", "A", "B", "C", None]


def test_least_loaded_picks_the_agent_with_fewest_live_tickets(team, departments, open_in):
    distribution.set_mode(SYSTEM, departments["account"], "least_loaded")
    held = open_in()  # mode on: goes to A (all equal, A first in turn)
    assert assignee_names(team, [held]) == ["A"]
    rows = [open_in() for _ in range(4)]
    # B and C hold none: B (next in turn), C; then all hold one: A is next in turn after C.
    assert assignee_names(team, rows) == ["B", "C", "A", "B"]


def test_closed_tickets_do_not_count_against_capacity(team, departments, open_in, lan):
    distribution.set_mode(SYSTEM, departments["account"], "least_loaded")
    first = open_in()
    tickets.close_ticket(lan, first)
    # A closed one: A holds nothing live, so A is as free as B and C and the turn decides.
    assert assignee_names(team, [open_in()]) == ["B"]


def test_mode_off_assigns_nobody_and_costs_no_query(team, open_in, departments, app):
    ticket = open_in()
    assert ticket.assignee_id is None
    with count_queries(app) as statements:
        assert distribution.distribute_ticket(ticket) is None
    assert statements == []


def test_a_mode_given_by_a_rule_overrides_the_departments(team, open_in):
    ticket = open_in()  # Account does not distribute
    assert distribution.distribute_ticket(ticket, mode="least_loaded") == team.a
    session().commit()
    assert assignee_names(team, [ticket]) == ["A"]


def test_nobody_unavailable_full_inactive_or_outside_the_department(
    team, round_robin, open_in, departments
):
    agents.set_availability(agent_as_actor(team.a), "on_break")
    agents.update_agent(SYSTEM, team.b, "agent", [departments["billing"].id], 2, True)
    agents.update_agent(SYSTEM, team.c, "agent", [departments["account"].id], 0, True)
    ticket = open_in()
    assert ticket.assignee_id is None
    agents.update_agent(SYSTEM, team.c, "agent", [departments["account"].id], 1, False)
    assert session().get(Ticket, ticket.id).assignee_id is None  # inactive: still nobody


def test_more_capacity_offers_the_waiting_ticket(team, round_robin, open_in, departments):
    for agent in (team.a, team.b):
        agents.set_availability(agent_as_actor(agent), "away")
    agents.update_agent(SYSTEM, team.c, "agent", [departments["account"].id], 1, True)
    rows = [open_in(), open_in()]
    assert assignee_names(team, rows) == ["C", None]
    agents.update_agent(SYSTEM, team.c, "agent", [departments["account"].id], 2, True)
    assert assignee_names(team, rows) == ["C", "C"]


def test_a_closed_ticket_frees_a_place_for_the_waiting_one(team, round_robin, open_in, lan):
    rows = [open_in() for _ in range(7)]
    assert assignee_names(team, rows) == ["A", "B", "C", "A", "B", "C", None]
    tickets.close_ticket(agent_as_actor(team.b), rows[1])
    assert assignee_names(team, rows)[-1] == "B"


def test_reassigning_by_hand_frees_a_place(team, round_robin, open_in, departments):
    agents.update_agent(SYSTEM, team.b, "agent", [departments["billing"].id], 2, True)
    agents.update_agent(SYSTEM, team.c, "agent", [departments["billing"].id], 2, True)
    rows = [open_in() for _ in range(3)]
    assert assignee_names(team, rows) == ["A", "A", None]
    admin = agent_as_actor(team.a, host_admin=True)
    desk.assign(admin, rows[0], None)  # A gives one back (capacity is not enforced by hand)
    # The freed place takes the oldest waiting ticket, which is now the one A gave back.
    assert assignee_names(team, rows) == ["A", "A", None]


def test_moving_a_ticket_to_a_distributing_department_distributes_it(team, open_in, departments):
    distribution.set_mode(SYSTEM, departments["account"], "round_robin")
    ticket = open_in("billing")
    assert ticket.assignee_id is None
    desk.transfer(agent_as_actor(team.a, host_admin=True), ticket, departments["account"].id)
    assert assignee_names(team, [ticket]) == ["A"]


def test_switching_a_department_on_hands_out_what_waits(team, open_in, departments):
    rows = [open_in() for _ in range(2)]
    assert assignee_names(team, rows) == [None, None]
    distribution.set_mode(SYSTEM, departments["account"], "round_robin")
    assert assignee_names(team, rows) == ["A", "B"]


def test_off_shift_by_the_agents_calendar_and_by_the_sla_calendar(
    team, round_robin, open_in, monkeypatch, departments
):
    clock = Clock(monkeypatch, datetime(2026, 3, 2, 20, 0, tzinfo=UTC))  # a Monday evening
    office = create_calendar(SYSTEM, "Office", "UTC", {d: "09:00-17:00" for d in range(5)})
    # A works office hours; B and C follow the ticket's SLA calendar, which is round the clock
    # until a policy with hours exists.
    agents.update_agent(SYSTEM, team.a, "agent", [departments["account"].id], 2, True, office.id)
    assert distribution.availability_label(team.a) == "Off shift"
    assert assignee_names(team, [open_in()]) == ["B"]
    install_preset(SYSTEM, "business-hour", "UTC")  # the SLA policy: working hours only
    waiting = open_in()
    assert assignee_names(team, [waiting]) == [None]  # everyone off shift now
    clock.set("2026-03-03T09:30:00+00:00")  # Tuesday morning: the sweep catches up
    get_sweep("distribution").run()
    assert assignee_names(team, [waiting]) == ["C"]
    assert distribution.availability_label(team.a) == "Available"


def test_the_sweep_is_registered_and_reports(team, open_in, departments):
    rows = [open_in() for _ in range(2)]
    departments["account"].distribution = "least_loaded"  # set behind the services' back
    session().commit()
    result = get_sweep("distribution").run()
    assert result == "2 ticket(s) distributed in 1 department(s)"
    assert assignee_names(team, rows) == ["A", "B"]


def test_unknown_mode_is_refused_and_changes_nothing(team, departments):
    from flask_helpdesk.services.base import ValidationError

    account = departments["account"]
    try:
        distribution.set_mode(SYSTEM, account, "random")
    except ValidationError as error:
        assert "distribution" in error.field_errors
    else:
        raise AssertionError("accepted an unknown mode")
    assert account.distribution == "off"


def test_a_spam_ticket_is_not_distributed(team, round_robin, open_in):
    agents.set_availability(agent_as_actor(team.a), "away")
    agents.set_availability(agent_as_actor(team.b), "away")
    agents.set_availability(agent_as_actor(team.c), "away")
    ticket = open_in()
    tickets.change_status(agent_as_actor(team.a, host_admin=True), ticket, TicketStatus.SPAM)
    agents.set_availability(agent_as_actor(team.a), "available")
    assert assignee_names(team, [ticket]) == [None]


def test_distributing_one_ticket_has_a_query_budget(team, round_robin, open_in, app):
    for agent in (team.a, team.b, team.c):
        agents.set_availability(agent_as_actor(agent), "away")
    ticket = open_in()
    agents.set_availability(agent_as_actor(team.c), "available")
    session().refresh(ticket)
    ticket.assignee_id = None
    # The turn was someone else's: choosing C writes it (the worst case, every write there is).
    ticket.department.distribution_last_agent_id = team.a.id
    session().commit()
    session().refresh(ticket)
    with count_queries(app) as statements:
        assert distribution.distribute_ticket(ticket) == team.c
        session().flush()
    # Reads: lock and read the ticket, the department and the candidates (PostgreSQL: one SELECT ...
    # FOR NO KEY UPDATE OF the three; SQLite: the write lock by an UPDATE of the department
    # returning its row, then the candidates), their loads (from the ticket counts; on SQLite in the
    # candidates' statement), the chosen agent (by primary key: expired by the commit above; none
    # when in the session already). Writes: the open ticket moving from the unassigned backlog to
    # the agent's (its two facts in one INSERT, their roll-up upsert), the ticket, the department's
    # turn, the "assigned" line, the audit event (no webhook outbox row: nobody subscribes).
    # PostgreSQL: the writes and the agent's row in one statement (data-modifying WITH parts of
    # the SELECT of the agent): 3 round trips in all.
    on_postgres = session().get_bind().dialect.name == "postgresql"
    assert len(statements) <= (3 if on_postgres else 9), statements
    locking = sum("FOR NO KEY UPDATE" in s for s in statements)
    assert locking == (1 if on_postgres else 0), statements


def test_a_distribution_keeps_the_mail_routing_cached(team, round_robin, open_in, app):
    # The turn is written on the department's row, but not as a changed department: that made
    # every process forget its mail routing (addresses, departments) with every new ticket.
    mail_routing.routing()
    assert open_in().assignee_id is not None
    with count_queries(app) as statements:
        mail_routing.routing()
    assert statements == []


def test_the_demo_distributes_account_in_turn(app):
    from flask_helpdesk.models import Department
    from flask_helpdesk.services.demo import seed_demo

    lines = seed_demo()
    assert any("round robin" in line for line in lines)
    modes = {d.slug: d.distribution for d in session().scalars(select(Department))}
    assert modes.pop("account") == "round_robin"
    assert set(modes.values()) == {"off"}


def test_a_rules_distribute_action_hands_out_where_the_department_is_off(
    app, team, open_in, departments, distribute_rule
):
    rows = [open_in(), open_in()]
    assert assignee_names(team, rows) == ["A", "B"]


def test_a_new_ticket_is_announced_before_its_distribution(
    app, team, round_robin, open_in, receiver
):
    """Listeners and webhook receivers hear of a ticket before they hear it was assigned: a
    receiver that looks the ticket up on "assigned" must already know it."""
    from standardwebhooks import Webhook

    from flask_helpdesk import signals
    from flask_helpdesk.services import webhooks

    endpoint = webhooks.create_endpoint(SYSTEM, receiver.url)
    heard: list[str] = []

    def created(sender, **kwargs) -> None:
        heard.append(f"created {kwargs['ticket'].code}")

    def assigned(sender, **kwargs) -> None:
        heard.append(f"assigned {kwargs['ticket'].code} to {team.by_id(kwargs['assignee'].id)}")

    with (
        signals.ticket_created.connected_to(created),
        signals.ticket_assigned.connected_to(assigned),
    ):
        ticket = open_in()
    assert heard == [f"created {ticket.code}", f"assigned {ticket.code} to A"]
    assert webhooks.deliver_due() == 2
    received = [
        Webhook(endpoint.secret).verify(body, headers) for _p, headers, body in receiver.requests
    ]
    assert [(p["type"], p["data"]["ticket"]["code"]) for p in received] == [
        ("ticket.created", ticket.code),
        ("ticket.assigned", ticket.code),
    ]


def test_a_distribution_stores_what_an_assignment_records(team, round_robin, open_in, app):
    """What distributing a waiting ticket stores, row by row: the same on SQLite (statement by
    statement) and on PostgreSQL (all the writes in one statement)."""
    for agent in (team.a, team.b, team.c):
        agents.set_availability(agent_as_actor(agent), "away")
    ticket = open_in()
    agents.set_availability(agent_as_actor(team.c), "available")  # the offer runs: C gets it
    session().expire_all()
    assert ticket.assignee_id == team.c.id
    assert ticket.department.distribution_last_agent_id == team.c.id
    line = (
        session()
        .scalars(
            select(Message).where(Message.ticket_id == ticket.id, Message.kind == MessageKind.EVENT)
        )
        .one()
    )
    assert line.data == {
        "event": "assigned",
        "assignee_name": "Cyrus C",
        "distribution": "round_robin",
    }
    assert line.author_agent_id is None and line.author_contact_id is None and line.body == ""
    audit = (
        session().scalars(select(AuditEvent).where(AuditEvent.action == "ticket.assigned")).one()
    )
    assert (audit.ticket_id, audit.actor_agent_id, audit.actor_contact_id) == (
        ticket.id,
        None,
        None,
    )
    assert audit.data == {"old": None, "new": team.c.id, "distribution": "round_robin"}
    moved = session().execute(
        select(TicketFact.kind, TicketFact.assignee_id, TicketFact.backlog_delta)
        .where(TicketFact.ticket_id == ticket.id, TicketFact.kind != FactKind.CREATED)
        .order_by(TicketFact.id)
    )
    assert [tuple(row) for row in moved] == [
        (FactKind.MOVED_OUT, None, -1),
        (FactKind.MOVED_IN, team.c.id, 1),
    ]
    # The roll-up: the ticket left the unassigned backlog (0) for C's, in its day and its week.
    backlog = session().execute(
        select(report_day.c.span, report_day.c.assignee_id, func.sum(report_day.c.backlog))
        .group_by(report_day.c.span, report_day.c.assignee_id)
        .order_by(report_day.c.span, report_day.c.assignee_id)
    )
    assert sorted(tuple(row) for row in backlog) == sorted(
        (span, assignee, n) for span in (DAY, WEEK) for assignee, n in ((0, 0), (team.c.id, 1))
    )
