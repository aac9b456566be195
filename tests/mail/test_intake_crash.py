"""Kill intake at every step of a batch: recovery ends with exactly the rows of a clean run.

A child process (``os.fork``) ingests a batch of mails the way the pipe does (store, then
process inline) and dies with ``os._exit`` just before its k-th database step: a statement or
a commit. The parent then does what production does after a crash: the sweep (cron's
``process-mail``) and the mail server redelivering every mail whose delivery was not
acknowledged. For every k the database must end exactly as after an uninterrupted run: the
same inbound rows with the same outcome, the same tickets, messages, participants,
attachments, contacts and audit events, nothing missing and nothing twice.

The batch is shaped after real traffic: a customer writing with a colleague in Cc and a PDF
attached, the colleague answering in the same thread (``In-Reply-To`` the first mail), two
ServiceNow updates sharing one Message-ID, the first mail delivered again by the MTA, and an
out-of-office reply.
"""

from __future__ import annotations

import itertools
import os
import re

import pytest
from sqlalchemy import event, select

from flask_helpdesk.models import (
    Attachment,
    AuditEvent,
    Contact,
    InboundMail,
    Message,
    Ticket,
    TicketParticipant,
)
from flask_helpdesk.services import intake
from flask_helpdesk.services.base import session
from flask_helpdesk.services.departments import create_department
from flask_helpdesk.services.identity import SYSTEM
from tests.conftest import clean_tables
from tests.mail.conftest import corpus, make_mail
from tests.mail.senders import signed

CRASHED = 17
FINISHED = 0


def batch() -> list[bytes]:
    first_id = "<first.4711@client.example.com>"
    first = make_mail(
        subject="Invoice 2026-118 is wrong",
        body="Hello,\nthe invoice charges us twice.\n",
        message_id=first_id,
        cc="Minh Tran <minh@example.com>",
        attachments=[("invoice.pdf", "application/pdf", b"%PDF-1.4\n" + b"0" * 3000)],
    )
    # Signed (the test's resolver serves the key): an unverified sender's reply to the
    # customer's own Message-ID would open a ticket of its own (test_sender_policy.py).
    colleague = signed(
        make_mail(
            sender="Minh Tran <minh@example.com>",
            subject="Re: Invoice 2026-118 is wrong",
            body="Adding: it was paid on the 3rd.\n\n> the invoice charges us twice.\n",
            in_reply_to=first_id,
            references=first_id,
        )
    )

    def servicenow(state: str) -> bytes:
        return make_mail(
            sender="IT <itsm@corp.service-now.com>",
            subject=f"Incident INC0042 updated - {state}",
            body=f"State: {state}\n",
            message_id="<INC0042.watermark@corp.service-now.com>",
        )

    redelivered = b"Received: from mx2.example.com\r\n" + first
    return [
        first,
        colleague,
        servicenow("New"),
        servicenow("Resolved"),
        redelivered,
        corpus("out_of_office.eml"),
    ]


def fresh_database(app) -> None:
    clean_tables(app)
    for slug, name in [("account", "Account"), ("billing", "Billing")]:
        department = create_department(SYSTEM, name, slug=slug)
        department.email = f"{slug if slug == 'billing' else 'support'}@example.com"
    session().commit()


def deliver(mails: list[bytes], acknowledged=None) -> None:
    for index, raw in enumerate(mails):
        intake.receive(raw, "pipe")
        if acknowledged is not None:
            acknowledged(index)


