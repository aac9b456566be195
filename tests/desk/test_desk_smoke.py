"""The desk skeleton end to end: queue, workspace, reply and note through the browser forms."""

from flask_helpdesk.models import Message, MessageKind, TicketStatus
from tests.conftest import client_for, post_form
from tests.desk.conftest import DESK, open_as


def test_agent_works_a_ticket_from_the_queue(app, departments, agent, lan):
    ticket = open_as(lan, departments["account"], "Cannot log in", "My password is refused.")
    client = client_for(app, agent.member)
    queue = client.get(DESK + "/")
    assert queue.status_code == 200
    html = queue.get_data(as_text=True)
    assert ticket.code in html and "Cannot log in" in html
    assert 'id="hd-bulk-form"' in html and f'name="ticket_ids" value="{ticket.id}"' in html

    page = f"{DESK}/tickets/{ticket.code}"
    workspace = client.get(page).get_data(as_text=True)
    assert "My password is refused." in workspace and 'id="hd-reply-body"' in workspace

    response = post_form(
        client, page, page + "/reply", data={"body": "Try resetting it.", "action": "reply"}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    response = post_form(
        client, page, page + "/reply", data={"body": "Customer sounds upset.", "action": "note"}
    )
    assert response.status_code == 302
    kinds = [(m.kind, m.body) for m in app.extensions["helpdesk"].db.session.query(Message).all()]
    assert (MessageKind.REPLY, "Try resetting it.") in kinds
    assert (MessageKind.NOTE, "Customer sounds upset.") in kinds
    assert ticket.status == TicketStatus.ANSWERED


def test_customer_gets_403_and_desk_link_only_for_staff(app, departments, agent, customer):
    assert client_for(app, customer).get(DESK + "/").status_code == 403
    assert client_for(app, None).get(DESK + "/").status_code == 302  # to the host's login


def test_agent_outside_the_department_gets_404(app, departments, billing_agent, lan):
    ticket = open_as(lan, departments["account"])
    client = client_for(app, billing_agent.member)
    assert client.get(f"{DESK}/tickets/{ticket.code}").status_code == 404
    assert ticket.code not in client.get(DESK + "/").get_data(as_text=True)


def test_support_desk_link_shows_for_staff_only(app, agent, customer):
    home = "/"
    assert "Support desk" in client_for(app, agent.member).get(home).get_data(as_text=True)
    assert "Support desk" not in client_for(app, customer).get(home).get_data(as_text=True)
