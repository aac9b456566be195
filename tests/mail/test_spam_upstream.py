"""A spam verdict our receiving mail server wrote (X-Spam-Flag and friends) quarantines a new
ticket from mail, even before the filter has learned anything; a "No" changes nothing."""

from __future__ import annotations

import pytest

from flask_helpdesk.models import TicketStatus
from flask_helpdesk.state import current_helpdesk
from tests.mail.conftest import ingest, make_mail, ticket_of


@pytest.mark.parametrize(
    "header",
    [("X-Spam-Flag", "YES"), ("X-Spam", "Yes"), ("X-Spam-Status", "Yes, score=9.3 required=5.0")],
)
def test_mail_flagged_by_our_server_goes_to_spam(app, support, header):
    row = ingest(make_mail(headers=dict([header])))
    ticket = ticket_of(row)
    assert ticket.status == TicketStatus.SPAM
    assert row.status.value == "processed"  # kept and linked: nothing is lost


def test_mail_our_server_found_clean_opens_a_ticket(app, support):
    row = ingest(make_mail(headers={"X-Spam-Status": "No, score=0.1 required=5.0"}))
    assert ticket_of(row).status == TicketStatus.OPEN


def test_upstream_verdicts_can_be_ignored(app, support, monkeypatch):
    monkeypatch.setitem(current_helpdesk.config, "HELPDESK_SPAM_TRUST_UPSTREAM", False)
    row = ingest(make_mail(headers={"X-Spam-Flag": "YES"}))
    assert ticket_of(row).status == TicketStatus.OPEN
