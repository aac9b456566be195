"""The one way inbound mail becomes tickets and replies, whatever channel brought it.

IMAP polling, the webhook and the stdin pipe all call :func:`receive`, which stores the raw bytes
and commits *before anything parses them*, then enqueues :func:`process` as a job. Processing
claims the row, parses it, drops noise, threads it and posts through ``open_ticket`` /
``post_message``; the ticket or reply, its attachments, the To/Cc participants and the row's
status and link are one transaction (:func:`services.base.unit_of_work`), and the
notifications are dispatched only after it committed. Any failure rolls all of it back and
marks the row ``failed`` with the reason; a crash leaves it ``received`` (or ``processing`` on a
retry) and :func:`sweep` picks it up again. A delivery is a duplicate only when the Message-ID
**and** the content match (:mod:`flask_helpdesk.mail.fingerprint`): other systems reuse
Message-IDs, and their mail is stored and processed like any other.
"""

from __future__ import annotations

import email.message
import email.parser
import email.policy
import logging
import os
import re
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from sqlalchemy import any_, bindparam, func, inspect, or_, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection
from sqlalchemy.orm import selectinload, undefer
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from .. import jobs
from ..mail import fingerprint
from ..mail.headerblock import parse_block, plain_header_items
from ..mail.peek import (
    BadEnvelopeSender,
    PeekedHeaders,
    clean_envelope_sender,
    peek_headers,
    peek_items,
    usable_address,
)
from ..models import InboundMail, InboundStatus, Mailbox, utcnow
from ..state import current_helpdesk
from . import audit, facts, mail_auth
from .base import (
    UNIT_DEPTH_KEY,
    NotFound,
    ServiceError,
    commit,
    insert_loaded,
    kept_as_committed,
    kept_for_inline_jobs,
    rollback,
    savepoint_unit,
    session,
    unit_of_work,
)
from .identity import SYSTEM, Actor
from .mail_posting import CLAIM_UNWRITTEN, handle
from .permissions import ensure
from .prepared import prepared_once

logger = logging.getLogger("flask_helpdesk.mail.intake")

# Tests set this to make processing sleep on mail carrying "X-Helpdesk-Test-Sleep: <seconds>",
# so a worker can be killed mid-way. Off in production: a header must never pause the desk.
TESTING_HOOKS_ENV = "HELPDESK_TESTING_HOOKS"
SOURCES = ("imap", "webhook", "pipe")


class MailTooLarge(ServiceError):
    status_code = 413


class InvalidEnvelopeSender(ServiceError):
    status_code = 400


class ProcessingTimeout(Exception):
    pass


@dataclass
class Received:
    inbound: InboundMail
    duplicate: bool


# -- storing ----------------------------------------------------------------------------------


def _key(raw: bytes, parsed: ParsedHead | None = None) -> tuple[str | None, str]:
    """The mail's Message-ID and its dedup key (the Message-ID and the content's hash).
    *parsed*: :func:`_parse_head` of *raw*, if the caller has it."""
    _head_block, body_start, headers = parsed or _parse_head(raw)
    # The raw value: the parser makes one with 8-bit bytes a Header object.
    message_id = fingerprint.normalized_message_id(fingerprint.raw_header(headers, "Message-ID"))
    rest = headers.get_payload()
    content = fingerprint.content_hash(headers.items(), raw, body_start, str(rest or ""))
    return message_id, fingerprint.dedup_key(message_id, content)


# The header block of a raw mail (fingerprint.split), where its body starts, and the block
# as the header parser reads it.
ParsedHead = tuple[bytes, int, email.message.Message]


def _parse_head(raw: bytes) -> ParsedHead:
    head, body_start = fingerprint.split(raw)
    return head, body_start, parse_block(head)


def _read_head(raw: bytes, plain: bool = True) -> tuple[PeekedHeaders, str | None, str]:
    """What :func:`receive` stores of *raw*'s headers: the peek (sender, subject), the
    Message-ID and the dedup key. *plain* False: always through the parser (tests)."""
    head, body_start = fingerprint.split(raw)
    items = plain_header_items(head) if plain else None
    if items is not None:
        # A plain header block (ASCII, every line a header or a continuation: most mail),
        # read in one pass without the parser: the values the parser would read.
        message_id = fingerprint.normalized_message_id(_first(items, "message-id"))
        content = fingerprint.content_hash(items, raw, body_start)
        return peek_items(items), message_id, fingerprint.dedup_key(message_id, content)
    # The header block parsed once for both (the peek reads the same block when it needs
    # no mending).
    parsed = (head, body_start, parse_block(head))
    headers = peek_headers(_head(raw), parsed_block=(head, parsed[2]))
    return (headers, *_key(raw, parsed))


def _first(items: list[tuple[str, str]], name: str) -> str | None:
    """The first value of the header *name* (lowercase) among *items*, as ``Message.get``."""
    return next((value for key, value in items if key.lower() == name), None)


