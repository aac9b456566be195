"""Polling IMAP mailboxes: fetch new mail, store it through the intake service, mark it done.

A mail is marked done on the server (moved to the processed folder, or flagged ``$HelpdeskDone``
and ``\\Seen``) only after its raw bytes are committed to the database, so a crash at any point
means at worst fetching it again — and the intake stores a Message-ID once. Mail larger than
``HELPDESK_INBOUND_MAIL_MAX_SIZE`` is not downloaded: its headers are recorded as a failed mail
for admins to see, and it stays on the server.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import re
import ssl
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..models import Mailbox, MailSecurity
from ..state import current_helpdesk

logger = logging.getLogger("flask_helpdesk.mail.imap")

DONE_FLAG = "$HelpdeskDone"
BATCH = 200  # mails per mailbox per run: a huge backlog is worked off over several runs
TIMEOUT = 60  # seconds for any one network operation


class MailboxError(Exception):
    """The mailbox could not be read (connection, TLS, login, folder)."""


@dataclass
class FetchReport:
    mailbox_id: int
    fetched: int = 0
    duplicates: int = 0
    set_aside: int = 0
    errors: list[str] = field(default_factory=list)


def _tls_context(mailbox: Mailbox) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not mailbox.verify_tls:
        # Only for a server reached on a trusted network with a self-signed certificate.
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def connect(mailbox: Mailbox, password: str) -> imaplib.IMAP4:
    """Open, secure and log in to *mailbox*; :class:`MailboxError` with a readable reason."""
    security = MailSecurity(mailbox.security)
    port = mailbox.port or (993 if security == MailSecurity.IMAPS else 143)
    try:
        if security == MailSecurity.IMAPS:
            client: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                mailbox.host, port, ssl_context=_tls_context(mailbox), timeout=TIMEOUT
            )
        else:
            client = imaplib.IMAP4(mailbox.host, port, timeout=TIMEOUT)
            if security == MailSecurity.STARTTLS:
                client.starttls(ssl_context=_tls_context(mailbox))
        client.login(mailbox.username, password)
        # Servers announce more after login (MOVE, UIDPLUS); imaplib keeps the greeting's list.
        status, data = client.capability()
        if status == "OK" and data and data[0]:
            client.capabilities = tuple(data[0].decode().upper().split())
    except (OSError, imaplib.IMAP4.error, ssl.SSLError) as exc:
        raise MailboxError(f"{mailbox.host}:{port}: {type(exc).__name__}: {exc}") from exc
    return client


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _check(response: tuple[str, list], what: str) -> list:
    status, data = response
    if status != "OK":
        raise MailboxError(f"{what}: {status} {data!r}")
    return data


def _uids(client: imaplib.IMAP4) -> list[bytes]:
    data = _check(client.uid("SEARCH", None, "UNDELETED", "UNKEYWORD", DONE_FLAG), "search")
    return (data[0] or b"").split()[:BATCH]


def _fetch_size(client: imaplib.IMAP4, uid: bytes) -> int:
    data = _check(client.uid("FETCH", uid, "(RFC822.SIZE)"), "fetch size")
    match = re.search(rb"RFC822\.SIZE (\d+)", data[0] if isinstance(data[0], bytes) else b"")
    return int(match.group(1)) if match else 0


def _fetch_part(client: imaplib.IMAP4, uid: bytes, part: str) -> bytes:
    data = _check(client.uid("FETCH", uid, f"({part})"), "fetch")
    for item in data:
        if isinstance(item, tuple) and len(item) == 2:
            return item[1]
    raise MailboxError(f"fetch: no body for UID {uid.decode()}")


def _mark_done(client: imaplib.IMAP4, uid: bytes, mailbox: Mailbox) -> None:
    if mailbox.processed_folder:
        target = _quote(mailbox.processed_folder)
        if "MOVE" in client.capabilities:
            _check(client.uid("MOVE", uid, target), "move")
            return
        _check(client.uid("COPY", uid, target), "copy")
        _check(client.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)"), "delete")
        if "UIDPLUS" in client.capabilities:
            client.uid("EXPUNGE", uid)
        else:
            client.expunge()
        return
    _check(client.uid("STORE", uid, "+FLAGS.SILENT", rf"(\Seen {DONE_FLAG})"), "flag")


class Intake(Protocol):
    """Where fetched mail goes (:mod:`flask_helpdesk.services.intake`): this module only talks
    IMAP and knows nothing of the services that store and file the mail."""

    def receive(self, raw: bytes, source: str, mailbox: Mailbox | None = None) -> Any: ...

    def set_aside_oversized(
        self, headers: bytes, size: int, source: str, mailbox: Mailbox | None = None
    ) -> Any: ...


def fetch_mailbox(mailbox: Mailbox, password: str, intake: Intake) -> FetchReport:
    """Fetch one batch of new mail from *mailbox* into *intake* (see module docstring)."""
    report = FetchReport(mailbox.id)
    client = connect(mailbox, password)
    try:
        _check(client.select(_quote(mailbox.folder or "INBOX")), "select")
        if mailbox.processed_folder:
            client.create(_quote(mailbox.processed_folder))  # "already exists" is fine
        limit = current_helpdesk.config["HELPDESK_INBOUND_MAIL_MAX_SIZE"]
        for uid in _uids(client):
            size = _fetch_size(client, uid)
            if limit and size > limit:
                header = _fetch_part(client, uid, "BODY.PEEK[HEADER]")
                received = intake.set_aside_oversized(header, size, "imap", mailbox)
                report.set_aside += 1
            else:
                raw = _fetch_part(client, uid, "BODY.PEEK[]")
                received = intake.receive(raw, "imap", mailbox=mailbox)
            if received.duplicate:
                report.duplicates += 1
            else:
                report.fetched += 1
            # Stored and committed: only now may the server forget it.
            _mark_done(client, uid, mailbox)
        if mailbox.processed_folder:
            client.expunge()
    finally:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            client.logout()
    return report