def snapshot() -> dict:
    """The database's content, without ids, times, ticket codes or attempt counters."""
    session().expire_all()

    def codeless(text: str | None) -> str | None:
        return re.sub(r"HD-[0-9A-Z]{6}", "HD-*", text) if text else text

    tickets = {t.id: t for t in session().scalars(select(Ticket))}
    messages = {m.id: m for m in session().scalars(select(Message))}

    def ticket_key(ticket_id):
        ticket = tickets.get(ticket_id)
        return (ticket.subject, ticket.requester.email) if ticket else None

    return {
        "inbound": sorted(
            (
                row.subject,
                row.status.value,
                codeless(row.reason),
                ticket_key(row.ticket_id),
                messages[row.posted_message_id].body if row.posted_message_id else None,
            )
            for row in session().scalars(select(InboundMail))
        ),
        "tickets": sorted(
            (
                ticket_key(t.id),
                t.status.value,
                tuple(
                    m.body
                    for m in sorted(messages.values(), key=lambda m: m.id)
                    if m.ticket_id == t.id
                ),
            )
            for t in tickets.values()
        ),
        "participants": sorted(
            (ticket_key(p.ticket_id), p.email) for p in session().scalars(select(TicketParticipant))
        ),
        "attachments": sorted(
            (ticket_key(a.ticket_id), a.filename, a.sha256)
            for a in session().scalars(select(Attachment))
        ),
        "contacts": sorted(c.email for c in session().scalars(select(Contact))),
        "audit": sorted(e.action for e in session().scalars(select(AuditEvent))),
    }


def die_before(engine, step: int) -> None:
    """In a forked child: its own connections, and ``os._exit`` just before its *step*-th
    statement or commit."""
    engine.dispose(close=False)
    steps = itertools.count(1)

    def maybe_die(*args, **kwargs):
        if next(steps) == step:
            os._exit(CRASHED)

    event.listen(engine, "before_cursor_execute", maybe_die)
    event.listen(engine, "commit", maybe_die)


def crash_at(app, mails: list[bytes], step: int) -> tuple[int, int]:
    """Run the batch in a child that dies before its *step*-th statement or commit.

    Returns the child's exit status and how many mails it had delivered (acknowledged)."""
    engine = app.extensions["helpdesk"].engine
    session().remove()
    engine.dispose()  # the child must not share the parent's connections
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        status = 2
        try:
            os.close(read_end)
            die_before(engine, step)
            deliver(mails, lambda index: os.write(write_end, b"."))
            status = FINISHED
        finally:
            os._exit(status)
    os.close(write_end)
    acknowledged = b""
    while chunk := os.read(read_end, 64):
        acknowledged += chunk
    os.close(read_end)
    _pid, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), len(acknowledged)


def recover(app, mails: list[bytes], acknowledged: int) -> None:
    config = app.extensions["helpdesk"].config
    config["HELPDESK_MAIL_STALE_AFTER"] = 0
    try:
        intake.sweep(older_than=0)  # cron's process-mail
    finally:
        config["HELPDESK_MAIL_STALE_AFTER"] = 300
    deliver(mails[acknowledged:])  # the MTA retries what it was not told was stored


@pytest.fixture
def quick_sqlite(app):
    """SQLite without fsync for this test's hundred databases: ``os._exit`` kills the process,
    not the machine, so what was committed is in the OS's hands either way."""
    engine = app.extensions["helpdesk"].engine
    if engine.dialect.name != "sqlite":
        yield
        return

    def no_sync(connection, record):
        connection.execute("PRAGMA synchronous=OFF")

    event.listen(engine, "connect", no_sync)
    engine.dispose()
    try:
        yield
    finally:
        event.remove(engine, "connect", no_sync)
        engine.dispose()


def test_a_crash_at_any_step_of_a_batch_ends_as_an_uninterrupted_run(app, quick_sqlite, dns):
    mails = batch()
    fresh_database(app)
    deliver(mails)
    expected = snapshot()
    assert len(expected["inbound"]) == 5  # the redelivery is no row of its own
    assert len(expected["tickets"]) == 3  # the customer's, and one per ServiceNow update
    assert ("Invoice 2026-118 is wrong", "lan@example.com") in {t[0] for t in expected["tickets"]}
    assert len(expected["participants"]) == 1 and len(expected["attachments"]) == 1

    step = 0
    while True:
        step += 1
        fresh_database(app)
        code, acknowledged = crash_at(app, mails, step)
        if code == FINISHED:  # the batch has fewer steps: every one of them was tried
            assert snapshot() == expected
            break
        assert code == CRASHED, f"the child failed at step {step} (exit {code})"
        recover(app, mails, acknowledged)
        assert snapshot() == expected, f"after a crash at step {step}"
    assert step > 40  # sanity: the batch really is many steps long
