"""Point 10: a customer reaches only their own tickets; every POST needs its CSRF token;
files never render inline; bad input gets a clear error and changes nothing."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import select

from flask_helpdesk.models import Attachment, AuditEvent, Message, Rating, Ticket, TicketStatus
from flask_helpdesk.services import consent, messages, tickets
from flask_helpdesk.services.attachments import Upload
from flask_helpdesk.services.base import session
from flask_helpdesk.services.departments import create_department
from flask_helpdesk.services.identity import SYSTEM, contact_as_actor, sync_contact
from tests.conftest import clean_tables, client_for, csrf_from, make_member, make_test_app
from tests.views.conftest import count, isolated_client, upload

ROWS = (Ticket, Message, Attachment, Rating, AuditEvent)


def snapshot() -> dict:
    """Row counts and every ticket's state: what 'changes nothing' means here."""
    session().expire_all()
    states = [
        (t.code, t.status, t.priority, t.requester_id, t.closed_at, t.updated_at)
        for t in session().scalars(select(Ticket).order_by(Ticket.id))
    ]
    return {"counts": {m.__name__: count(m) for m in ROWS}, "tickets": states}


def open_ticket_for(member, departments, subject="Private matter", files=()):
    actor = contact_as_actor(sync_contact(member))
    return tickets.open_ticket(
        actor,
        tickets.NewTicket(
            department_id=departments["billing"].id,
            subject=subject,
            body="Only I may read this.",
            uploads=[Upload(name, __import__("io").BytesIO(data)) for name, data in files],
        ),
    )


@pytest.fixture
def victim_ticket(app, departments, customer, agent):
    ticket = open_ticket_for(customer, departments, files=[("secret.pdf", b"%PDF secret")])
    messages.post_message(agent, ticket, "Answer for Lan only.")
    return ticket


def test_other_customer_gets_404_everywhere(app, departments, victim_ticket, other_customer, agent):
    code = victim_ticket.code
    grant = consent.request_access(agent, victim_ticket, "To see your settings")
    attachment_id = session().scalar(select(Attachment.id))
    intruder = isolated_client(app, other_customer)
    # A valid token of the intruder's own session: the refusal must come from the ownership
    # check, not from CSRF.
    token = csrf_from(intruder.get("/support/new").get_data(as_text=True))
    own = open_ticket_for(other_customer, departments, subject="Mine")
    before = snapshot()

    for url in (f"/support/tickets/{code}", f"/support/tickets/{code.lower()}"):
        assert intruder.get(url).status_code == 404
    for action, data in [
        ("reply", {"body": "I write into your ticket"}),
        ("close", {}),
        ("rate", {"stars": "1"}),
    ]:
        response = intruder.post(
            f"/support/tickets/{code}/{action}", data={"csrf_token": token, **data}
        )
        assert response.status_code == 404, action
    # The victim's account-access request: answering it is the victim's alone.
    for action in ("accept", "decline", "revoke"):
        response = intruder.post(f"/support/access/{grant.id}/{action}", data={"csrf_token": token})
        assert response.status_code == 404, action
    assert (
        intruder.get(f"/support/tickets/{code}/files/{attachment_id}/secret.pdf").status_code == 404
    )
    # Their own ticket's code with the victim's attachment id: still nothing.
    assert (
        intruder.get(f"/support/tickets/{own.code}/files/{attachment_id}/secret.pdf").status_code
        == 404
    )
    listing = intruder.get(f"/support/?q={code}").get_data(as_text=True)
    assert "Private matter" not in listing
    after = snapshot()
    assert after == before

    # The owner still gets everything (the 404s above are not a broken route).
    owner = isolated_client(app, victim_ticket.requester_member)  # set by the fixture below
    assert owner.get(f"/support/tickets/{code}").status_code == 200


@pytest.fixture(autouse=True)
def _requester_member(request):
    """Let tests reach the host member behind a ticket's requester."""
    if "victim_ticket" in request.fixturenames:
        ticket = request.getfixturevalue("victim_ticket")
        ticket.requester_member = request.getfixturevalue("customer")


def test_spam_tickets_are_hidden_from_their_own_customer(app, departments, customer, agent):
    ticket = open_ticket_for(customer, departments)
    code = ticket.code
    tickets.change_status(agent, ticket, TicketStatus.SPAM)
    client = client_for(app, customer)
    assert client.get(f"/support/tickets/{code}").status_code == 404
    assert code not in client.get("/support/").get_data(as_text=True)


