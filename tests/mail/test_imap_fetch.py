"""``flask helpdesk fetch-mail`` against a real IMAP server (a private dovecot per test)."""

from __future__ import annotations

import imaplib
import os
import ssl

import pytest
from sqlalchemy import func, select

from flask_helpdesk.models import InboundMail, InboundStatus, Mailbox, Ticket
from flask_helpdesk.services import mailboxes
from flask_helpdesk.services.base import session
from flask_helpdesk.services.identity import SYSTEM
from tests.mail.conftest import corpus, make_mail
from tests.mail.dovecot import IMAP_VARIABLE, dovecot_binary, start_dovecot, stop_dovecot

BINARY = dovecot_binary()
pytestmark = pytest.mark.skipif(
    BINARY is None or not os.path.exists(BINARY),
    reason=f"no dovecot: install dovecot-imapd or set {IMAP_VARIABLE} to the dovecot binary",
)


@pytest.fixture
def imap(tmp_path):
    server = start_dovecot(BINARY, tmp_path / "dovecot")
    yield server
    stop_dovecot(server)


def client_for(server) -> imaplib.IMAP4:
    client = imaplib.IMAP4(server.host, server.port)
    client.login(server.username, server.password)
    return client


def deliver(server, *mails: bytes, folder: str = "INBOX") -> None:
    """Put mail into the mailbox the way a mail server would (IMAP APPEND)."""
    client = client_for(server)
    for raw in mails:
        status, _ = client.append(folder, None, None, raw)
        assert status == "OK"
    client.logout()


def uids(server, folder: str, *criteria: str) -> list[bytes]:
    client = client_for(server)
    client.select(folder)
    data = client.uid("SEARCH", None, *(criteria or ("ALL",)))[1]
    client.logout()
    return data[0].split()


def add_mailbox(departments, server, **options) -> Mailbox:
    options.setdefault("security", "none")
    port = server.ssl_port if options["security"] == "imaps" else server.port
    return mailboxes.create_mailbox(
        SYSTEM,
        departments["billing"],
        server.host,
        server.username,
        options.pop("password", server.password),
        port=port,
        address="billing@example.com",
        **options,
    )


def fetch(app) -> object:
    return app.test_cli_runner().invoke(args=["helpdesk", "fetch-mail"])


def count(model) -> int:
    return session().scalar(select(func.count()).select_from(model))


def test_fetch_mail_makes_tickets_and_flags_the_mail(app, departments, imap):
    add_mailbox(departments, imap)
    deliver(imap, make_mail(subject="Refund please"), corpus("out_of_office.eml"))
    result = fetch(app)
    assert result.exit_code == 0, result.output
    assert "2 new" in result.output
    ticket = session().scalar(select(Ticket))
    assert ticket.subject == "Refund please"
    assert ticket.department.slug == "billing"
    statuses = sorted(r.status for r in session().scalars(select(InboundMail)))
    assert statuses == [InboundStatus.IGNORED, InboundStatus.PROCESSED]
    # Both stay on the server, flagged as done, and are not fetched again.
    assert len(uids(imap, "INBOX", "KEYWORD", "$HelpdeskDone", "SEEN")) == 2
    again = fetch(app)
    assert "0 new" in again.output
    assert count(InboundMail) == 2


def test_processed_mail_is_moved_to_the_processed_folder(app, departments, imap):
    add_mailbox(departments, imap, processed_folder="Helpdesk/Done")
    deliver(imap, make_mail(subject="One"), make_mail(subject="Two"))
    assert fetch(app).exit_code == 0
    assert uids(imap, "INBOX") == []
    assert len(uids(imap, "Helpdesk/Done")) == 2
    assert count(Ticket) == 2


def test_imaps_with_a_self_signed_certificate(app, departments, imap):
    mailbox = add_mailbox(departments, imap, security="imaps")
    deliver(imap, make_mail(subject="Over TLS"))
    # Verifying the certificate (the default) refuses the self-signed one, and says why.
    result = fetch(app)
    assert result.exit_code == 1
    session().refresh(mailbox)
    assert "CERTIFICATE_VERIFY_FAILED" in mailbox.last_error
    assert count(InboundMail) == 0
    mailbox.verify_tls = False
    session().commit()
    assert fetch(app).exit_code == 0
    assert session().scalar(select(Ticket.subject)) == "Over TLS"


def test_starttls_and_a_password_from_the_environment(app, departments, imap, monkeypatch):
    monkeypatch.setenv("BILLING_IMAP_PASSWORD", imap.password)
    add_mailbox(
        departments,
        imap,
        security="starttls",
        verify_tls=False,
        password="env:BILLING_IMAP_PASSWORD",
    )
    deliver(imap, make_mail(subject="Secure start"))
    assert fetch(app).exit_code == 0
    assert session().scalar(select(Ticket.subject)) == "Secure start"
    assert ssl.OPENSSL_VERSION  # the TLS handshake above was real


def test_a_broken_mailbox_does_not_stop_the_others(app, departments, imap):
    bad = add_mailbox(departments, imap, password="wrong")
    add_mailbox(departments, imap)
    deliver(imap, make_mail(subject="Still arrives"))
    result = fetch(app)
    assert result.exit_code == 1
    session().refresh(bad)
    assert "AUTHENTICATIONFAILED" in bad.last_error or "Authentication" in bad.last_error
    assert session().scalar(select(Ticket.subject)) == "Still arrives"


def test_an_oversized_mail_is_set_aside_and_the_rest_goes_on(app, departments, imap):
    app.extensions["helpdesk"].config["HELPDESK_INBOUND_MAIL_MAX_SIZE"] = 50_000
    add_mailbox(departments, imap)
    big = make_mail(
        subject="Huge scan", attachments=[("scan.pdf", "application/pdf", b"x" * 80_000)]
    )
    deliver(imap, make_mail(subject="Before"), big, make_mail(subject="After"))
    assert fetch(app).exit_code == 0
    subjects = set(session().scalars(select(Ticket.subject)))
    assert subjects == {"Before", "After"}
    failed = session().scalar(select(InboundMail).where(InboundMail.status == "failed"))
    assert failed.subject == "Huge scan"
    assert "too large" in failed.reason
    assert failed.size > 80_000