def _text(value: object, limit: int) -> str:
    text = str(value or "").replace("\x00", "")
    text = text.encode("utf-8", "replace").decode("utf-8")
    return re.sub(r"\s+", " ", text).strip()[:limit]


def receive(
    raw: bytes,
    source: str,
    mailbox: Mailbox | None = None,
    department_id: int | None = None,
    recipient: str | None = None,
    envelope_sender: str | None = None,
    provider_verdict: str | None = None,
) -> Received:
    """Store one raw mail (committed at once) and enqueue its processing.

    *envelope_sender* is the SMTP ``MAIL FROM`` the mail server handed over (``""`` or
    ``"<>"`` for a bounce's null sender), cleaned by :func:`envelope_sender_of`.
    *provider_verdict*: what a provider's signed webhook post said of the sender
    (``"mailgun; spf=pass; dkim=pass"``), used when no trusted header says more.
    Raises :class:`MailTooLarge` above ``HELPDESK_INBOUND_MAIL_MAX_SIZE`` (the channel refuses
    it, so the sender's server bounces it) — see :func:`set_aside_oversized` for IMAP; and
    :class:`InvalidEnvelopeSender` for one longer than SMTP allows (nothing is stored).
    """
    if source not in SOURCES:
        raise ValueError(f"unknown mail source {source!r}")
    limit = current_helpdesk.config["HELPDESK_INBOUND_MAIL_MAX_SIZE"]
    if limit and len(raw) > limit:
        raise MailTooLarge(f"mail of {len(raw)} bytes is larger than {limit} bytes")
    envelope = envelope_sender_of(envelope_sender)
    headers, message_id, key = _read_head(raw)
    row = InboundMail(
        dedup_key=key,
        message_id=message_id[:998] if message_id else None,
        source=source,
        mailbox_id=_id_of(mailbox),
        department_id=department_id,
        recipient=_text(recipient, 254) or None,
        sender=headers.sender or _envelope_address(envelope),
        envelope_sender=envelope,
        provider_verdict=_text(provider_verdict, 100) or None,
        subject=_text(headers.subject, 255),
        size=len(raw),
        raw=raw,
        status=InboundStatus.RECEIVED,
        attempts=0,
        received_at=utcnow(),
    )
    alone = _store_alone()
    # One statement, not the ORM's unit of work (0.57 ms of CPU for this one INSERT); the
    # same mail stored earlier, or a moment ago by another process, inserts nothing.
    if not insert_loaded(row, skip_if_taken="dedup_key"):
        existing = _by_key(key)
        if alone:
            _end_alone()
        return Received(existing, True)
    if current_helpdesk.dispatcher.uses_rq:
        # Not a job per mail: the id joins a list that one job works through (RQ's own
        # bookkeeping of a job cost more CPU than the mail's processing).
        jobs.enqueue_item(process_received, process, row.id)
        commit()
        return Received(row, False)
    # Inline, processing runs in this process right after the commit: it takes the bytes it
    # would otherwise read back (a connection of its own and a SELECT), and claims the row
    # as stored here without loading it again (see _claim_fresh).
    jobs.enqueue(process, row.id, stored=(raw, envelope, row.provider_verdict))
    with kept_for_inline_jobs():
        commit()
    return Received(row, False)


def _id_of(mailbox: Mailbox | None) -> int | None:
    """*mailbox*'s id without loading it again when a commit expired it (the IMAP fetcher's
    mailbox after its first mail): that load would open a transaction before the store."""
    if mailbox is None:
        return None
    identity = inspect(mailbox).identity
    return identity[0] if identity else mailbox.id


def _store_alone() -> bool:
    """On PostgreSQL, when nothing of the caller's is in a transaction (the pipe, the webhook
    without a department, the IMAP fetcher's every mail after its first), the store's INSERT
    is its own transaction: the session's connection in autocommit, so the INSERT commits as
    it runs. ``BEGIN`` and ``COMMIT`` were two of the store's three round trips, about a third
    of its backend's CPU. The commit that follows (:func:`services.base.commit`) then finds
    nothing to commit and queues the processing, as after any commit: the row is stored
    before its job is, never the job before the row. A caller with a transaction open (reads
    or writes of its own) keeps it: the store joins it, and the commit ends both."""
    db = session()()
    if db.in_transaction() or db.info.get(UNIT_DEPTH_KEY):
        # A unit_of_work() is one transaction even before its first statement: its exception
        # rolls the store back with the rest.
        return False
    bind = db.get_bind(InboundMail)
    if bind.dialect.name != "postgresql":
        return False  # SQLite: a statement outside a transaction is one of its own anyway
    if isinstance(bind, Connection):
        # A host's session bound to its own connection (its tests' outer transaction): that
        # transaction is the host's, the store joins it (SQLAlchemy refuses a change of
        # isolation level inside it, and autocommit would keep what the host rolls back).
        return False
    db.connection(
        bind_arguments={"mapper": InboundMail.__mapper__},
        execution_options={"isolation_level": "AUTOCOMMIT"},
    )
    return True