def test_internal_notes_and_their_files_stay_internal(app, departments, customer, agent):
    ticket = open_ticket_for(customer, departments)
    code = ticket.code
    note = messages.post_message(
        agent,
        ticket,
        "Customer seems angry, refund quietly.",
        uploads=[Upload("internal-report.txt", __import__("io").BytesIO(b"internal"))],
        internal=True,
    )
    note_file = session().scalar(select(Attachment).where(Attachment.message_id == note.id))
    client = client_for(app, customer)
    page = client.get(f"/support/tickets/{code}").get_data(as_text=True)
    assert "refund quietly" not in page and "internal-report.txt" not in page
    url = f"/support/tickets/{code}/files/{note_file.id}/internal-report.txt"
    assert client.get(url).status_code == 404
    # A note changes no status and makes no unread badge.
    session().expire_all()
    assert session().get(Ticket, ticket.id).status == TicketStatus.OPEN


@pytest.mark.parametrize("global_csrf", [True, False], ids=["CSRFProtect", "form-only"])
def test_every_post_without_csrf_token_is_refused(_schema, database_url, tmp_path, global_csrf):
    # With the host's CSRFProtect the request stops at 400; without it the FlaskForm refuses.
    app = make_test_app(database_url, tmp_path, WTF_CSRF_CHECK_DEFAULT=global_csrf)
    with app.app_context():
        try:
            departments = {"billing": create_department(SYSTEM, "Billing", slug="billing")}
            member = make_member("Lan Nguyen", "lan@example.com")
            ticket = open_ticket_for(member, departments)
            tickets.close_ticket(contact_as_actor(ticket.requester), ticket)
            open_one = open_ticket_for(member, departments, subject="Still open")
            client = client_for(app, member)
            before = snapshot()
            posts = [
                (
                    "/support/new",
                    {"department_id": departments["billing"].id, "subject": "x", "body": "y"},
                ),
                (f"/support/tickets/{open_one.code}/reply", {"body": "no token"}),
                (f"/support/tickets/{open_one.code}/close", {}),
                (f"/support/tickets/{ticket.code}/rate", {"stars": "5"}),
                (f"/support/tickets/{ticket.code}/reply", {"body": "reopen without token"}),
            ]
            for url, data in posts:
                for token in (None, "forged-token"):
                    payload = data if token is None else {**data, "csrf_token": token}
                    response = client.post(url, data=payload)
                    assert response.status_code in (400, 422), (url, response.status_code)
                    if response.status_code == 422:
                        assert "The form expired. Please try again." in response.get_data(
                            as_text=True
                        )
            assert snapshot() == before
        finally:
            clean_tables(app)


def test_message_bodies_and_subjects_are_escaped(app, departments, customer):
    client = client_for(app, customer)
    ticket = open_ticket_for(customer, departments, subject="<img src=x onerror=alert(1)>")
    messages.post_message(
        contact_as_actor(ticket.requester), ticket, "<script>alert('xss')</script> & more"
    )
    page = client.get(f"/support/tickets/{ticket.code}").get_data(as_text=True)
    assert "<script>alert('xss')</script>" not in page
    assert "&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt; &amp; more" in page
    assert "<img src=x" not in page
    listing = client.get("/support/").get_data(as_text=True)
    assert "<img src=x" not in listing and "&lt;img src=x onerror=alert(1)&gt;" in listing


def download(client, code):
    page = client.get(f"/support/tickets/{code}").get_data(as_text=True)
    import re

    urls = re.findall(r'href="(/support/tickets/[^"]+/files/[^"]+)"', page)
    return [client.get(url) for url in urls]


def test_downloads_are_attachments_with_nosniff(app, departments, customer):
    ticket = open_ticket_for(
        customer,
        departments,
        files=[("invoice.pdf", b"%PDF-1.4"), ("notes.txt", b"plain"), ("data.xml", b"<a/>")],
    )
    responses = download(client_for(app, customer), ticket.code)
    assert len(responses) == 3
    types = {}
    for response in responses:
        assert response.status_code == 200
        disposition = response.headers["Content-Disposition"]
        assert disposition.startswith("attachment;")
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in response.headers["Content-Security-Policy"]
        name = disposition.split("filename=")[-1].strip('"')
        types[name] = response.mimetype
    assert types == {
        "invoice.pdf": "application/pdf",
        "notes.txt": "text/plain",
        "data.xml": "application/octet-stream",  # XML can carry script: never typed
    }
    assert responses[0].data == b"%PDF-1.4"


def test_html_and_svg_rejected_by_default(app, departments, customer):
    client = client_for(app, customer)
    before = snapshot()
    for name in ("page.html", "logo.svg", "tool.exe"):
        response = post_new(
            client, departments, attachments=[upload(name, b"<svg onload=alert(1)>")]
        )
        assert response.status_code == 422
        assert f"{name}: this file type is not allowed." in response.get_data(as_text=True)
    assert snapshot() == before


