"""Fixtures for the mail channel: building raw mails, ingesting them, real IMAP/SMTP servers."""

from __future__ import annotations

import itertools
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest

from flask_helpdesk.models import InboundMail, Ticket
from flask_helpdesk.services import intake
from flask_helpdesk.services.base import session

# Fixtures of other folders this one uses: desk staff (admin pages) and the real SMTP server.
from tests.desk.conftest import admin, agent  # noqa: F401
from tests.jobs.conftest import smtp  # noqa: F401

CORPUS = Path(__file__).parent / "corpus"
_counter = itertools.count(1)


def make_mail(
    subject: str = "Cannot log in",
    body: str = "Hello, I cannot log in since yesterday.",
    sender: str = "Lan Nguyen <lan@example.com>",
    to: str = "support@example.com",
    message_id: str | None = "auto",
    in_reply_to: str | None = None,
    references: str | None = None,
    cc: str | None = None,
    html: str | None = None,
    attachments: list[tuple[str, str, bytes]] = (),
    headers: dict[str, str] | None = None,
) -> bytes:
    """A raw RFC 5322 mail as a mail client would send it."""
    from datetime import UTC, datetime

    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    if cc:
        message["Cc"] = cc
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    if message_id == "auto":
        message["Message-ID"] = make_msgid(f"t{next(_counter)}", domain="client.example.com")
    elif message_id:
        message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = references
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    if html:
        message.add_alternative(html, subtype="html")
    for filename, content_type, data in attachments:
        maintype, _, subtype = content_type.partition("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes()


def ingest(raw: bytes, **kwargs) -> InboundMail:
    """Store and (inline) process one mail; the row as it ended."""
    received = intake.receive(raw, kwargs.pop("source", "pipe"), **kwargs)
    session().expire_all()
    return session().get(InboundMail, received.inbound.id)


def ticket_of(row: InboundMail) -> Ticket | None:
    return session().get(Ticket, row.ticket_id) if row.ticket_id else None


def corpus(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


@pytest.fixture
def support(departments):
    """Departments with mail addresses: mail to support@ goes to Account."""
    departments["account"].email = "support@example.com"
    departments["billing"].email = "billing@example.com"
    session().commit()
    return departments
