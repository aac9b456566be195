"""The ticket workspace (issue 3 point 3) through the desk's forms, as an agent uses it:
sidebar, reply and note with files, status, priority, transfer, assignee, tags, merge, and
the refusals (forged fields, other departments, customers)."""

from __future__ import annotations

import io

import pytest

from flask_helpdesk.models import (
    Attachment,
    AuditEvent,
    Message,
    MessageKind,
    Priority,
    Ticket,
    TicketStatus,
)
from flask_helpdesk.services import Forbidden, ValidationError, contacts, desk, messages, tickets
from flask_helpdesk.services.base import session
from flask_helpdesk.services.identity import SYSTEM
from tests.conftest import client_for, csrf_from, post_form
from tests.desk.conftest import DESK, open_as


def url(ticket, action: str = "") -> str:
    return f"{DESK}/tickets/{ticket.code}" + (f"/{action}" if action else "")


def act(client, ticket, route: str, **data):
    """Submit one of the workspace's forms the way the browser does."""
    return post_form(client, url(ticket), url(ticket, route), data=data)


def thread_of(ticket) -> list[Message]:
    return list(session().query(Message).filter_by(ticket_id=ticket.id).order_by(Message.id))


def queue_codes(client, **args) -> str:
    response = client.get(DESK + "/", query_string=args)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def fresh(ticket) -> Ticket:
    session().expire_all()
    return session().get(Ticket, ticket.id)


def audit_actions(ticket) -> list[str]:
    rows = session().query(AuditEvent).filter_by(ticket_id=ticket.id).order_by(AuditEvent.id)
    return [e.action for e in rows]


def test_sidebar_shows_contact_attributes_notes_and_earlier_tickets(app, departments, agent, lan):
    earlier = open_as(lan, departments["account"], "Old login problem")
    hidden = open_as(lan, departments["billing"], "Invoice question")  # not Minh's department
    ticket = open_as(lan, departments["account"], "Cannot log in")
    contacts.update_attributes(SYSTEM, lan.contact, {"plan": "Gold", "customer since": 2019})
    client = client_for(app, agent.member)
    html = client.get(url(ticket)).get_data(as_text=True)
    for shown in ("Lan Nguyen", "lan@example.com", "+84900000001", "Gold", "customer since"):
        assert shown in html
    assert earlier.code in html and "Old login problem" in html
    assert hidden.code not in html

    response = act(client, ticket, "contact-notes", notes="Prefers phone calls.")
    assert response.status_code == 302
    assert "Prefers phone calls." in client.get(url(earlier)).get_data(as_text=True)
    assert "contact.notes_changed" in [e.action for e in session().query(AuditEvent)]


def test_custom_attributes_are_set_through_the_service(app, departments, agent, lan):
    contacts.update_attributes(SYSTEM, lan.contact, {"plan": "Gold", "orders": 3})
    contacts.update_attributes(agent.actor, lan.contact, {"plan": None, "vip": True})
    assert session().get(type(lan.contact), lan.contact.id).attributes == {
        "orders": 3,
        "vip": True,
    }
    for bad in ({"": 1}, {"x": {"nested": 1}}, {"x": "y" * 501}):
        with pytest.raises(ValidationError):
            contacts.update_attributes(SYSTEM, lan.contact, bad)
    with pytest.raises(Forbidden):
        contacts.update_attributes(lan, lan.contact, {"plan": "Free"})
    changes = session().query(AuditEvent).filter_by(action="contact.attributes_changed").count()
    assert changes == 2


def test_reply_and_internal_note_with_files(app, departments, agent, lan, customer):
    ticket = open_as(lan, departments["account"])
    client = client_for(app, agent.member)
    response = act(
        client,
        ticket,
        "reply",
        body="See the guide.",
        action="reply",
        attachments=[(io.BytesIO(b"step 1"), "guide.txt")],
    )
    assert response.status_code == 302
    response = act(
        client,
        ticket,
        "reply",
        body="Checked the logs.",
        action="note",
        attachments=[(io.BytesIO(b"log"), "server.log.txt")],
    )
    assert response.status_code == 302
    rows = {m.body: m for m in session().query(Message).filter_by(ticket_id=ticket.id)}
    assert rows["See the guide."].kind == MessageKind.REPLY
    assert rows["Checked the logs."].kind == MessageKind.NOTE
    files = {a.filename: a.message_id for a in session().query(Attachment)}
    assert files == {
        "guide.txt": rows["See the guide."].id,
        "server.log.txt": rows["Checked the logs."].id,
    }
    assert fresh(ticket).status == TicketStatus.ANSWERED
    portal = client_for(app, customer).get(f"/support/tickets/{ticket.code}").get_data(True)
    assert "See the guide." in portal and "guide.txt" in portal
    assert "Checked the logs." not in portal and "server.log.txt" not in portal

    # An empty reply is a form error; nothing is posted.
    before = session().query(Message).count()
    response = act(client, ticket, "reply", body="  ", action="reply")
    assert response.status_code == 422 and "Please write a message." in response.get_data(True)
    assert session().query(Message).count() == before


