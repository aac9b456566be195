"""Canned replies (issue 3 point 5): personal and department replies, who may manage them,
inserting one into the reply box with and without JavaScript, placeholders filled safely."""

from __future__ import annotations

import pytest

from flask_helpdesk.models import AuditEvent, CannedReply, Message
from flask_helpdesk.services import Forbidden, NotFound, ValidationError, canned
from flask_helpdesk.services.agents import make_agent
from flask_helpdesk.services.base import session
from flask_helpdesk.services.identity import agent_as_actor, contact_as_actor, sync_contact
from tests.conftest import client_for, csrf_from, make_member, post_form
from tests.desk.conftest import DESK, Staff, open_as


@pytest.fixture
def lead(app, departments) -> Staff:
    """Hoa leads Account."""
    member = make_member("Hoa Lead", "hoa@example.com")
    return Staff(member, agent_as_actor(make_agent(member.get_id(), ["account"], role="lead")))


def personal(actor, title="Thanks", body="Thank you, {customer_name}!"):
    return canned.create_reply(actor, canned.CannedReplyData(title, body))


def shared(actor, department, title="Reset", body="Reset your password for {ticket_code}."):
    return canned.create_reply(actor, canned.CannedReplyData(title, body, department.id))


def test_personal_replies_belong_to_their_owner_only(app, departments, agent, other_agent):
    mine = personal(agent.actor)
    assert mine.owner_agent_id == agent.actor.agent.id and mine.department_id is None
    assert canned.list_replies(agent.actor) == [mine]
    assert canned.list_replies(other_agent.actor) == []
    for attempt in (
        lambda: canned.get_reply(other_agent.actor, mine.id),
        lambda: canned.update_reply(other_agent.actor, mine.id, canned.CannedReplyData("x", "y")),
        lambda: canned.delete_reply(other_agent.actor, mine.id),
    ):
        with pytest.raises(NotFound):
            attempt()
    canned.update_reply(agent.actor, mine.id, canned.CannedReplyData("Thanks!", "Cheers"))
    assert (mine.title, mine.body) == ("Thanks!", "Cheers")
    canned.delete_reply(agent.actor, mine.id)
    assert session().get(CannedReply, mine.id) is None
    actions = [e.action for e in session().query(AuditEvent).order_by(AuditEvent.id)]
    assert actions[-3:] == ["canned_reply.created", "canned_reply.updated", "canned_reply.deleted"]


def test_department_replies_are_managed_by_its_leads_and_admins(
    app, departments, agent, lead, admin, billing_agent
):
    account, billing = departments["account"], departments["billing"]
    with pytest.raises(ValidationError) as refused:
        shared(agent.actor, account)  # a plain agent cannot share
    assert "department_id" in refused.value.field_errors
    with pytest.raises(ValidationError):
        shared(lead.actor, billing)  # a forged department the lead does not lead
    with pytest.raises(ValidationError):
        canned.create_reply(lead.actor, canned.CannedReplyData("T", "B", "999999"))
    reply = shared(lead.actor, account)
    assert shared(admin.actor, billing).department_id == billing.id

    # Every agent of Account reads it; only the lead and admins change it.
    assert reply in canned.list_replies(agent.actor)
    with pytest.raises(Forbidden):
        canned.update_reply(agent.actor, reply.id, canned.CannedReplyData("Mine", "now"))
    with pytest.raises(Forbidden):
        canned.delete_reply(agent.actor, reply.id)
    with pytest.raises(NotFound):  # Billing's agent does not even see Account's replies
        canned.get_reply(billing_agent.actor, reply.id)
    canned.update_reply(admin.actor, reply.id, canned.CannedReplyData("Reset pw", "Done"))
    assert reply.title == "Reset pw"
    assert {d.id for d in canned.managed_departments(lead.actor)} == {account.id}


def test_reply_box_offers_own_and_the_ticket_departments_replies(
    app, departments, agent, other_agent, lead, admin, lan
):
    ticket = open_as(lan, departments["account"])
    own = personal(agent.actor)
    account_reply = shared(lead.actor, departments["account"])
    billing_reply = shared(admin.actor, departments["billing"], title="Refund")
    personal(other_agent.actor, title="Sara's")
    assert canned.for_ticket(agent.actor, ticket) == [own, account_reply]
    with pytest.raises(NotFound):
        canned.render_reply(agent.actor, billing_reply.id, ticket)
    with pytest.raises(NotFound):  # even an admin: Billing's text is not for Account tickets
        canned.render_reply(admin.actor, billing_reply.id, ticket)