def _end_alone() -> None:
    """After :func:`_store_alone` when the store inserted nothing (a duplicate, which commits
    nothing): the session's transaction on the autocommit connection ends here, so the
    connection goes back to its pool (which restores its isolation level) and the caller's
    next writes are a transaction again, which a rollback undoes, not statements each
    committed as it runs. Nothing is written, so nothing is committed (no COMMIT is sent in
    autocommit), and the rows loaded stay loaded (no reload of the duplicate's row)."""
    db = session()()
    expire = db.expire_on_commit
    db.expire_on_commit = False
    try:
        db.commit()
    finally:
        if db.expire_on_commit is False:  # unless the commit ended a kept_for_inline_jobs
            db.expire_on_commit = expire


def envelope_sender_of(value: str | None) -> str | None:
    """*value* as stored (see :func:`~flask_helpdesk.mail.peek.clean_envelope_sender`);
    :class:`InvalidEnvelopeSender` when no mail server would have sent it."""
    try:
        return clean_envelope_sender(value)
    except BadEnvelopeSender as error:
        raise InvalidEnvelopeSender(str(error)) from None


def _envelope_address(envelope: str | None) -> str | None:
    """The envelope sender as the mail's sender when no header names one (never ``<>``)."""
    address = usable_address(envelope or "")
    return address.lower() if address else None


def _head(raw: bytes) -> bytes:
    """Enough of *raw* for its headers (at least 64 kB, for junk lines before them): a header
    parser reads, and copies, whatever it is given, and the mail may be 25 MB."""
    return raw[: max(fingerprint.split(raw)[1], 64 << 10)]


def _by_key(key: str) -> InboundMail:
    return session().scalars(select(InboundMail).where(InboundMail.dedup_key == key)).one()


def set_aside_oversized(
    headers: bytes, size: int, source: str, mailbox: Mailbox | None = None
) -> Received:
    """Record a mail too large to fetch (its headers only) as ``failed``, for admins to see."""
    peek = peek_headers(headers)
    message_id, key = _key(headers)
    existing = session().scalar(select(InboundMail).where(InboundMail.dedup_key == key))
    if existing is not None:
        return Received(existing, True)
    limit = current_helpdesk.config["HELPDESK_INBOUND_MAIL_MAX_SIZE"]
    row = InboundMail(
        dedup_key=key,
        message_id=message_id,
        source=source,
        mailbox_id=mailbox.id if mailbox is not None else None,
        sender=peek.sender,
        subject=_text(peek.subject, 255),
        size=size,
        raw=headers,
        status=InboundStatus.FAILED,
        reason=f"too large: {size} bytes (limit {limit}); only the headers were fetched, "
        "the mail is still in the mailbox",
        attempts=0,
        received_at=utcnow(),
    )
    session().add(row)
    commit()
    return Received(row, False)


# -- processing -------------------------------------------------------------------------------


def _claim_fresh(inbound_id: int, with_raw: bool = False) -> InboundMail | None:
    """Take a mail never tried before, inside the transaction that will store its result.

    No commit of its own (one fsync less per mail): a concurrent worker's claim waits for ours
    and then finds the mail done. A crash leaves it ``received`` for :func:`sweep`, whose
    :func:`_claim` commits, so a mail that crashes its worker is counted and not retried for
    ever. The row, raw bytes included, comes back with the UPDATE where the database can;
    *with_raw*: on PostgreSQL, with the lock (see :func:`_claim_with_raw`)."""
    params = {"inbound_id": inbound_id, "now": utcnow()}
    stored = session().identity_map.get(identity_key(InboundMail, inbound_id))
    if stored is not None and kept_as_committed(stored):
        # Inline right after receive() committed it: the row in the session is as stored,
        # only what the claim changes is set on it (no RETURNING of every column).
        # Compiled once and run on the session's connection (services.prepared): through
        # Session.execute the UPDATE cost about twice as much CPU.
        connection = session().connection(bind_arguments={"mapper": InboundMail.__mapper__})
        claim = prepared_once("fresh claim", connection, lambda: _fresh_claim(None), _BINDS)
        if claim.rowcount(connection, params) != 1:
            return None
        for name, value in (("status", InboundStatus.PROCESSING), ("attempts", 1)):
            set_committed_value(stored, name, value)
        set_committed_value(stored, "claimed_at", params["now"])
        return stored
    dialect = session().get_bind(InboundMail).dialect
    if dialect.name == "postgresql":
        # The row locked, not updated: a concurrent claim waits as for an UPDATE and then finds
        # it taken (PostgreSQL checks the conditions again on the row the commit left), and
        # the claim's columns go out with the outcome (mail_posting._finish): one new version
        # of the row a mail instead of two, each with an entry in its eight indexes (0.25 ms
        # of server CPU). A crash rolls either back; the mail stays 'received' for the sweep.
        row = (
            session()
            .scalars(_fresh_lock(with_raw), params, execution_options={"populate_existing": True})
            .one_or_none()
        )
        if row is not None:
            _locked(row, params["now"])
        return row
    if dialect.update_returning:
        return (
            session()
            .scalars(_fresh_claim(True), params, execution_options={"populate_existing": True})
            .one_or_none()
        )
    if session().execute(_fresh_claim(False), params).rowcount != 1:
        return None
    return session().get(InboundMail, inbound_id, populate_existing=True)


