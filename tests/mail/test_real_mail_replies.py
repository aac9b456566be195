"""Replies reach the odd addresses intake accepted: an agent's answer leaves through a real
SMTP server (aiosmtpd) to ``root@localhost``, a quoted local part and an IDN domain."""

from __future__ import annotations

import pytest

from flask_helpdesk.services.agents import make_agent
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
