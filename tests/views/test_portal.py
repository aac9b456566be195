"""The customer's journey through the portal, as a browser would make it."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import select

from example_app.models import Member
from flask_helpdesk.models import AuditEvent, Rating, Ticket, TicketStatus
from flask_helpdesk.services import messages, tickets
from flask_helpdesk.services.base import session
from flask_helpdesk.services.identity import contact_as_actor, sync_contact
from tests.conftest import client_for, csrf_from, post_form
from tests.views.conftest import code_from, count, upload


def open_via_form(client, departments, subject="Invoice missing", **extra):
    data = {
        "department_id": departments["billing"].id,
        "subject": subject,
        "priority": "2",
        "body": "Where is my invoice for October?",
        **extra,
    }
    response = post_form(client, "/support/new", data=data, content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)
    return code_from(response.headers["Location"])


def ticket_by_code(code: str) -> Ticket:
    session().expire_all()
    return session().scalar(select(Ticket).where(Ticket.code == code))


def actions(ticket: Ticket) -> list[str]:
    return list(
        session().scalars(
            select(AuditEvent.action)
            .where(AuditEvent.ticket_id == ticket.id)
            .order_by(AuditEvent.id)
        )
    )


def test_whole_customer_journey(app, departments, customer, agent):
    client = client_for(app, customer)

    # Open a ticket with two attachments and SMS notifications.
    code = open_via_form(
        client,
        departments,
        phone="+84900000001",
        notify_sms="y",
        attachments=[upload("invoice.pdf", b"%PDF-1.4 x"), upload("screen.png", b"\x89PNG..")],
    )
    assert re.fullmatch(r"HD-[2-9A-HJ-NP-Z]{6}", code)
    ticket = ticket_by_code(code)
    assert ticket.status == TicketStatus.OPEN
    assert ticket.notify_sms and ticket.phone == "+84900000001"
    assert ticket.priority.slug == "high"
    assert [a.filename for a in ticket_messages(ticket)[0].attachments] == [
        "invoice.pdf",
        "screen.png",
    ]
    page = client.get(f"/support/tickets/{code}").get_data(as_text=True)
    assert "invoice.pdf" in page and "screen.png" in page
    assert "SMS notifications on" in page

    # It is in my list; search by code (any case) and by part of the title; filters.
    listing = client.get("/support/").get_data(as_text=True)
    assert code in listing
    open_via_form(
        client, departments, subject="Cannot log in", department_id=departments["account"].id
    )
    by_code = client.get(f"/support/?q={code.lower()}").get_data(as_text=True)
    assert "Invoice missing" in by_code and "Cannot log in" not in by_code
    by_title = client.get("/support/?q=log+IN").get_data(as_text=True)
    assert "Cannot log in" in by_title and "Invoice missing" not in by_title
    by_dept = client.get(f"/support/?department={departments['account'].id}").get_data(as_text=True)
    assert "Cannot log in" in by_dept and "Invoice missing" not in by_dept
    closed_only = client.get("/support/?status=closed").get_data(as_text=True)
    assert "No support request matches." in closed_only

    # An agent replies from the desk: status answered, unread badge in the avatar menu, "new"
    # marker.
    staff = client_for(app, session().get(Member, uuid.UUID(agent.agent.user_id)))
    desk_page = f"/support/desk/tickets/{code}"
    response = post_form(
        staff,
        desk_page,
        f"{desk_page}/reply",
        data={"body": "Your invoice is attached now.", "action": "reply"},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    assert "Reply sent." in follow(staff, response)
    answered_ticket = ticket_by_code(code)
    assert answered_ticket.status == TicketStatus.ANSWERED
    assert answered_ticket.first_response_at is not None
    assert answered_ticket.last_agent_reply_at == answered_ticket.first_response_at
    # The opening message was the customer's last word so far.
    assert answered_ticket.last_customer_reply_at < answered_ticket.first_response_at
    assert badge(client) == 1
    answered = client.get("/support/?status=answered").get_data(as_text=True)
    assert "Invoice missing" in answered and "New reply" in answered
    page = client.get(f"/support/tickets/{code}").get_data(as_text=True)
    assert "Your invoice is attached now." in page
    assert "hd-message-new" in page and "Support has replied since your last visit." in page
    assert badge(client) == 0  # opening the ticket read it
    again = client.get(f"/support/tickets/{code}").get_data(as_text=True)
    assert "hd-message-new" not in again

    # I reply: customer_replied.
    response = post_form(
        client,
        f"/support/tickets/{code}",
        f"/support/tickets/{code}/reply",
        data={"body": "Thanks, but the VAT number is wrong."},
    )
    assert response.status_code == 302
    replied = ticket_by_code(code)
    assert replied.status == TicketStatus.CUSTOMER_REPLIED
    assert replied.last_customer_reply_at > replied.first_response_at
    assert replied.first_response_at == answered_ticket.first_response_at  # the first stays

    # Rating before close is refused.
    response = post_form(
        client, f"/support/tickets/{code}", f"/support/tickets/{code}/rate", data={"stars": "5"}
    )
    assert "You can rate a ticket once it is closed." in follow(client, response)
    assert count(Rating) == 0

    # Close, then rate once with 1–5 only.
    response = post_form(client, f"/support/tickets/{code}", f"/support/tickets/{code}/close")
    assert ticket_by_code(code).status == TicketStatus.CLOSED
    assert ticket_by_code(code).closed_at is not None
    assert "The ticket was closed." in follow(client, response)
    for bad in ("0", "6", "abc"):
        response = post_form(
            client, f"/support/tickets/{code}", f"/support/tickets/{code}/rate", data={"stars": bad}
        )
        assert response.status_code == 422
        assert "Please choose from 1 to 5 stars." in response.get_data(as_text=True)
    assert count(Rating) == 0
    response = post_form(
        client,
        f"/support/tickets/{code}",
        f"/support/tickets/{code}/rate",
        data={"stars": "4", "comment": "Quick, thanks"},
    )
    page = follow(client, response)
    assert "Thank you for your rating." in page
    assert 'aria-label="4 of 5 stars"' in page and "Quick, thanks" in page
    response = post_form(
        client, f"/support/tickets/{code}", f"/support/tickets/{code}/rate", data={"stars": "1"}
    )
    assert "This ticket has already been rated." in follow(client, response)
    ratings = list(session().scalars(select(Rating)))
    assert [(r.stars, r.comment) for r in ratings] == [(4, "Quick, thanks")]

    # A reply to the closed ticket reopens it as customer_replied.
    response = post_form(
        client,
        f"/support/tickets/{code}",
        f"/support/tickets/{code}/reply",
        data={"body": "Sorry, one more question.", "attachments": [upload("more.txt")]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    reopened = ticket_by_code(code)
    assert reopened.status == TicketStatus.CUSTOMER_REPLIED and reopened.closed_at is None

    assert actions(reopened) == [
        "ticket.created",
        "message.reply",  # agent
        "message.reply",  # customer
        "ticket.closed",
        "ticket.rated",
        "message.reply",  # reopening reply
    ]


def ticket_messages(ticket):
    return messages.thread(contact_as_actor(ticket.requester), ticket)


def follow(client, response) -> str:
    assert response.status_code in (302, 303), response.status_code
    return client.get(response.headers["Location"]).get_data(as_text=True)


def badge(client) -> int:
    """The number in the avatar menu's "Support requests" badge (0 when none is shown)."""
    html = client.get("/").get_data(as_text=True)
    assert "Support requests" in html
    match = re.search(r'class="helpdesk-badge"[^>]*>(\d+)<', html)
    return int(match.group(1)) if match else 0