_BINDS = ("inbound_id", "now")  # the fresh claim's parameters


def _locked(row: InboundMail, now) -> None:
    """*row*, locked by a fresh claim on PostgreSQL, as claimed: its claim's columns set in
    memory, written with the outcome (see :func:`_claim_fresh`)."""
    for name, value in (("status", InboundStatus.PROCESSING), ("attempts", 1)):
        set_committed_value(row, name, value)
    set_committed_value(row, "claimed_at", now)
    setattr(row, CLAIM_UNWRITTEN, True)


@cache
def _fresh_claim(returning: bool | None):
    """The claim, built once a process: building it (its comparisons and values) cost a third
    of the claim. ``returning=None``: on the table, without the ORM (the row is in hand)."""
    mail = InboundMail.__table__.c if returning is None else InboundMail
    claim = (
        update(InboundMail.__table__ if returning is None else InboundMail)
        .where(
            mail.id == bindparam("inbound_id"),
            mail.status == InboundStatus.RECEIVED,
            mail.attempts == 0,
        )
        .values(status=InboundStatus.PROCESSING, claimed_at=bindparam("now"), attempts=1)
    )
    if returning is None:
        return claim
    # The ORM does not look for the row among loaded objects: the claimed row comes back
    # with the UPDATE (populate_existing), or is loaded after it.
    claim = claim.execution_options(synchronize_session=False)
    return claim.returning(InboundMail) if returning else claim


@cache
def _fresh_lock(with_raw: bool = False):
    """PostgreSQL's fresh claim (see :func:`_claim_fresh`), built once a process; *with_raw*:
    the raw bytes come with the row."""
    query = select(InboundMail).where(
        InboundMail.id == bindparam("inbound_id"),
        InboundMail.status == InboundStatus.RECEIVED,
        InboundMail.attempts == 0,
    )
    if with_raw:
        query = query.options(undefer(InboundMail.raw))
    return query.with_for_update(key_share=True)  # FOR NO KEY UPDATE: what the UPDATE takes


def _claims_with_raw() -> bool:
    """Whether a fresh mail's claim reads its raw bytes too (:func:`_claim_with_raw`): on
    PostgreSQL, with the process's DNS cache on (off, the check always needs DNS: the claim
    would read the bytes, end its transaction, and the mail be read and claimed again)."""
    return session().get_bind(InboundMail).dialect.name == "postgresql" and mail_auth.caches()


def _claim_with_raw(inbound_id: int) -> tuple[InboundMail, mail_auth.Verdict] | None:
    """On PostgreSQL, a fresh mail's claim and its raw bytes in one statement (the row locked
    as :func:`_claim_fresh` locks it, the bytes with it), and the sender check on the
    process's DNS cache alone while the row is locked: no lock ever waits on DNS. The raw
    read on a connection of its own before the claim (:func:`_stored_raw`) was a statement
    and a connection's checkout a mail, about a fifth of a worker's CPU with the claim.

    None when the mail is not fresh (done, taken by another worker, left by a crash) or its
    check needs a DNS answer the cache does not hold (the sender's domain is new to this
    process, its answer expired, the cache is off): the transaction, which wrote nothing,
    ends (a COMMIT: a ROLLBACK makes psycopg forget its prepared statements) and the mail
    goes the way it went before: read, checked with DNS, then claimed."""
    row = _claim_fresh(inbound_id, with_raw=True)
    if row is not None and row.raw is not None:
        verdict = mail_auth.check_from_cache(row.raw, row.envelope_sender, row.provider_verdict)
        if verdict is not None:
            return row, verdict
        setattr(row, CLAIM_UNWRITTEN, False)
    session().commit()
    return None


def _write_claim(row: InboundMail) -> None:
    """The claim of a row :func:`_claim_fresh` only locked, when processing ended without
    writing its outcome (which carries it): the row is never left 'received' and unclaimed
    by a transaction that stored what the mail became."""
    if getattr(row, CLAIM_UNWRITTEN, False):
        session().execute(_fresh_claim(None), {"inbound_id": row.id, "now": row.claimed_at})
        setattr(row, CLAIM_UNWRITTEN, False)


