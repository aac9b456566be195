"""A whole conversation by mail through real servers: the customer writes to a dovecot mailbox,
the agent's reply leaves through an aiosmtpd SMTP server, and the customer's answers to that
mail come back by IMAP, by the mail-server pipe (a real ``flask helpdesk ingest-mail``
process) and by the provider webhook, each into the same ticket."""

from __future__ import annotations

import io
import subprocess

import pytest
from sqlalchemy import select

from flask_helpdesk.mail.threading import code_from_plus_address, ticket_code_from_id
from flask_helpdesk.models import InboundMail, Message, MessageKind, Ticket
from flask_helpdesk.services.agents import make_agent
from flask_helpdesk.services.attachments import Upload
from flask_helpdesk.services.base import session
from flask_helpdesk.services.identity import agent_as_actor
from flask_helpdesk.services.messages import post_message
from tests.conftest import client_for, make_member
from tests.desk.conftest import DESK
from tests.jobs.conftest import app  # noqa: F401  (Flask-Mail wired to the test SMTP server)
from tests.mail.conftest import make_mail
from tests.mail.test_imap_fetch import BINARY, add_mailbox, deliver, fetch, imap  # noqa: F401
from tests.mail.test_mail_channels import _env, _flask
from tests.mail.test_mail_channels import post as post_to_webhook

PDF = b"%PDF-1.4\n% invoice\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def _thread(ticket: Ticket) -> list[Message]:
    session().expire_all()
    return list(
        session().scalars(
            select(Message).where(Message.ticket_id == ticket.id).order_by(Message.id)
        )
    )


def _billing_agent(departments):
    member = make_member("Bao Le", "bao@shop.example.com")
    return agent_as_actor(make_agent(member.get_id(), ["billing"]))


def _answer(delivered, body: str, **extra) -> bytes:
    """The customer's mail client answering *delivered*: Re: subject (without our code, so
    only the threading headers can tie it), In-Reply-To and References."""
    original = delivered.message
    references = " ".join(filter(None, [original["References"], original["Message-ID"]]))
    return make_mail(
        subject="Re: Refund please",
        body=f"{body}\n\nOn Monday, Support wrote:\n> {delivered.text.splitlines()[0]}\n",
        to=str(original["Reply-To"] or original["From"]),
        in_reply_to=str(original["Message-ID"]),
        references=references,
        **extra,
    )