def test_status_priority_transfer_and_assignee(app, departments, agent, other_agent, lan):
    ticket = open_as(lan, departments["account"])
    client = client_for(app, agent.member)
    assert act(client, ticket, "status", status="processing").status_code == 302
    assert act(client, ticket, "priority", priority=str(int(Priority.URGENT))).status_code == 302
    sara = other_agent.actor.agent
    assert act(client, ticket, "assign", assignee_id=str(sara.id)).status_code == 302
    ticket = fresh(ticket)
    assert (ticket.status, ticket.priority, ticket.assignee_id) == (
        TicketStatus.PROCESSING,
        Priority.URGENT,
        sara.id,
    )
    assert act(client, ticket, "assign", assignee_id="").status_code == 302
    assert fresh(ticket).assignee_id is None

    # Transfer to Billing: Minh (Account only) no longer sees it; Sara (both) does.
    assert (
        act(client, ticket, "transfer", department_id=str(departments["billing"].id)).status_code
        == 302
    )
    assert fresh(ticket).department_id == departments["billing"].id
    assert client.get(url(ticket)).status_code == 404
    assert client_for(app, other_agent.member).get(url(ticket)).status_code == 200
    assert audit_actions(ticket) == [
        "ticket.created",
        "ticket.status_changed",
        "ticket.priority_changed",
        "ticket.assigned",
        "ticket.assigned",
        "ticket.transferred",
    ]
    thread = [m.data.get("event") for m in thread_of(ticket) if m.kind == MessageKind.EVENT]
    assert thread == ["status_changed", "assigned", "assigned", "transferred"]


def test_transfer_drops_an_assignee_who_does_not_work_there(
    app, departments, agent, other_agent, lan
):
    ticket = open_as(lan, departments["account"])
    desk.assign(other_agent.actor, ticket, agent.actor.agent.id)  # Minh: Account only
    desk.transfer(other_agent.actor, ticket, departments["billing"].id)
    assert fresh(ticket).assignee_id is None


@pytest.mark.parametrize(
    ("action", "field", "forged"),
    [
        ("status", "status", "customer_replied"),  # not an agent's choice
        ("status", "status", "deleted"),  # not a status at all
        ("priority", "priority", "99"),
        ("transfer", "department_id", "999999"),
        ("assign", "assignee_id", "billing"),
        ("tags/add", "tags", "<script>"),
        ("merge", "target_code", "HD-NOPE00"),
    ],
)
def test_forged_fields_are_refused_by_the_service_and_change_nothing(
    app, departments, agent, lan, action, field, forged
):
    ticket = open_as(lan, departments["account"])
    before = (ticket.status, ticket.priority, ticket.department_id, ticket.assignee_id)
    response = act(client_for(app, agent.member), ticket, action, **{field: forged})
    assert response.status_code == 422
    assert 'class="hd-error"' in response.get_data(as_text=True)
    ticket = fresh(ticket)
    assert (ticket.status, ticket.priority, ticket.department_id, ticket.assignee_id) == before
    assert ticket.tags == [] and ticket.merged_into_id is None
    assert audit_actions(ticket) == ["ticket.created"]


def test_assignee_from_another_department_is_refused(app, departments, agent, billing_agent, lan):
    ticket = open_as(lan, departments["account"])
    response = act(
        client_for(app, agent.member),
        ticket,
        "assign",
        assignee_id=str(billing_agent.actor.agent.id),
    )
    assert response.status_code == 422
    assert "Not an agent of this department." in response.get_data(as_text=True)
    assert fresh(ticket).assignee_id is None


def test_tags_are_added_and_removed_one_by_one(app, departments, agent, lan):
    ticket = open_as(lan, departments["account"])
    client = client_for(app, agent.member)
    assert act(client, ticket, "tags/add", tags="VIP, login").status_code == 302
    assert act(client, ticket, "tags/add", tags="login, refund").status_code == 302
    assert sorted(t.name for t in fresh(ticket).tags) == ["login", "refund", "vip"]
    html = client.get(url(ticket)).get_data(as_text=True)
    assert 'aria-label="Remove tag vip"' in html
    assert act(client, ticket, "tags/remove", tag="vip").status_code == 302
    assert sorted(t.name for t in fresh(ticket).tags) == ["login", "refund"]
    assert audit_actions(ticket).count("ticket.tagged") == 3
    # The queue's tag filter sees the change.
    assert ticket.code in queue_codes(client, tag="refund")
    assert ticket.code not in queue_codes(client, tag="vip")