def test_html_and_svg_allowed_by_config_are_served_opaque(_schema, database_url, tmp_path):
    app = make_test_app(
        database_url, tmp_path, HELPDESK_ATTACHMENT_EXTENSIONS=frozenset({"html", "svg", "txt"})
    )
    with app.app_context():
        try:
            departments = {"billing": create_department(SYSTEM, "Billing", slug="billing")}
            member = make_member("Lan Nguyen", "lan@example.com")
            ticket = open_ticket_for(
                member,
                departments,
                files=[("page.html", b"<script>alert(1)</script>"), ("logo.svg", b"<svg/>")],
            )
            responses = download(client_for(app, member), ticket.code)
            assert len(responses) == 2
            for response in responses:
                assert response.mimetype == "application/octet-stream"
                assert response.headers["Content-Disposition"].startswith("attachment;")
                assert response.headers["X-Content-Type-Options"] == "nosniff"
        finally:
            clean_tables(app)


def post_new(client, departments, **fields):
    page = client.get("/support/new").get_data(as_text=True)
    data = {
        "csrf_token": csrf_from(page),
        "department_id": departments["billing"].id,
        "subject": "Valid subject",
        "priority": "1",
        "body": "Valid body",
        **fields,
    }
    return client.post("/support/new", data=data, content_type="multipart/form-data")


def storage_files(app) -> list[str]:
    root = app.extensions["helpdesk"].config["HELPDESK_STORAGE_PATH"]
    found = []
    for folder, _dirs, files in os.walk(root):
        found += [os.path.join(folder, f) for f in files]
    return found


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"subject": ""}, "Please enter a subject."),
        ({"subject": "   "}, "Please enter a subject."),
        ({"body": ""}, "Please describe your request."),
        ({"department_id": "999999"}, "Please choose a department."),
        ({"department_id": "abc"}, "Please choose a department."),
        ({"priority": "9"}, "Please choose a priority."),
        ({"status": "closed"}, "This form cannot set: status."),
        ({"requester_id": "1"}, "This form cannot set: requester_id."),
        ({"notify_sms": "y", "phone": ""}, "Enter a phone number to be notified by SMS."),
        ({"email": "not-an-email"}, "Not a valid email."),
        ({"attachments": [upload("big.txt", b"x" * 11)]}, "big.txt is larger than"),
        ({"attachments": [upload("run.exe")]}, "run.exe: this file type is not allowed."),
    ],
)
def test_bad_new_ticket_input_changes_nothing(app, departments, customer, fields, message):
    app.extensions["helpdesk"].config["HELPDESK_ATTACHMENT_MAX_SIZE"] = 10
    client = client_for(app, customer)
    client.get("/support/")  # the contact mirror exists before we count
    before = snapshot()
    response = post_new(client, departments, **fields)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert snapshot() == before
    assert storage_files(app) == []


def test_inactive_department_is_refused(app, departments, customer):
    departments["other"].is_active = False
    session().commit()
    client = client_for(app, customer)
    page = client.get("/support/new").get_data(as_text=True)
    assert ">Billing</option>" in page and ">Other</option>" not in page
    before = snapshot()
    response = post_new(client, departments, department_id=str(departments["other"].id))
    assert response.status_code == 422
    assert "Please choose a department." in response.get_data(as_text=True)
    assert snapshot() == before
    # The service refuses it too, whatever channel asks.
    with pytest.raises(tickets.ValidationError) as error:
        tickets.open_ticket(
            contact_as_actor(sync_contact(customer)),
            tickets.NewTicket(department_id=departments["other"].id, subject="s", body="b"),
        )
    assert "department_id" in error.value.field_errors


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"body": "  "}, "Please write a message."),
        ({"body": "hi", "status": "closed"}, "This form cannot set: status."),
        ({"body": "x" * 20}, "The message is too long."),
        (
            {"body": "hi", "attachments": [upload("evil.svg", b"<svg/>")]},
            "evil.svg: this file type",
        ),
    ],
)
def test_bad_reply_changes_nothing(app, departments, customer, fields, message):
    ticket = open_ticket_for(customer, departments)
    app.extensions["helpdesk"].config["HELPDESK_MESSAGE_MAX_LENGTH"] = 10
    client = client_for(app, customer)
    page = client.get(f"/support/tickets/{ticket.code}").get_data(as_text=True)
    before = snapshot()
    response = client.post(
        f"/support/tickets/{ticket.code}/reply",
        data={"csrf_token": csrf_from(page), **fields},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html
    if fields["body"].strip():
        assert fields["body"] in html  # what was typed is kept
    assert snapshot() == before