@pytest.mark.skipif(BINARY is None, reason="no dovecot: set HELPDESK_TEST_IMAP to its binary")
def test_a_conversation_by_mail_through_real_imap_and_smtp(
    app,  # noqa: F811
    departments,
    imap,  # noqa: F811
    smtp,
    database_url,
):
    app.extensions["helpdesk"].config["HELPDESK_MAIL_PLUS_ADDRESSING"] = True
    app.extensions["helpdesk"].config["HELPDESK_INBOUND_MAIL_TOKEN"] = "hook-secret-0123456789"
    departments["billing"].email = "billing@example.com"
    session().commit()
    add_mailbox(departments, imap)
    agent = _billing_agent(departments)

    first = make_mail(subject="Refund please", body="Please refund order 1234.")
    deliver(imap, first)
    assert fetch(app).exit_code == 0
    ticket = session().scalar(select(Ticket))
    assert (ticket.subject, ticket.department.slug) == ("Refund please", "billing")
    customer_id = _thread(ticket)[0].email_message_id
    smtp.messages.clear()  # the staff notification of the new ticket

    # The agent answers with a file: one threaded mail in two parts, with the attachment.
    reply = post_message(
        agent,
        ticket,
        "Refunded, the invoice is attached.",
        uploads=[Upload("invoice.pdf", io.BytesIO(PDF))],
    )
    [mail] = smtp.to("lan@example.com")
    headers = mail.message
    assert headers["Subject"] == f"[{ticket.code}] Refund please"
    assert headers["From"] == "billing@example.com"
    assert headers["Reply-To"].startswith(f"billing+{ticket.code}.")  # signed (issue 18)
    assert code_from_plus_address(headers["Reply-To"], "HD") == (ticket.code, True)
    assert ticket_code_from_id(headers["Message-ID"]) == ticket.code  # signed, ours
    assert headers["In-Reply-To"] == f"<{customer_id}>"
    assert headers["References"] == f"<{customer_id}>"
    assert headers["Auto-Submitted"] is None  # a person wrote it
    assert "Refunded, the invoice is attached." in mail.text
    assert "Refunded, the invoice is attached." in mail.html
    [attachment] = list(headers.iter_attachments())
    assert attachment.get_filename() == "invoice.pdf"
    assert attachment.get_content() == PDF
    session().expire_all()
    assert session().get(Message, reply.id).email_message_id == headers["Message-ID"].strip("<>")

    # 1. The customer answers that mail; it reaches the mailbox and is fetched.
    deliver(imap, _answer(mail, "Thanks, received."))
    assert fetch(app).exit_code == 0
    # 2. An answer comes through the mail server's pipe: a real ingest-mail process.
    piped = subprocess.run(
        _flask("ingest-mail"),
        input=_answer(mail, "One more question by pipe."),
        env=_env(database_url),
        capture_output=True,
        timeout=60,
    )
    assert piped.returncode == 0, piped.stderr.decode()
    # 3. And one through the provider webhook.
    hooked = post_to_webhook(app, _answer(mail, "And one through the provider."))
    assert hooked.status_code == 202

    thread = _thread(ticket)
    assert [m.body for m in thread if m.kind == MessageKind.REPLY] == [
        "Please refund order 1234.",
        "Refunded, the invoice is attached.",
        "Thanks, received.",  # the quoted history is stripped, kept in the raw mail
        "One more question by pipe.",
        "And one through the provider.",
    ]
    assert session().scalar(select(Ticket.id).where(Ticket.id != ticket.id)) is None
    rows = session().scalars(select(InboundMail).order_by(InboundMail.id)).all()
    assert [r.reason for r in rows] == ["new ticket"] + 3 * [
        f"reply to {ticket.code} (by message-id)"
    ]

    # The next agent reply continues the thread for the customer's mail client.
    smtp.messages.clear()
    post_message(agent, ticket, "Anything else?")
    [second] = smtp.to("lan@example.com")
    last_customer = thread[-1].email_message_id
    assert second.message["In-Reply-To"] == f"<{last_customer}>"
    references = second.message["References"].split()
    assert references[0] == f"<{customer_id}>"
    assert f"<{reply.email_message_id}>" in references
    assert references[-1] == f"<{last_customer}>"


def test_a_failed_send_shows_on_the_ticket_for_agents_only(
    app,  # noqa: F811
    departments,
    smtp,
    customer,
):
    from flask_helpdesk.services.identity import contact_as_actor, sync_contact
    from flask_helpdesk.services.tickets import NewTicket, open_ticket

    agent_member = make_member("Bao Le", "bao@shop.example.com")
    agent = agent_as_actor(make_agent(agent_member.get_id(), ["billing"]))
    ticket = open_ticket(
        contact_as_actor(sync_contact(customer)),
        NewTicket(department_id=departments["billing"].id, subject="Where is it", body="Hello"),
    )
    smtp.reject_with = "550 5.1.1 Mailbox unavailable"
    post_message(agent, ticket, "Here it is.")

    desk_page = client_for(app, agent_member).get(f"{DESK}/tickets/{ticket.code}")
    text = desk_page.get_data(as_text=True)
    assert "The mail to lan@example.com could not be sent" in text
    assert "550" in text
    portal = client_for(app, customer).get(f"/support/tickets/{ticket.code}")
    assert "could not be sent" not in portal.get_data(as_text=True)
    assert "Here it is." in portal.get_data(as_text=True)