def _claim(inbound_id: int, force: bool) -> InboundMail | None:
    """Take the row for another try, committed at once so that the attempt counts even if this
    try crashes the process (a mail that kills its worker is not retried for ever); None if
    another worker has it or it is done."""
    config = current_helpdesk.config
    now = utcnow()
    stale = now - timedelta(seconds=config["HELPDESK_MAIL_STALE_AFTER"])
    claimable = or_(
        InboundMail.status == InboundStatus.RECEIVED,
        (InboundMail.status == InboundStatus.PROCESSING)
        & (InboundMail.claimed_at < stale)
        & (InboundMail.attempts < config["HELPDESK_MAIL_MAX_ATTEMPTS"]),
    )
    if force:  # an admin's retry: whatever the number of attempts
        claimable = or_(claimable, InboundMail.status == InboundStatus.FAILED)
    else:  # automatic retries, spaced, a few times, never for mail we could not fetch whole
        claimable = or_(claimable, _auto_retry(stale))
    result = session().execute(
        update(InboundMail)
        .where(InboundMail.id == inbound_id, claimable)
        .values(
            status=InboundStatus.PROCESSING,
            claimed_at=now,
            attempts=InboundMail.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    commit()
    if result.rowcount != 1:
        return None
    return session().get(InboundMail, inbound_id, populate_existing=True)


def _auto_retry(stale):
    config = current_helpdesk.config
    return (
        (InboundMail.status == InboundStatus.FAILED)
        & (InboundMail.attempts < config["HELPDESK_MAIL_MAX_ATTEMPTS"])
        & (InboundMail.claimed_at < stale)
        & (InboundMail.size <= config["HELPDESK_INBOUND_MAIL_MAX_SIZE"])
    )


def _testing_pause(row: InboundMail) -> None:
    if not os.environ.get(TESTING_HOOKS_ENV):
        return
    match = re.search(rb"^X-Helpdesk-Test-Sleep:\s*([0-9.]+)", row.raw, re.MULTILINE | re.I)
    if match:
        logger.warning("testing hook: inbound mail #%s pauses %s s", row.id, match.group(1))
        time.sleep(float(match.group(1)))


@contextmanager
def _time_limit(seconds: float):
    """Interrupt processing of one mail after *seconds* (inline, main thread only: RQ has
    its own job timeout and owns SIGALRM in its workers)."""
    usable = (
        seconds
        and threading.current_thread() is threading.main_thread()
        and not current_helpdesk.dispatcher.uses_rq
        and hasattr(signal, "setitimer")
    )
    if not usable:
        yield
        return

    def expired(signum, frame):
        raise ProcessingTimeout(f"processing took longer than {seconds} seconds")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


_UNFINISHED = (InboundStatus.RECEIVED, InboundStatus.PROCESSING, InboundStatus.FAILED)


@cache
def _raw_query(fresh_only: bool):
    """The read of :func:`_stored_raw`, built once a process (building it, its comparisons
    above all, cost as much CPU as running it)."""
    table = InboundMail.__table__
    columns = (table.c.raw, table.c.envelope_sender, table.c.provider_verdict)
    query = select(*columns).where(table.c.id == bindparam("inbound_id"))
    if fresh_only:
        return query.where(table.c.status == InboundStatus.RECEIVED, table.c.attempts == 0)
    return query.where(table.c.status.in_(_UNFINISHED))


def _stored_raw(inbound_id: int, fresh_only: bool) -> tuple[bytes, str | None, str | None] | None:
    """The raw bytes (envelope sender and provider verdict, for SPF) of a mail still to
    process, read on a connection of its own that is returned at once: the sender check that
    follows may wait seconds on DNS, and no transaction of ours (no lock, no snapshot) may
    stay open meanwhile."""
    # Outside any transaction (AUTOCOMMIT): one round trip, and no ROLLBACK after it, which
    # would make psycopg forget its prepared statements (see jobs.commit_read_only_rollbacks).
    bind = session().get_bind(InboundMail)
    with bind.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        found = connection.execute(_raw_query(fresh_only), {"inbound_id": inbound_id}).first()
    return tuple(found) if found is not None and found[0] is not None else None


def process(
    inbound_id: int,
    force: bool = False,
    requester_id: int | None = None,
    retry: bool = False,
    accept_sender: bool = False,
    stored: tuple[bytes, str | None, str | None] | None = None,
) -> InboundMail | None:
    """Process one stored mail in its own transaction; never raises for the mail's fault.

    *requester_id* names the contact an admin filed the mail for (see :mod:`.mail_filing`).
    *retry* (the sweep) and *force* (an admin) claim in a commit of their own first.
    *accept_sender*: an agent released a held mail (the sender policy does not hold it again).
    *stored*: the raw bytes, envelope sender and provider verdict as :func:`receive` stored
    them a moment ago (inline jobs only: an RQ job carries the id alone). Whether the mail is
    still fresh is then left to the claim, which checks it in the same statement.
    Returns the row as it ended, or None when it was not claimable (done, or taken).
    """
    first_try = not (force or retry)
    locked = None
    if stored is None and first_try and _claims_with_raw():
        locked = _claim_with_raw(inbound_id)
    if locked is not None:
        row, verdict = locked
        fresh = True
    else:
        if stored is None or not first_try:
            stored = _stored_raw(inbound_id, fresh_only=first_try)
        fresh = stored is not None and first_try
        if stored is None and first_try:  # a job run again for a mail a crash left behind
            stored = _stored_raw(inbound_id, fresh_only=False)
        if stored is None:
            return None
        raw, envelope, provider = stored
        # Who sent it, before any transaction opens (DNS lookups; cached per process).
        verdict = mail_auth.check(raw, envelope, provider)
        claimed = _claim_fresh(inbound_id) if fresh else None
        fresh = claimed is not None
        if not fresh:
            claimed = _claim(inbound_id, force)
        if claimed is None:
            return None
        row = claimed
        set_committed_value(row, "raw", raw)  # as read above: not fetched a second time
    try:
        limit = current_helpdesk.config["HELPDESK_MAIL_PROCESS_TIMEOUT"]
        with _time_limit(limit), kept_for_inline_jobs(), unit_of_work():
            _testing_pause(row)
            handle(row, requester_id, verdict, accept_sender)
            _write_claim(row)
    except Exception as exc:
        rollback()
        reason = _failure_reason(exc)
        if not _mark_failed(inbound_id, reason, fresh):
            # What the mail became is committed; what failed came after the commit (a host's
            # signal receiver): marked failed, the mail would be filed again by a retry.
            logger.error("inbound mail #%s stored, then: %s", inbound_id, reason, exc_info=True)
            commit()  # nothing written
            return row
        logger.warning("inbound mail #%s failed: %s", inbound_id, reason, exc_info=True)
        commit()
    return row  # expired by the commit: what it ended as loads when read


def _mark_failed(inbound_id: int, reason: str, fresh: bool) -> bool:
    """The row set aside as ``failed`` with *reason*, in the current transaction; a fresh
    claim was rolled back with the rest of the mail: this try counts here. False when the
    row is no longer claimed (``received`` or ``processing``): its outcome is committed."""
    return (
        session()
        .execute(
            update(InboundMail)
            .where(
                InboundMail.id == inbound_id,
                InboundMail.status.in_((InboundStatus.RECEIVED, InboundStatus.PROCESSING)),
            )
            .values(
                status=InboundStatus.FAILED,
                reason=reason,
                processed_at=utcnow(),
                claimed_at=utcnow(),
                attempts=InboundMail.attempts + (1 if fresh else 0),
            )
            .execution_options(synchronize_session=False)
        )
        .rowcount
        == 1
    )


# The most mails a drain takes from its list for one batch (see process_batch): each mail is
# a savepoint of the batch's transaction, and PostgreSQL keeps up to 64 of a transaction's
# subtransactions in shared memory before other sessions' snapshots must look them up.
BATCH_SIZE = 10
# What a mail of a batch may fail with that says nothing about the mail: a deadlock with
# another worker's batch (both hold the locks of their earlier mails: a new sender's contact,
# the ticket a reply goes to), a serialization failure, a lock not available. Such a mail,
# and the rest of the batch after it, is processed alone once the batch is committed.
_TRANSIENT = frozenset({"40P01", "40001", "55P03"})


def batches() -> bool:
    """Whether a drain processes its mails in batches (:func:`process_batch`): on PostgreSQL
    with the process's DNS cache on. SQLite has one writer: a batch's transaction would keep
    the intake's INSERTs waiting for the whole batch."""
    return _claims_with_raw()


def process_batch(ids: list[int], deadline: float | None = None) -> list[int]:
    """Process the stored mails *ids* (a drain's batch, in the order they were listed) in
    one transaction: the fresh ones claimed by one statement (locked as
    :func:`_claim_fresh` locks one, their raw bytes with them), each in a savepoint of its
    own (:func:`services.base.savepoint_unit`), one ``COMMIT``, then their notifications.

    Each mail's result is what :func:`process` would store: a mail that fails rolls back
    alone (its savepoint) and is set aside as ``failed`` with the reason, in the batch's
    transaction; a crash rolls the whole batch back and every mail of it stays ``received``
    for the sweep, none half-done. A mail the batch does not take (done, taken by another
    worker, left by a crash) goes through :func:`process` alone. So does one whose sender
    check needs DNS (no lock waits on it) or that met a deadlock: the batch commits what it
    did before it, that mail is processed alone, and the ones after it are a new batch, so
    the mails are still done in the order they were listed.

    Past *deadline* (``time.monotonic()``, the drain's budget) no further mail is begun once
    one is done: the batch commits and the ids not reached are returned, in order, for the
    drain to list again (the job timeout never strikes in the middle of a batch)."""
    pending = list(ids)
    began = False  # a mail was done (or tried) by this call: the deadline may stop it

    def late() -> bool:
        return began and deadline is not None and time.monotonic() > deadline

    while len(pending) > 1 and _claims_with_raw():
        done: set[int] = set()
        stopped = None  # the mail the batch stopped at: processed alone next
        try:
            # The new tickets' roll-up rows upserted once, merged, at the batch's end.
            with kept_for_inline_jobs(), unit_of_work(), facts.rollup_at_the_end():
                for row in _claim_batch(pending):
                    if late():
                        stopped = row.id
                        break
                    verdict = None
                    if row.raw is not None:
                        verdict = mail_auth.check_from_cache(
                            row.raw, row.envelope_sender, row.provider_verdict
                        )
                    if verdict is None or not _in_batch(row, verdict):
                        stopped = row.id
                        break
                    done.add(row.id)
                    began = True
        except Exception:
            if not (done and _outcomes_committed(done)):
                raise
            # What failed came after the batch's commit (a host's signal receiver): its
            # mails are stored; the rest of the list is done as if nothing had happened.
            logger.error("inbound mails %s stored, then:", sorted(done), exc_info=True)
        upto = pending.index(stopped) + 1 if stopped is not None else len(pending)
        for index, inbound_id in enumerate(pending[:upto]):
            if late():
                return [i for i in pending[index:] if i not in done]
            if inbound_id not in done:  # not fresh, or the one the batch stopped at
                process(inbound_id)
                began = True
        pending = pending[upto:]
    for index, inbound_id in enumerate(pending):
        if late():
            return pending[index:]
        process(inbound_id)
        began = True
    return []


def _outcomes_committed(ids: set[int]) -> bool:
    """Whether none of the mails *ids* is still ``received`` or ``processing``: what a
    batch made of them is committed."""
    waiting = session().scalar(
        select(func.count())
        .select_from(InboundMail)
        .where(
            InboundMail.id.in_(ids),
            InboundMail.status.in_((InboundStatus.RECEIVED, InboundStatus.PROCESSING)),
        )
    )
    commit()  # read only
    return not waiting


def _claim_batch(ids: list[int]) -> list[InboundMail]:
    """The fresh mails among *ids* locked (a row another transaction holds is skipped: that
    one has it, or left it to the sweep), in id order, as claimed (see :func:`_locked`)."""
    now = utcnow()
    rows = list(
        session().scalars(
            _batch_lock(), {"ids": ids}, execution_options={"populate_existing": True}
        )
    )
    for row in rows:
        _locked(row, now)
    return rows


@cache
def _batch_lock():
    """The claim of a batch (see :func:`_fresh_lock`), built once a process."""
    ids = bindparam("ids", type_=postgresql.ARRAY(InboundMail.__table__.c.id.type))
    return (
        select(InboundMail)
        .where(
            InboundMail.id == any_(ids),
            InboundMail.status == InboundStatus.RECEIVED,
            InboundMail.attempts == 0,
        )
        .options(undefer(InboundMail.raw))
        .order_by(InboundMail.id)
        .with_for_update(key_share=True, skip_locked=True)
    )


def _in_batch(row: InboundMail, verdict: mail_auth.Verdict) -> bool:
    """One mail of :func:`process_batch`, in its savepoint: True when its result (or its
    failure) is stored in the batch's transaction, False when it was rolled back for a reason
    that is not the mail's (see ``_TRANSIENT``) and is to be processed alone."""
    try:
        with savepoint_unit():
            _testing_pause(row)
            handle(row, None, verdict, False)
            _write_claim(row)
    except Exception as exc:
        if getattr(getattr(exc, "orig", None), "sqlstate", None) in _TRANSIENT:
            logger.info("inbound mail #%s left to itself: %s", row.id, exc)
            return False
        reason = _failure_reason(exc)
        logger.warning("inbound mail #%s failed: %s", row.id, reason, exc_info=True)
        _mark_failed(row.id, reason, fresh=True)
    return True


# A drain that ran out of mail also sweeps, at most once a minute across the workers: what a
# worker killed with a mail in hand, or a lost Redis list, left ``received`` is processed
# without waiting for cron. Not while mail is waiting: the list's own would be taken twice.
SWEEP_FROM_DRAIN_SECONDS = 60


def process_received() -> None:
    """Job (RQ): process the mail :func:`receive` stored, one after the other, each as
    :func:`process` does it and in its own transaction (:func:`jobs.run_drain`); its staff
    notification is sent by this worker right after the mail's commit. On PostgreSQL the
    mail waiting is taken up to ``BATCH_SIZE`` at a time, each batch one transaction with a
    savepoint a mail (:func:`process_batch`)."""
    deadline = time.monotonic() + jobs.drain_budget()
    batch = (process_batch, BATCH_SIZE) if batches() else None
    if not jobs.run_drain(process_received, process, batch):
        return
    dispatcher = current_helpdesk.dispatcher
    recently = dispatcher.drain_key(process_received, "swept")
    redis = dispatcher.queue.connection
    if not redis.set(recently, 1, nx=True, ex=SWEEP_FROM_DRAIN_SECONDS):
        return
    # Within this run's budget, as the list's mail: the job timeout striking in the middle of
    # a mail would set it aside as failed. What is left goes to the next run, which sweeps.
    if sweep(older_than=SWEEP_FROM_DRAIN_SECONDS, deadline=deadline).get("left"):
        redis.delete(recently)
        dispatcher.queue_drain(process_received)


def _failure_reason(exc: Exception) -> str:
    if isinstance(exc, ServiceError):
        details = "; ".join(m for msgs in exc.field_errors.values() for m in msgs)
        return f"{exc.message}{': ' + details if details else ''}"[:2000]
    return f"{type(exc).__name__}: {exc}"[:2000]


def _give_up_on_stuck(stale) -> None:
    """Mail whose every try stopped the process (a crash, a kill, the job timeout) is set
    aside as ``failed`` for an admin, instead of taking a worker down once more."""
    attempts = current_helpdesk.config["HELPDESK_MAIL_MAX_ATTEMPTS"]
    session().execute(
        update(InboundMail)
        .where(
            InboundMail.status == InboundStatus.PROCESSING,
            InboundMail.claimed_at < stale,
            InboundMail.attempts >= attempts,
        )
        .values(
            status=InboundStatus.FAILED,
            reason=f"processing never finished in {attempts} attempts "
            "(the process stopped: a crash, a kill or the job timeout)",
            processed_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    commit()


def sweep(
    older_than: float = 60, limit: int = 500, deadline: float | None = None
) -> dict[str, int]:
    """Process what a crash or an outage left behind: mail still ``received`` after
    *older_than* seconds, stale ``processing`` claims and failed mail with tries left.

    With a *deadline* (``time.monotonic()``) it stops once that has passed and counts the
    mail it did not reach as ``left``."""
    config = current_helpdesk.config
    now = utcnow()
    received_before = now - timedelta(seconds=older_than)
    stale = now - timedelta(seconds=config["HELPDESK_MAIL_STALE_AFTER"])
    _give_up_on_stuck(stale)
    ids = list(
        session().scalars(
            select(InboundMail.id)
            .where(
                or_(
                    (InboundMail.status == InboundStatus.RECEIVED)
                    & (InboundMail.received_at <= received_before),
                    (InboundMail.status == InboundStatus.PROCESSING)
                    & (InboundMail.claimed_at < stale),
                    _auto_retry(stale),
                )
            )
            .order_by(InboundMail.received_at, InboundMail.id)
            .limit(limit)
        )
    )
    session().commit()
    counts: dict[str, int] = {}
    for done, inbound_id in enumerate(ids):
        if deadline is not None and time.monotonic() > deadline:
            counts["left"] = len(ids) - done
            break
        row = process(inbound_id, retry=True)
        status = row.status.value if row is not None else "skipped"
        counts[status] = counts.get(status, 0) + 1
    return counts


# -- for admins -------------------------------------------------------------------------------


def retry(actor: Actor, inbound_id: int) -> InboundMail:
    """An admin retries a failed (or ignored) mail now, whatever its number of attempts."""
    ensure(actor, "manage")
    row = session().get(InboundMail, inbound_id)
    if row is None:
        raise NotFound("inbound mail not found")
    if row.status not in (InboundStatus.FAILED, InboundStatus.IGNORED):
        return row
    row.status = InboundStatus.FAILED  # an ignored mail becomes claimable by force, too
    audit.record(actor, "mail.retried", None, inbound_mail_id=row.id)
    commit()
    return process(inbound_id, force=True) or row


def failed_ids() -> list[int]:
    return list(
        session().scalars(
            select(InboundMail.id)
            .where(InboundMail.status == InboundStatus.FAILED)
            .order_by(InboundMail.id)
        )
    )


def list_inbound(
    actor: Actor, status: str | None = None, page: int = 1, per_page: int = 50
) -> tuple[list[InboundMail], bool]:
    """Recent inbound mail for the admin page, newest first (raw bytes not loaded)."""
    ensure(actor, "manage")
    query = select(InboundMail).options(selectinload(InboundMail.ticket))
    if status in InboundStatus._value2member_map_:
        query = query.where(InboundMail.status == status)
    query = query.order_by(InboundMail.received_at.desc(), InboundMail.id.desc())
    rows = list(session().scalars(query.limit(per_page + 1).offset((max(page, 1) - 1) * per_page)))
    return rows[:per_page], len(rows) > per_page


def get_inbound(actor: Actor, inbound_id: int) -> InboundMail:
    ensure(actor, "manage")
    row = session().get(InboundMail, inbound_id)
    if row is None:
        raise NotFound("inbound mail not found")
    return row


def header_lines(row: InboundMail) -> list[tuple[str, str]]:
    """The stored mail's headers, decoded for display (the body is never rendered)."""
    return peek_headers(_head(row.raw or b"")).headers


__all__ = [
    "SYSTEM",
    "InvalidEnvelopeSender",
    "MailTooLarge",
    "Received",
    "envelope_sender_of",
    "get_inbound",
    "list_inbound",
    "process",
    "process_received",
    "receive",
    "retry",
    "set_aside_oversized",
    "sweep",
]