def test_badge_counts_tickets_not_replies(app, departments, customer, agent):
    client = client_for(app, customer)
    first = open_via_form(client, departments, subject="First")
    second = open_via_form(client, departments, subject="Second")
    open_via_form(client, departments, subject="Third, unanswered")
    for text in ("One", "Two"):
        messages.post_message(agent, ticket_by_code(first), text)
    messages.post_message(agent, ticket_by_code(second), "Three")
    assert badge(client) == 2
    client.get(f"/support/tickets/{first}")
    assert badge(client) == 1
    # An internal note is not a reply the customer could read.
    messages.post_message(agent, ticket_by_code(first), "note", internal=True)
    assert badge(client) == 1


def test_login_through_the_demo_login_form(app, departments, customer):
    client = app.test_client()
    assert client.get("/support/").status_code == 302  # anonymous: sent to log in
    assert "Support requests" not in client.get("/").get_data(as_text=True)
    response = post_form(
        client,
        "/login",
        "/login?next=/support/",
        data={"email": "lan@example.com", "password": "secret"},
    )
    assert response.status_code == 302 and response.headers["Location"] == "/support/"
    page = client.get("/support/").get_data(as_text=True)
    assert "You have no support requests yet." in page
    code = open_via_form(client, departments)
    assert code in client.get("/support/").get_data(as_text=True)
    # The contact is the logged-in member, keyed by the member's UUID as a string.
    requester = ticket_by_code(code).requester
    member = session().scalar(select(Member).where(Member.email == "lan@example.com"))
    assert requester.user_id == str(member.id) and requester.name == "Lan Nguyen"