def test_merge_moves_messages_and_files_and_closes_the_duplicate(
    app, departments, agent, lan, customer
):
    target = open_as(lan, departments["account"], "Cannot log in", "Password refused")
    duplicate = open_as(lan, departments["account"], "Login again", "Still zanzibar broken")
    messages.post_message(
        lan,
        duplicate,
        "Screenshot attached",
        uploads=[tickets.Upload("shot.png.txt", io.BytesIO(b"png"))],
    )
    desk.set_tags(agent.actor, duplicate, ["login"])
    client = client_for(app, agent.member)
    response = act(client, duplicate, "merge", target_code=target.code.lower())
    assert response.status_code == 302 and response.location.endswith(url(target))

    target, duplicate = fresh(target), fresh(duplicate)
    bodies = [m.body for m in thread_of(target) if m.kind != MessageKind.EVENT]
    assert bodies == ["Password refused", "Still zanzibar broken", "Screenshot attached"]
    assert [a.filename for a in session().query(Attachment).filter_by(ticket_id=target.id)] == [
        "shot.png.txt"
    ]
    assert duplicate.status == TicketStatus.CLOSED and duplicate.merged_into_id == target.id
    assert [t.name for t in target.tags] == ["login"]
    assert "ticket.merged" in audit_actions(duplicate)
    assert "ticket.merged_from" in audit_actions(target)

    # Both threads say so; the duplicate links to the target, for agents and the customer.
    html = client.get(url(duplicate)).get_data(as_text=True)
    assert f'href="{url(target)}"' in html and f"Merged into {target.code}." in html
    assert f"{duplicate.code} was merged into this ticket." in client.get(url(target)).get_data(
        True
    )
    portal = client_for(app, customer).get(f"/support/tickets/{duplicate.code}").get_data(True)
    assert f"Merged into {target.code}." in portal
    # Full-text search follows the moved messages.
    assert target.code in queue_codes(client, q="zanzibar")

    # Merging again, or into itself, is refused with a reason.
    response = act(client, target, "merge", target_code=target.code)
    assert response.status_code == 422 and "cannot be merged into itself" in response.get_data(True)


def test_merge_into_a_ticket_the_agent_cannot_see_reads_like_a_missing_one(
    app, departments, agent, lan
):
    duplicate = open_as(lan, departments["account"])
    elsewhere = open_as(lan, departments["billing"])
    response = act(client_for(app, agent.member), duplicate, "merge", target_code=elsewhere.code)
    assert response.status_code == 422
    assert f"No ticket {elsewhere.code} that you can see." in response.get_data(as_text=True)
    assert fresh(duplicate).merged_into_id is None


WORKSPACE_POSTS = [
    ("reply", {"body": "x", "action": "reply"}),
    ("status", {"status": "processing"}),
    ("priority", {"priority": "2"}),
    ("transfer", {"department_id": "1"}),
    ("assign", {"assignee_id": ""}),
    ("tags", {"tags": "a"}),
    ("tags/add", {"tags": "a"}),
    ("tags/remove", {"tag": "a"}),
    ("merge", {"target_code": "HD-AAAAAA"}),
    ("contact-notes", {"notes": "x"}),
]


def test_every_workspace_route_refuses_outsiders(
    app, departments, agent, billing_agent, customer, lan
):
    ticket = open_as(lan, departments["account"])
    outsider = client_for(app, billing_agent.member)
    token = csrf_from(outsider.get(DESK + "/").get_data(as_text=True))
    for action, data in WORKSPACE_POSTS:
        response = outsider.post(url(ticket, action), data={"csrf_token": token, **data})
        assert response.status_code == 404, action
    for path in ("", "presence", "canned/1"):
        assert outsider.get(url(ticket, path)).status_code == 404, path
    customer_client = client_for(app, customer)
    token = csrf_from(customer_client.get(f"/support/tickets/{ticket.code}").get_data(True))
    for action, data in WORKSPACE_POSTS:
        response = customer_client.post(url(ticket, action), data={"csrf_token": token, **data})
        assert response.status_code == 403, action
    assert customer_client.get(url(ticket)).status_code == 403
    # Without the CSRF token nothing happens either (Flask-WTF's CSRFProtect: 400).
    response = client_for(app, agent.member).post(url(ticket, "status"), data={"status": "closed"})
    assert response.status_code == 400
    assert fresh(ticket).status == TicketStatus.OPEN
    assert session().query(Message).count() == 1
