"""A mail intake cannot file (no usable sender address) stays visible to admins with the reason,
and an admin picks its customer and files it from the desk."""

from __future__ import annotations

from sqlalchemy import select

from flask_helpdesk.models import AuditEvent, InboundMail, InboundStatus, Message
from flask_helpdesk.services.base import session
from tests.conftest import client_for, csrf_from
from tests.desk.conftest import DESK
from tests.mail import real_mails as mails
from tests.mail.conftest import ingest, make_mail, ticket_of

PAGE = f"{DESK}/inbound-mail/"


def test_admin_files_a_mail_without_sender_for_the_customer_they_pick(app, support, admin, lan):
    row = ingest(mails.NO_ADDRESS_AT_ALL)
    assert row.status == InboundStatus.FAILED
    client = client_for(app, admin.member)
    listed = client.get(f"{PAGE}?status=failed").get_data(as_text=True)
    assert "SMS from +84901234567" in listed
    assert "the mail has no sender address" in listed

    # The picker: search, then the match links back to the mail's page with the customer.
    found = client.get(f"{PAGE}{row.id}?customer_q=Lan").get_data(as_text=True)
    key = f"contact:{lan.contact.id}"
    assert f'href="{PAGE}{row.id}?requester=contact:{lan.contact.id}"' in found
    chosen = client.get(f"{PAGE}{row.id}?requester={key}").get_data(as_text=True)
    assert "lan@example.com" in chosen

    response = client.post(
        f"{PAGE}{row.id}/file", data={"csrf_token": csrf_from(chosen), "requester": key}
    )
    assert response.status_code == 302
    session().expire_all()
    done = session().get(InboundMail, row.id)
    assert done.status == InboundStatus.PROCESSED
    ticket = ticket_of(done)
    assert response.headers["Location"].endswith(f"{DESK}/tickets/{ticket.code}")
    assert ticket.requester_id == lan.contact.id
    assert ticket.subject == "SMS from +84901234567"
    first = session().get(Message, done.posted_message_id)
    assert "My account is locked" in first.body
    assert first.author_contact_id == lan.contact.id
    event = session().scalar(select(AuditEvent).where(AuditEvent.action == "mail.filed"))
    assert event.actor_agent_id == admin.actor.agent.id
    assert event.data == {"inbound_mail_id": row.id, "contact_id": lan.contact.id}
    page = client.get(f"{DESK}/tickets/{ticket.code}").get_data(as_text=True)
    assert "My account is locked" in page


def test_filing_needs_the_csrf_token_and_an_admin(app, support, admin, agent, lan):
    row = ingest(mails.NO_ADDRESS_AT_ALL)
    key = f"contact:{lan.contact.id}"
    forged = client_for(app, admin.member).post(f"{PAGE}{row.id}/file", data={"requester": key})
    assert forged.status_code in (400, 403)
    as_agent = client_for(app, agent.member)
    assert as_agent.get(f"{PAGE}{row.id}").status_code == 403
    token = csrf_from(as_agent.get(f"{DESK}/").get_data(as_text=True))
    refused = as_agent.post(f"{PAGE}{row.id}/file", data={"csrf_token": token, "requester": key})
    assert refused.status_code == 403
    session().expire_all()
    assert session().get(InboundMail, row.id).status == InboundStatus.FAILED
    assert session().scalar(select(AuditEvent).where(AuditEvent.action == "mail.filed")) is None


def test_filing_without_a_customer_on_a_host_without_csrf_asks_for_one(app, support, admin, lan):
    # A host may switch Flask-WTF's CSRF off (then forms have no csrf_token field); the form
    # missing its customer must still say so, not fail with a 500 (found by the route fuzz).
    row = ingest(mails.NO_ADDRESS_AT_ALL)
    app.config["WTF_CSRF_ENABLED"] = False
    try:
        client = client_for(app, admin.member)
        response = client.post(f"{PAGE}{row.id}/file", data={})
        assert response.status_code == 302
        assert response.headers["Location"].endswith(f"{PAGE}{row.id}")
        assert "Please choose the customer." in client.get(f"{PAGE}{row.id}").get_data(as_text=True)
    finally:
        app.config["WTF_CSRF_ENABLED"] = True
    session().expire_all()
    assert session().get(InboundMail, row.id).status == InboundStatus.FAILED


def test_a_processed_mail_is_not_filed_again(app, support, admin, lan):
    row = ingest(make_mail(subject="Already a ticket"))
    assert row.status == InboundStatus.PROCESSED
    client = client_for(app, admin.member)
    page = client.get(f"{PAGE}{row.id}").get_data(as_text=True)
    assert "File for a customer" not in page
    response = client.post(
        f"{PAGE}{row.id}/file",
        data={"csrf_token": csrf_from(page), "requester": f"contact:{lan.contact.id}"},
        follow_redirects=True,
    )
    assert "Only failed or ignored mail can be filed by hand." in response.get_data(as_text=True)
    assert ticket_of(row).requester.email == "lan@example.com"


def test_an_ignored_auto_reply_can_be_filed_as_a_reply_by_its_customer(app, support, admin, lan):
    """An admin knows the "auto-reply" was really Lan answering: it lands on her ticket."""
    opened = ingest(make_mail(subject="Refund"))
    code = ticket_of(opened).code
    auto = ingest(
        make_mail(subject=f"Re: [{code}] Refund", headers={"Auto-Submitted": "auto-replied"})
    )
    assert auto.status == InboundStatus.IGNORED
    from flask_helpdesk.services.mail_filing import file_for_customer

    done = file_for_customer(admin.actor, auto.id, f"contact:{ticket_of(opened).requester_id}")
    assert done.status == InboundStatus.PROCESSED
    assert done.ticket_id == opened.ticket_id
    assert "filed by an admin" in done.reason