def test_form_keeps_what_was_typed_after_an_error(app, departments, customer):
    client = client_for(app, customer)
    response = post_form(
        client,
        "/support/new",
        data={
            "department_id": departments["billing"].id,
            "subject": "",
            "body": "Long text I wrote",
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Please enter a subject." in page
    assert "Long text I wrote" in page
    assert re.search(rf'<option selected value="{departments["billing"].id}">', page)


def test_new_ticket_form_shows_department_descriptions(app, departments, customer):
    departments["billing"].description = "Invoices, refunds and payment methods."
    session().commit()
    page = client_for(app, customer).get("/support/new").get_data(as_text=True)
    assert "Invoices, refunds and payment methods." in page
    # Prefilled from the host user.
    assert 'value="lan@example.com"' in page and 'value="+84900000001"' in page


def test_customer_ticket_urls_use_the_code_never_the_id(app, departments, customer):
    client = client_for(app, customer)
    code = open_via_form(client, departments, attachments=[upload("a.txt")])
    ticket = ticket_by_code(code)
    page = client.get(f"/support/tickets/{code}").get_data(as_text=True)
    listing = client.get("/support/").get_data(as_text=True)
    for html in (page, listing):
        for url in re.findall(r'(?:href|action)="([^"]*/tickets/[^"]*)"', html):
            assert url.startswith(f"/support/tickets/{code}"), url
    assert client.get(f"/support/tickets/{ticket.id}").status_code == 404
    assert csrf_from(page)
    # The requester of a ticket is found again by their contact, not by an id in the URL.
    assert sync_contact(customer).id == ticket.requester_id
    tickets.find_ticket(contact_as_actor(ticket.requester), code.lower())


def test_subject_limit_is_the_configured_one(app, departments, customer, monkeypatch):
    config = app.extensions["helpdesk"].config
    client = client_for(app, customer)
    monkeypatch.setitem(config, "HELPDESK_SUBJECT_MAX_LENGTH", 250)
    assert 'maxlength="250"' in client.get("/support/new").get_data(as_text=True)
    code = open_via_form(client, departments, subject="x" * 240)
    assert ticket_by_code(code).subject == "x" * 240

    monkeypatch.setitem(config, "HELPDESK_SUBJECT_MAX_LENGTH", 20)
    response = post_form(
        client,
        "/support/new",
        data={"department_id": departments["billing"].id, "subject": "y" * 21, "body": "Hi"},
    )
    assert response.status_code == 422
    assert "The subject is too long." in response.get_data(as_text=True)
    assert count(Ticket) == 1
