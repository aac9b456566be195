"""Fixtures for the mail channel: building raw mails, ingesting them, real IMAP/SMTP servers."""

from __future__ import annotations

from pathlib import Path

import pytest

from flask_helpdesk.models import InboundMail, Ticket
from flask_helpdesk.services import intake
from flask_helpdesk.services.base import session

# Fixtures of other folders this one uses: desk staff (admin pages) and the real SMTP server.
from tests.desk.conftest import admin, agent, lan  # noqa: F401
from tests.jobs.conftest import smtp  # noqa: F401
from tests.mail.mails import make_mail  # noqa: F401  (imported from here by the tests)
from tests.mail.senders import dns  # noqa: F401  (verifiable senders: tests/mail/senders.py)

CORPUS = Path(__file__).parent / "corpus"


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
