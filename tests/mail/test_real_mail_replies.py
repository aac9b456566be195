"""Replies reach the odd addresses intake accepted: an agent's answer leaves through a real
SMTP server (aiosmtpd) to ``root@localhost``, a quoted local part and an IDN domain."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from flask_helpdesk.models import Message
from flask_helpdesk.services.agents import make_agent
from flask_helpdesk.services.base import session
from flask_helpdesk.services.identity import agent_as_actor
from flask_helpdesk.services.messages import post_message
from tests.conftest import make_member
from tests.jobs.conftest import app  # noqa: F401  (Flask-Mail wired to the test SMTP server)
from tests.mail import real_mails as mails
from tests.mail.conftest import ingest, ticket_of


@pytest.mark.parametrize(
    ("raw", "address"),
    [
        (mails.CRON_RETURN_PATH, "root@localhost"),
        (mails.QUOTED_LOCAL_PART, '"john smith"@legacy.example.com'),
        (mails.IDN_UNICODE, "jm@xn--bcher-kva.example"),
        (mails.MBOX_ENVELOPE_ONLY, "nagios@monitor.intranet"),
    ],
)
def test_an_agent_reply_reaches_the_address_the_mail_came_from(
    app,  # noqa: F811
    support,
    smtp,
    raw,
    address,
):
    ticket = ticket_of(ingest(raw))
    member = make_member("Minh Tran", "minh@example.com")
    agent = agent_as_actor(make_agent(member.get_id(), ["account"]))
    smtp.messages.clear()  # the staff notification of the new ticket
    post_message(agent, ticket, "We are looking into it.")
    [mail] = smtp.to(address)
    assert ticket.code in mail.message["Subject"]
    assert "We are looking into it." in mail.text


# Mail from an internationalized address (RFC 6531, as Coremail delivers it with SMTPUTF8):
# the local part itself is not ASCII.
EAI_SENDER = mails.crlf(
    "From: 用户 <用户@例子.广告>\nTo: support@example.com\nSubject: 你好\n"
    "Message-ID: <eai-1@example.cn>\nDate: Thu, 21 Mar 2024 09:00:00 +0800\n"
    "Content-Type: text/plain; charset=utf-8\n\n请帮忙。\n".encode()
)


def test_a_non_ascii_local_part_is_filed_and_a_failed_reply_is_told_to_the_agents(
    app,  # noqa: F811
    support,
    smtp,
):
    """The ticket is opened; the reply needs SMTPUTF8, which the outgoing mail does not use,
    so the agents get the usual internal note instead of a silent loss."""
    row = ingest(EAI_SENDER)
    ticket = ticket_of(row)
    assert ticket.requester.email == "用户@xn--fsqu00a.xn--4rr70v"
    member = make_member("Minh Tran", "minh@example.com")
    agent = agent_as_actor(make_agent(member.get_id(), ["account"]))
    smtp.messages.clear()
    post_message(agent, ticket, "We are looking into it.")
    assert smtp.messages == []
    session().expire_all()
    notes = session().scalars(select(Message.body).where(Message.ticket_id == ticket.id))
    assert any("could not be sent" in body for body in notes)
