"""Two workers fetching the same IMAP mailbox at the same moment (a real dovecot, real parallel
transactions on PostgreSQL): every mail becomes one ticket, once."""

from __future__ import annotations

import contextlib
import os
import threading

import pytest
from sqlalchemy import func, select

from flask_helpdesk.models import InboundMail, InboundStatus, Message, Ticket
from flask_helpdesk.services import intake, mailboxes
from flask_helpdesk.services.base import session
from tests.conftest import DATABASE_URL_VARIABLE
from tests.mail.conftest import make_mail
from tests.mail.dovecot import IMAP_VARIABLE, dovecot_binary, start_dovecot, stop_dovecot
from tests.mail.test_imap_fetch import add_mailbox, deliver, uids
from tests.parallel import run_at_once

BINARY = dovecot_binary()
# Each skip names only the variable that is missing: CI's report check refuses a skip that
# names a service the run provides (the SQLite run has dovecot but no PostgreSQL).
pytestmark = [
    pytest.mark.skipif(
        BINARY is None or not os.path.exists(BINARY),
        reason=f"set {IMAP_VARIABLE} to a dovecot binary",
    ),
    pytest.mark.skipif(
        not os.environ.get(DATABASE_URL_VARIABLE, "").startswith("postgresql"),
        reason=f"set {DATABASE_URL_VARIABLE} to a PostgreSQL URL",
    ),
]

MAILS = 12


@pytest.fixture
def imap(tmp_path):
    server = start_dovecot(BINARY, tmp_path / "dovecot")
    yield server
    stop_dovecot(server)


def test_two_workers_fetching_one_mailbox_at_once_file_each_mail_once(
    app, departments, imap, database_url, tmp_path, monkeypatch
):
    add_mailbox(departments, imap)
    deliver(imap, *(make_mail(subject=f"Order {n}") for n in range(MAILS)))
    # Both workers list the same new mail, and each waits (at most 2 s) after its first mail
    # until the other has reached its first mail too: they then work through the same list
    # side by side, neither finishing before the other starts.
    stored = threading.Barrier(2, timeout=2)
    original = intake.receive
    first = threading.local()

    def receive_then_wait(*args, **kwargs):
        received = original(*args, **kwargs)
        if not getattr(first, "done", False):
            first.done = True
            with contextlib.suppress(threading.BrokenBarrierError):
                stored.wait()
        return received

    monkeypatch.setattr(intake, "receive", receive_then_wait)

    def fetch(_index: int):
        return mailboxes.fetch_all()[0][1]

    reports = run_at_once(database_url, tmp_path, fetch)
    assert all(not isinstance(report, str) for report in reports), reports
    # Between them they stored each mail once; what one stored the other counted a duplicate.
    assert sum(report.fetched for report in reports) == MAILS
    assert sum(report.fetched + report.duplicates for report in reports) >= MAILS
    session().expire_all()
    assert session().scalar(select(func.count()).select_from(InboundMail)) == MAILS
    statuses = set(session().scalars(select(InboundMail.status)))
    assert statuses == {InboundStatus.PROCESSED}
    subjects = sorted(session().scalars(select(Ticket.subject)))
    assert subjects == sorted(f"Order {n}" for n in range(MAILS))
    ids = list(session().scalars(select(Message.email_message_id)))
    assert len(ids) == len(set(ids)) == MAILS
    # And every mail is marked done on the server.
    assert len(uids(imap, "INBOX", "KEYWORD", "$HelpdeskDone")) == MAILS
