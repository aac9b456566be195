"""Tickets on behalf of a customer (issue 3 point 4, seed 001): find any customer, the "send
to user" switch, creator and requester both recorded and both filterable in the queue."""

from __future__ import annotations

from example_app import mail
from flask_helpdesk.models import AuditEvent, Contact, Message, Ticket, TicketStatus
from flask_helpdesk.services.base import session
from tests.conftest import client_for, make_member, post_form
from tests.desk.conftest import DESK

NEW = DESK + "/new"


def new_ticket_form(client, requester_key: str, **data):
    page = f"{NEW}?requester={requester_key}"
    return post_form(client, page, NEW, data={"requester_id": requester_key, **data})


def only_ticket() -> Ticket:
    return session().query(Ticket).one()


def test_picker_finds_contacts_and_host_users_by_name_email_or_phone(app, departments, agent, lan):
    stranger = make_member("Quang Vu", "quang@example.com", phone="+84 91 234 5678")
    client = client_for(app, agent.member)
    assert session().query(Contact).filter_by(user_id=str(stranger.get_id())).count() == 0
    for term in ("quang", "QUANG@EXAMPLE", "912345", "lan@"):
        found = client.get(f"{DESK}/customers.json", query_string={"q": term}).get_json()
        assert found, term
    found = client.get(f"{DESK}/customers.json", query_string={"q": "quang"}).get_json()
    assert found == [
        {
            "key": f"user:{stranger.get_id()}",
            "name": "Quang Vu",
            "email": "quang@example.com",
            "phone": "+84 91 234 5678",
        }
    ]
    found = client.get(f"{DESK}/customers.json", query_string={"q": "Lan"}).get_json()
    assert [f["key"] for f in found] == [f"contact:{lan.contact.id}"]  # listed once, as contact

    html = client.get(NEW, query_string={"customer_q": "quang"}).get_data(as_text=True)
    assert f"requester=user:{stranger.get_id()}" in html and "Quang Vu" in html


def test_send_to_user_on_comes_from_support_and_tells_the_customer(
    app, departments, agent, customer
):
    member = make_member("Quang Vu", "quang@example.com")  # never wrote to support
    client = client_for(app, agent.member)
    with mail.record_messages() as outbox:
        response = new_ticket_form(
            client,
            f"user:{member.get_id()}",
            department_id=str(departments["account"].id),
            subject="Your refund",
            body="We have refunded your order.",
            priority="1",
            send_to_user="y",
        )
    assert response.status_code == 302, response.get_data(as_text=True)
    ticket = only_ticket()
    first = session().query(Message).filter_by(ticket_id=ticket.id).one()
    assert ticket.requester.user_id == str(member.get_id())
    assert ticket.creator_agent_id == agent.actor.agent.id and ticket.creator_contact_id is None
    assert first.author_agent_id == agent.actor.agent.id and first.author_contact_id is None
    assert ticket.status == TicketStatus.ANSWERED
    assert [m.recipients for m in outbox] == [["quang@example.com"]]
    assert "We have refunded your order." in outbox[0].body
    event = session().query(AuditEvent).filter_by(ticket_id=ticket.id).one()
    assert event.data["on_behalf"] is True and event.data["send_to_user"] is True
    # The customer finds it in their portal, as a reply from support.
    portal = client_for(app, member).get(f"/support/tickets/{ticket.code}")
    assert portal.status_code == 200 and "We have refunded your order." in portal.get_data(True)


def test_send_to_user_off_reads_as_if_the_customer_wrote_it(
    app, departments, agent, other_agent, lan, customer
):
    client = client_for(app, agent.member)
    with mail.record_messages() as outbox:
        response = new_ticket_form(
            client,
            f"contact:{lan.contact.id}",
            department_id=str(departments["account"].id),
            subject="Cannot log in",
            body="Customer called: the password is refused.",
            priority="2",
        )  # the switch left off: no send_to_user in the post, as a browser sends it
    assert response.status_code == 302
    ticket = only_ticket()
    first = session().query(Message).filter_by(ticket_id=ticket.id).one()
    assert first.author_contact_id == lan.contact.id and first.author_agent_id is None
    assert ticket.status == TicketStatus.OPEN
    assert ticket.requester_id == lan.contact.id
    assert ticket.creator_agent_id == agent.actor.agent.id
    # Staff hear of it like of any new ticket, except the agent who typed it; not the customer.
    recipients = [r for m in outbox for r in m.recipients]
    assert "sara@example.com" in recipients
    assert "minh@example.com" not in recipients and "lan@example.com" not in recipients


def test_creator_and_requester_are_queue_filters(app, departments, agent, other_agent, lan):
    client = client_for(app, agent.member)
    new_ticket_form(
        client,
        f"contact:{lan.contact.id}",
        department_id=str(departments["account"].id),
        subject="Made by Minh",
        body="x",
        priority="1",
    )
    made = only_ticket()
    own = client_for(app, other_agent.member)  # Sara opens one of her own for Reza
    reza = make_member("Reza Karimi", "reza@example.com")
    new_ticket_form(
        own,
        f"user:{reza.get_id()}",
        department_id=str(departments["account"].id),
        subject="Made by Sara",
        body="y",
        priority="1",
    )

    def queue(**args) -> str:
        return client.get(DESK + "/", query_string=args).get_data(as_text=True)

    by_minh = queue(creator=f"agent:{agent.actor.agent.id}")
    assert "Made by Minh" in by_minh and "Made by Sara" not in by_minh
    for_lan = queue(requester=str(lan.contact.id))
    assert "Made by Minh" in for_lan and "Made by Sara" not in for_lan
    assert made.code in for_lan


def test_refusals_leave_no_ticket(app, departments, agent, customer, lan):
    client = client_for(app, agent.member)
    base = {"subject": "S", "body": "B", "priority": "1"}
    # A department the agent does not work in (forged: it is not among the choices).
    response = new_ticket_form(
        client,
        f"contact:{lan.contact.id}",
        department_id=str(departments["billing"].id),
        **base,
    )
    assert response.status_code == 422
    # A forged or unknown requester.
    for key in ("contact:999999", "user:not-a-user", "agent:1", ""):
        response = post_form(
            client,
            NEW,
            data={"requester_id": key, "department_id": str(departments["account"].id), **base},
        )
        assert response.status_code == 422, key
    assert session().query(Ticket).count() == 0
    assert client_for(app, customer).get(NEW).status_code == 403
    assert client_for(app, customer).get(f"{DESK}/customers.json?q=lan").status_code == 403