def test_placeholders_are_filled_and_nothing_else_is_evaluated(app, departments, agent):
    member = make_member("<b>Evil</b> {agent_name}", "evil@example.com")
    customer = contact_as_actor(sync_contact(member))
    ticket = open_as(customer, departments["account"])
    reply = personal(
        agent.actor,
        body="Hi {customer_name}, {ticket_code} by {agent_name}. {agent_name.__class__} {other} {",
    )
    text = canned.render_reply(agent.actor, reply.id, ticket)
    # Values are inserted once, never re-expanded (the customer's "{agent_name}" stays).
    assert text == (
        f"Hi <b>Evil</b> {{agent_name}}, {ticket.code} by Minh Tran."
        " {agent_name.__class__} {other} {"
    )
    url = f"{DESK}/tickets/{ticket.code}"
    page = post_form(
        client_for(app, agent.member),
        url,
        url + "/reply",
        data={"action": "insert", "canned_id": str(reply.id)},
    )
    html = page.get_data(as_text=True)
    assert "<b>Evil</b>" not in html and "&lt;b&gt;Evil&lt;/b&gt;" in html


def test_insert_without_javascript_keeps_the_typed_text_and_sends_nothing(
    app, departments, agent, lan
):
    ticket = open_as(lan, departments["account"])
    reply = personal(agent.actor, body="Thank you, {customer_name}!")
    client = client_for(app, agent.member)
    page = f"{DESK}/tickets/{ticket.code}"
    html = client.get(page).get_data(as_text=True)
    assert 'name="canned_id"' in html and f'<option value="{reply.id}">Thanks</option>' in html
    before = session().query(Message).count()
    response = post_form(
        client,
        page,
        page + "/reply",
        data={"body": "Hello.", "action": "insert", "canned_id": str(reply.id)},
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Hello.\n\nThank you, Lan Nguyen!</textarea>" in html
    assert session().query(Message).count() == before

    # Nothing chosen: a clear error, the text kept.
    response = post_form(
        client, page, page + "/reply", data={"body": "Kept", "action": "insert", "canned_id": ""}
    )
    assert response.status_code == 422
    assert "Please choose a canned reply." in response.get_data(as_text=True)
    assert "Kept</textarea>" in response.get_data(as_text=True)


def test_script_endpoint_returns_the_filled_text_for_allowed_replies(
    app, departments, agent, billing_agent, admin, customer, lan
):
    ticket = open_as(lan, departments["account"])
    reply = personal(agent.actor, body="{ticket_code} for {customer_name}")
    url = f"{DESK}/tickets/{ticket.code}/canned/{reply.id}"
    response = client_for(app, agent.member).get(url)
    assert response.status_code == 200
    assert response.get_json() == {"text": f"{ticket.code} for Lan Nguyen"}
    billing_reply = shared(admin.actor, departments["billing"])
    assert (
        client_for(app, agent.member)
        .get(f"{DESK}/tickets/{ticket.code}/canned/{billing_reply.id}")
        .status_code
        == 404
    )
    assert client_for(app, admin.member).get(url).status_code == 404  # someone else's personal
    assert client_for(app, billing_agent.member).get(url).status_code == 404  # not his ticket
    assert client_for(app, customer).get(url).status_code == 403


def test_management_pages_create_edit_delete(app, departments, lead, agent, customer):
    client = client_for(app, lead.member)
    response = post_form(
        client,
        DESK + "/canned",
        data={
            "title": "Password reset",
            "body": "Dear {customer_name}, ...",
            "department_id": str(departments["account"].id),
        },
    )
    assert response.status_code == 302
    reply = session().query(CannedReply).one()
    assert reply.department_id == departments["account"].id
    listing = client.get(DESK + "/canned").get_data(as_text=True)
    assert "Password reset" in listing and "Account" in listing

    edit = f"{DESK}/canned/{reply.id}/edit"
    response = post_form(client, edit, data={"title": "Reset", "body": "New text"})
    assert response.status_code == 302
    session().refresh(reply)
    assert (reply.title, reply.body) == ("Reset", "New text")

    # A plain agent of the department sees it, cannot edit or delete it.
    agent_client = client_for(app, agent.member)
    listing = agent_client.get(DESK + "/canned").get_data(as_text=True)
    assert "Reset" in listing and edit not in listing
    assert agent_client.get(edit).status_code == 403
    token = csrf_from(listing)
    assert (
        agent_client.post(
            f"{DESK}/canned/{reply.id}/delete", data={"csrf_token": token}
        ).status_code
        == 403
    )
    # A plain agent's form refuses a forged department.
    response = post_form(
        agent_client,
        DESK + "/canned",
        data={"title": "X", "body": "Y", "department_id": str(departments["account"].id)},
    )
    assert response.status_code == 422 and "Not a department you lead." in response.get_data(
        as_text=True
    )
    # Missing fields: form errors, nothing saved.
    response = post_form(agent_client, DESK + "/canned", data={"title": "", "body": ""})
    assert response.status_code == 422
    assert session().query(CannedReply).count() == 1

    response = post_form(client, DESK + "/canned", f"{DESK}/canned/{reply.id}/delete")
    assert response.status_code == 302
    assert session().query(CannedReply).count() == 0
    assert client_for(app, customer).get(DESK + "/canned").status_code == 403
