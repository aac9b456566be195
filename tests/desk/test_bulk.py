"""Bulk actions on the queue: each ticket through the single-action services, audited, on its
own (one ticket's refusal neither blocks nor undoes the others), with a report of what failed."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from flask_helpdesk.models import AuditEvent, Message, Ticket, TicketStatus
from flask_helpdesk.services import ValidationError, bulk, notifications, tickets
from flask_helpdesk.services.base import session
from tests.conftest import client_for, count_queries, post_form
from tests.desk.conftest import DESK, open_as


def _bulk(client, data):
    return post_form(client, DESK + "/", DESK + "/bulk", data=data)


def _fresh(ticket: Ticket) -> Ticket:
    session().expire_all()
    return session().get(Ticket, ticket.id)


def _audited(action: str) -> list[int]:
    return list(session().scalars(select(AuditEvent.ticket_id).where(AuditEvent.action == action)))


def test_queue_shows_the_bulk_toolbar(app, departments, agent, lan):
    ticket = open_as(lan, departments["account"])
    html = client_for(app, agent.member).get(DESK + "/").get_data(as_text=True)
    assert f'action="{DESK}/bulk"' in html
    assert f'name="ticket_ids" value="{ticket.id}"' in html
    for action in ("assign", "status", "tag", "close", "spam"):
        assert f'name="action" value="{action}"' in html
    assert "At most 100 tickets at once." in html


def test_bulk_close_closes_each_ticket_through_the_service(app, departments, agent, lan):
    selected = [open_as(lan, departments["account"], f"Ticket {i}") for i in range(3)]
    untouched = open_as(lan, departments["account"], "Not selected")
    client = client_for(app, agent.member)
    response = _bulk(client, {"action": "close", "ticket_ids": [t.id for t in selected]})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(DESK + "/")
    assert "Close: 3 tickets done." in client.get(DESK + "/").get_data(as_text=True)
    assert all(_fresh(t).status == TicketStatus.CLOSED for t in selected)
    assert _fresh(untouched).status == TicketStatus.OPEN
    # The single-action service ran: an audit event and a thread line per ticket.
    assert sorted(_audited("ticket.closed")) == sorted(t.id for t in selected)
    events = session().scalars(select(Message).where(Message.kind == "event")).all()
    assert sorted(m.ticket_id for m in events if m.data["event"] == "closed") == sorted(
        t.id for t in selected
    )
    summary = session().scalar(select(AuditEvent).where(AuditEvent.action == "tickets.bulk"))
    assert summary.data["bulk_action"] == "close"
    assert sorted(summary.data["succeeded"]) == sorted(t.code for t in selected)


def test_failures_are_reported_per_ticket_and_the_rest_still_change(app, departments, agent, lan):
    good = open_as(lan, departments["account"], "Good one")
    closed = open_as(lan, departments["account"], "Closed already")
    tickets.close_ticket(lan, closed)
    elsewhere = open_as(lan, departments["billing"], "Not Minh's department")
    client = client_for(app, agent.member)
    ids = [good.id, closed.id, elsewhere.id, 999_999]
    response = _bulk(client, {"action": "status", "status": "processing", "ticket_ids": ids})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "1 changed, 3 not changed." in html
    closed_row = html.split(f'data-ticket="{closed.id}"')[1].split("</tr>")[0]
    assert "Not a valid status here." in closed_row and "Closed" in closed_row
    assert html.count("Ticket not found.") == 2  # hidden and missing look the same
    assert elsewhere.code not in html  # nothing about a ticket the agent may not see
    assert _fresh(good).status == TicketStatus.PROCESSING
    assert _fresh(closed).status == TicketStatus.CLOSED
    assert _fresh(elsewhere).status == TicketStatus.OPEN


def test_a_ticket_failing_halfway_is_rolled_back_whole(app, departments, agent, lan, monkeypatch):
    first, second, third = (open_as(lan, departments["account"], f"T{i}") for i in range(3))
    real = notifications.ticket_closed

    def refuse_second(ticket, closed_by_customer, **extra):
        if ticket.id == second.id:  # the status and event are set in memory by now
            raise ValidationError("mail server says no")
        return real(ticket, closed_by_customer, **extra)

    monkeypatch.setattr(notifications, "ticket_closed", refuse_second)
    report = bulk.run(agent.actor, "close", [first.id, second.id, third.id])
    assert [o.ok for o in report.outcomes] == [True, False, True]
    assert report.failed[0].reason == "mail server says no"
    assert _fresh(first).status == TicketStatus.CLOSED
    assert _fresh(third).status == TicketStatus.CLOSED
    second = _fresh(second)
    assert second.status == TicketStatus.OPEN and second.closed_at is None
    assert (
        not session()
        .scalars(select(Message).where(Message.ticket_id == second.id, Message.kind == "event"))
        .all()
    )
    assert second.id not in _audited("ticket.closed")


def test_assign_tag_and_spam(app, departments, agent, other_agent, lan):
    a, b = open_as(lan, departments["account"], "A"), open_as(lan, departments["account"], "B")
    client = client_for(app, agent.member)
    ids = [a.id, b.id]
    assert (
        _bulk(client, {"action": "assign", "assignee_id": "me", "ticket_ids": ids}).status_code
        == 303
    )
    assert {_fresh(t).assignee_id for t in (a, b)} == {agent.actor.agent.id}
    other = str(other_agent.actor.agent.id)
    _bulk(client, {"action": "assign", "assignee_id": other, "ticket_ids": ids})
    assert {_fresh(t).assignee_id for t in (a, b)} == {other_agent.actor.agent.id}
    _bulk(client, {"action": "assign", "assignee_id": "", "ticket_ids": ids})
    assert {_fresh(t).assignee_id for t in (a, b)} == {None}

    tickets_service_tags = {"vip"}
    from flask_helpdesk.services import desk

    desk.set_tags(agent.actor, _fresh(a), ["vip"])
    _bulk(client, {"action": "tag", "tags": "Refund, urgent", "ticket_ids": ids})
    assert {t.name for t in _fresh(a).tags} == tickets_service_tags | {"refund", "urgent"}
    assert {t.name for t in _fresh(b).tags} == {"refund", "urgent"}

    _bulk(client, {"action": "spam", "ticket_ids": ids})
    assert {_fresh(t).status for t in (a, b)} == {TicketStatus.SPAM}
    assert sorted(_audited("ticket.status_changed")) == sorted(ids)


def test_assignee_outside_the_department_fails_per_ticket(
    app, departments, agent, billing_agent, lan
):
    account = open_as(lan, departments["account"])
    client = client_for(app, agent.member)
    response = _bulk(
        client,
        {
            "action": "assign",
            "assignee_id": str(billing_agent.actor.agent.id),
            "ticket_ids": [account.id],
        },
    )
    assert response.status_code == 422  # nothing succeeded
    assert "Not an agent of this department." in response.get_data(as_text=True)
    assert _fresh(account).assignee_id is None


@pytest.mark.parametrize(
    "data",
    [
        {"action": "assign", "assignee_id": "424242"},  # no such agent
        {"action": "assign", "assignee_id": "' or 1=1"},
        {"action": "status", "status": "deleted"},  # no such status
        {"action": "tag", "tags": " , "},
        {"action": "explode"},
        {"action": "close", "ticket_ids": ["abc"]},
        {"action": "close", "ticket_ids": []},
    ],
    ids=["agent", "agent-junk", "status", "no-tags", "action", "ids", "none"],
)
def test_forged_values_refuse_the_whole_batch(app, departments, agent, lan, data):
    ticket = open_as(lan, departments["account"])
    client = client_for(app, agent.member)
    response = _bulk(client, {"ticket_ids": [ticket.id], **data})
    assert response.status_code == 303
    queue = client.get(DESK + "/").get_data(as_text=True)
    assert 'class="hd-flash hd-flash-error"' in queue
    fresh = _fresh(ticket)
    assert fresh.status == TicketStatus.OPEN and fresh.assignee_id is None and not fresh.tags
    assert not _audited("tickets.bulk")


def test_batch_size_is_limited(app, departments, agent, lan):
    app.extensions["helpdesk"].config["HELPDESK_BULK_MAX_TICKETS"] = 2
    three = [open_as(lan, departments["account"], f"T{i}") for i in range(3)]
    client = client_for(app, agent.member)
    _bulk(client, {"action": "close", "ticket_ids": [t.id for t in three]})
    assert "At most 2 tickets at once." in client.get(DESK + "/").get_data(as_text=True)
    assert all(_fresh(t).status == TicketStatus.OPEN for t in three)


def test_back_link_stays_inside_the_desk(app, departments, agent, lan):
    ticket = open_as(lan, departments["account"])
    client = client_for(app, agent.member)
    for target, expected in [
        (DESK + "/?view=mine", DESK + "/?view=mine"),
        ("https://evil.example.com/", DESK + "/"),
        ("//evil.example.com" + DESK, DESK + "/"),
    ]:
        data = {"action": "tag", "tags": "x", "ticket_ids": [ticket.id], "next": target}
        response = _bulk(client, data)
        assert response.headers["Location"].endswith(expected), target


def test_bulk_queries_are_a_fixed_cost_per_selected_ticket(app, departments, agent, lan):
    """One lookup of the whole selection, then the single-action service per ticket: the cost
    of a batch grows with the batch, by the same few statements per ticket, never with more."""

    def cost(n: int) -> int:
        batch = [open_as(lan, departments["account"], f"T{i}") for i in range(n)]
        ids = [t.id for t in batch]
        session().expire_all()
        with count_queries(app) as statements:
            report = bulk.run(agent.actor, "status", ids, "processing")
        assert len(report.succeeded) == n
        return len(statements)

    small, large = cost(3), cost(9)
    per_ticket = (large - small) / 6
    assert per_ticket == int(per_ticket) and per_ticket <= 8, (small, large)  # measured: 6
    assert small - 3 * per_ticket <= 4  # the selection, the summary audit event (measured: 3)
