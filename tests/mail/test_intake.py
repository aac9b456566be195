"""Inbound mail becomes tickets and replies, once, through the one intake service."""

from __future__ import annotations

import os

from sqlalchemy import func, select

from flask_helpdesk.mail.threading import make_message_id
from flask_helpdesk.models import (
    Channel,
    Contact,
    InboundMail,
    InboundStatus,
    Message,
    Ticket,
    TicketStatus,
)
from flask_helpdesk.services import intake, messages
from flask_helpdesk.services.base import session
from flask_helpdesk.services.identity import SYSTEM
from tests.conftest import make_member
from tests.mail.conftest import corpus, ingest, make_mail, ticket_of
from tests.mail.senders import signed


def count(model) -> int:
    return session().scalar(select(func.count()).select_from(model))


def test_new_mail_opens_a_ticket_for_an_email_contact(app, support):
    row = ingest(make_mail(subject="Cannot log in", body="Hello,\nI cannot log in."))
    assert row.status == InboundStatus.PROCESSED
    ticket = ticket_of(row)
    assert ticket.subject == "Cannot log in"
    assert ticket.channel == Channel.EMAIL
    assert ticket.department.slug == "account"
    assert ticket.requester.email == "lan@example.com"
    assert ticket.requester.user_id is None
    assert ticket.requester.name == "Lan Nguyen"
    first = session().scalar(select(Message).where(Message.ticket_id == ticket.id))
    assert "I cannot log in." in first.body
    assert first.data["inbound_mail_id"] == row.id


def test_mail_to_the_billing_address_lands_in_billing(app, support):
    row = ingest(make_mail(to="Billing <billing@example.com>"))
    assert ticket_of(row).department.slug == "billing"


def test_the_same_mail_delivered_twice_makes_one_ticket(app, support):
    raw = make_mail()
    first = ingest(raw)
    again = ingest(raw, source="webhook")
    assert again.id == first.id
    assert count(Ticket) == 1
    assert count(InboundMail) == 1


def test_without_message_id_identical_bytes_are_one_mail_and_others_are_not(app, support):
    raw = make_mail(message_id=None, subject="No id")
    ingest(raw)
    ingest(raw)
    ingest(make_mail(message_id=None, subject="No id either"))
    assert count(Ticket) == 2


def test_a_reply_with_the_code_in_the_subject_posts_into_the_ticket(app, support, dns):
    ticket = ticket_of(ingest(make_mail()))
    ticket.status = TicketStatus.ANSWERED
    session().commit()
    # A verified sender: from anyone else the code alone threads nothing (test_sender_policy).
    row = ingest(
        signed(
            make_mail(
                subject=f"Re: [{ticket.code}] Cannot log in",
                body="It works now, thanks!\n\nOn Mon, Support wrote:\n> Try again please",
            )
        )
    )
    assert row.ticket_id == ticket.id
    session().refresh(ticket)
    assert ticket.status == TicketStatus.CUSTOMER_REPLIED
    reply = session().get(Message, row.posted_message_id)
    assert reply.body == "It works now, thanks!"
    assert count(Ticket) == 1


def test_a_stranger_using_a_ticket_code_opens_a_new_ticket(app, support):
    ticket = ticket_of(ingest(make_mail()))
    row = ingest(
        make_mail(sender="mallory@evil.example", subject=f"Re: [{ticket.code}] Cannot log in")
    )
    assert row.ticket_id != ticket.id
    other = ticket_of(row)
    assert other.requester.email == "mallory@evil.example"
    assert ticket.code not in other.subject
    assert session().scalar(select(func.count()).where(Message.ticket_id == ticket.id)) == 1


def test_a_reply_to_our_signed_message_id_threads(app, support):
    ticket = ticket_of(ingest(make_mail()))
    ours = make_message_id(ticket.code, "m1")
    row = ingest(make_mail(subject="Re: your request", in_reply_to=f"<{ours}>"))
    assert row.ticket_id == ticket.id


def test_a_forged_message_id_does_not_thread(app, support):
    ticket = ticket_of(ingest(make_mail()))
    genuine = make_message_id(ticket.code, "m1")
    local, _, domain = genuine.partition("@")
    forged = local[:-4] + ("0000" if not local.endswith("0000") else "1111") + "@" + domain
    row = ingest(make_mail(subject="Re: your request", in_reply_to=f"<{forged}>"))
    assert row.ticket_id != ticket.id
    assert count(Ticket) == 2


def test_a_genuine_message_id_from_another_sender_opens_a_new_ticket(app, support):
    ticket = ticket_of(ingest(make_mail()))
    ours = make_message_id(ticket.code, "m1")
    row = ingest(make_mail(sender="reza@example.com", subject="Re: x", references=f"<{ours}>"))
    assert row.ticket_id != ticket.id
    assert "not a participant" in row.reason


def test_plus_address_threads_into_the_ticket(app, support, dns):
    ticket = ticket_of(ingest(make_mail()))
    to = f"support+{ticket.code.lower()}@example.com"
    row = ingest(signed(make_mail(subject="more info", to=to)))
    assert row.ticket_id == ticket.id


def test_a_cc_of_the_first_mail_may_reply(app, support, dns):
    ticket = ticket_of(ingest(make_mail(cc="Boss <boss@example.com>")))
    row = ingest(signed(make_mail(sender="boss@example.com", subject=f"Re: [{ticket.code}] x")))
    assert row.ticket_id == ticket.id
    reply = session().get(Message, row.posted_message_id)
    assert reply.author_contact.email == "boss@example.com"


def test_auto_replies_and_bounces_are_ignored_with_the_reason(app, support):
    for name, reason in [
        ("out_of_office.eml", "auto-reply"),
        ("dsn_bounce.eml", "bounce"),
        ("precedence_bulk.eml", "bulk"),
        ("x_autoreply.eml", "auto-reply"),
    ]:
        row = ingest(corpus(name))
        assert row.status == InboundStatus.IGNORED, name
        assert reason in row.reason, (name, row.reason)
    assert count(Ticket) == 0


def test_mail_from_our_own_address_is_a_loop_and_ignored(app, support):
    row = ingest(make_mail(sender="support@example.com", subject="Re: [HD-AAAAAA] x"))
    assert row.status == InboundStatus.IGNORED
    assert "loop" in row.reason


def test_a_mail_storm_from_one_sender_is_cut_off(app, support):
    app.extensions["helpdesk"].config["HELPDESK_MAIL_RATE_LIMIT"] = "3/hour"
    rows = [ingest(make_mail(subject=f"Storm {i}")) for i in range(5)]
    assert [r.status for r in rows].count(InboundStatus.PROCESSED) == 3
    assert all("rate limit" in r.reason for r in rows[3:])
    assert ingest(make_mail(sender="reza@example.com")).status == InboundStatus.PROCESSED


def test_a_failing_mail_is_kept_with_its_reason_and_can_be_retried(app, departments):
    for department in departments.values():
        department.is_active = False
    session().commit()
    row = ingest(make_mail(subject="Nowhere to go"))
    assert row.status == InboundStatus.FAILED
    assert "department" in row.reason
    assert count(Ticket) == 0
    departments["other"].is_active = True
    session().commit()
    from flask_helpdesk.services import intake

    again = intake.retry(SYSTEM, row.id)
    assert again.status == InboundStatus.PROCESSED
    assert ticket_of(again).subject == "Nowhere to go"
    assert again.attempts == 2


def test_one_broken_mail_does_not_stop_the_others(app, support):
    rows = [
        ingest(make_mail(subject="first")),
        ingest(b"\r\n\r\n   \r\n"),  # no headers at all
        ingest(corpus("malformed_headers.eml")),
        ingest(corpus("missing_boundary.eml")),
        ingest(make_mail(subject="last")),
    ]
    assert rows[1].status == InboundStatus.FAILED
    assert rows[0].status == rows[-1].status == InboundStatus.PROCESSED
    assert count(InboundMail) == 5


def test_attachments_are_kept_and_forbidden_ones_dropped_with_a_note(app, support):
    row = ingest(
        make_mail(
            attachments=[
                ("invoice.pdf", "application/pdf", b"%PDF-1.4 fake"),
                ("tool.exe", "application/octet-stream", b"MZ..."),
            ]
        )
    )
    message = session().get(Message, row.posted_message_id)
    assert [a.filename for a in message.attachments] == ["invoice.pdf"]
    assert "tool.exe" in message.body


def test_a_file_mailed_again_is_stored_once_and_left_as_it_was(app, support):
    """Files are named by their hash: the same PDF in a second mail is the stored file (not
    written again), and both tickets serve its bytes."""
    pdf = b"%PDF-1.4 the same invoice " + bytes(range(256)) * 40
    attachment = [("invoice.pdf", "application/pdf", pdf)]
    first = ingest(make_mail(subject="invoice", attachments=attachment))
    storage = app.extensions["helpdesk"].storage
    [stored] = session().get(Message, first.posted_message_id).attachments
    before = os.stat(storage._path(stored.sha256))
    second = ingest(
        make_mail(subject="invoice again", sender="b@example.org", attachments=attachment)
    )
    [again] = session().get(Message, second.posted_message_id).attachments
    assert again.sha256 == stored.sha256 and again.size == stored.size == len(pdf)
    after = os.stat(storage._path(stored.sha256))
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    with storage.open(again.sha256) as stream:
        assert stream.read() == pdf


def test_a_stored_file_left_short_by_a_crash_is_written_whole_when_mailed_again(app, support):
    """A stored file cut short (the machine went down before its bytes reached the disk: the
    rename did) is not taken for the file when the same PDF is mailed again: the new mail's
    bytes replace it, and both tickets serve the whole file."""
    pdf = b"%PDF-1.4 the signature's logo " + bytes(range(256)) * 40
    attachment = [("logo.pdf", "application/pdf", pdf)]
    first = ingest(make_mail(subject="logo", attachments=attachment))
    storage = app.extensions["helpdesk"].storage
    [stored] = session().get(Message, first.posted_message_id).attachments
    storage._path(stored.sha256).write_bytes(b"")  # what a crash can leave
    second = ingest(make_mail(subject="logo again", sender="b@example.org", attachments=attachment))
    [again] = session().get(Message, second.posted_message_id).attachments
    assert again.sha256 == stored.sha256
    with storage.open(stored.sha256) as stream:
        assert stream.read() == pdf


def test_html_is_sanitized_and_remote_images_not_loaded(app, support):
    row = ingest(
        make_mail(
            html='<p>Hi<script>alert(1)</script><img src="https://tracker.example/p.gif"></p>'
        )
    )
    message = session().get(Message, row.posted_message_id)
    assert "<script" not in message.body_html
    assert "tracker.example" not in message.body_html


def test_a_known_address_is_tied_to_the_host_user(app, support):
    member = make_member("Minh Tran", "minh@example.com")
    helpdesk = app.extensions["helpdesk"].extension
    from example_app.models import Member

    helpdesk.user_by_email(
        lambda address: session().scalar(select(Member).where(Member.email == address))
    )
    try:
        row = ingest(make_mail(sender="MINH@example.com"))
    finally:
        helpdesk._user_by_email_callback = None
    contact = ticket_of(row).requester
    assert contact.user_id == str(member.get_id())
    assert contact.name == "Minh Tran"
    assert count(Contact) == 1


def test_a_customer_reply_by_mail_follows_the_state_machine_on_a_closed_ticket(app, support, dns):
    ticket = ticket_of(ingest(make_mail()))
    from flask_helpdesk.services.tickets import close_ticket

    close_ticket(SYSTEM, ticket)
    ingest(signed(make_mail(subject=f"Re: [{ticket.code}] still broken")))
    session().refresh(ticket)
    assert ticket.status == TicketStatus.CUSTOMER_REPLIED
    assert len(messages.thread(SYSTEM, ticket)) == 3  # mail, closed event, reply


def test_after_a_mail_is_stored_a_rolled_back_change_is_not_kept(app, support):
    # On PostgreSQL the store's INSERT commits on its own (autocommit, no BEGIN or COMMIT):
    # the session's next transaction must be one again, whose rollback undoes its writes.
    row = ingest(make_mail(subject="Stored alone"))
    assert row.status == InboundStatus.PROCESSED
    session().add(Contact(email="rolled.back@example.com", name="Rolled Back"))
    session().flush()
    session().rollback()
    assert session().scalar(select(Contact).filter_by(email="rolled.back@example.com")) is None
    assert session().get(InboundMail, row.id).status == InboundStatus.PROCESSED


def test_a_mail_stored_inside_the_callers_transaction_commits_with_it(app, support):
    # A caller with a transaction open (here a write of its own) keeps it: the store joins
    # it and the one commit keeps both.
    session().add(Contact(email="caller@example.com", name="Caller"))
    session().flush()
    row = ingest(make_mail(subject="Stored with the caller's write"))
    assert row.status == InboundStatus.PROCESSED
    session().rollback()
    assert session().scalar(select(Contact).filter_by(email="caller@example.com")) is not None


def test_a_mail_whose_drawn_code_is_taken_names_the_ticket_it_opened(app, support, monkeypatch):
    # On PostgreSQL the row's outcome is written by the ticket's own statement: the draw the
    # unique code refused writes no outcome, the next draw's ticket is the one the row names.
    from flask_helpdesk.services import tickets

    first = ticket_of(ingest(make_mail(subject="First", message_id="<first@client.example>")))
    draws = iter([first.code])
    real = tickets.new_ticket_code
    monkeypatch.setattr(tickets, "new_ticket_code", lambda: next(draws, None) or real())
    row = ingest(make_mail(subject="Second", message_id="<second@client.example>"))
    assert row.status == InboundStatus.PROCESSED and row.reason == "new ticket"
    second = ticket_of(row)
    assert second.code != first.code and second.subject == "Second"
    message = session().get(Message, row.posted_message_id)
    assert message.ticket_id == second.id and message.data["inbound_mail_id"] == row.id
    assert count(Ticket) == 2


def test_after_a_duplicate_mail_a_rolled_back_change_is_not_kept(app, support):
    # A duplicate stores nothing and commits nothing: on PostgreSQL the store ran in autocommit
    # (nothing of the caller's was open), and the caller's next writes must again be one
    # transaction that a rollback undoes, not statements each committed as they run.
    raw = make_mail(subject="Delivered twice")
    ingest(raw)
    session().commit()  # nothing of the caller's open when the second copy comes
    received = intake.receive(raw, "webhook")
    assert received.duplicate and received.inbound.status == InboundStatus.PROCESSED
    session().add(Contact(email="after.duplicate@example.com", name="After Duplicate"))
    session().flush()
    session().rollback()
    assert session().scalar(select(Contact).filter_by(email="after.duplicate@example.com")) is None


def test_a_host_session_bound_to_its_own_open_transaction_stores_and_files_mail(
    app, support, monkeypatch
):
    # A host's tests often bind the session to a connection whose transaction they roll back
    # at the end (SQLAlchemy's "joining a session into an external transaction"): the
    # session has no transaction of its own yet, the connection has. The store may not switch
    # that connection to autocommit (SQLAlchemy refuses while it is in a transaction, and it
    # would commit what the host means to roll back): it joins the host's transaction.
    from sqlalchemy.orm import scoped_session, sessionmaker

    helpdesk = app.extensions["helpdesk"]
    session().remove()
    connection = helpdesk.engine.connect()
    outer = connection.begin()
    bound = scoped_session(sessionmaker(bind=connection, join_transaction_mode="create_savepoint"))
    monkeypatch.setattr(helpdesk.db, "session", bound)
    try:
        received = intake.receive(make_mail(subject="In the host's transaction"), "pipe")
        assert not received.duplicate
        bound.expire_all()
        row = bound.get(InboundMail, received.inbound.id)
        assert row.status == InboundStatus.PROCESSED and row.ticket_id is not None
    finally:
        bound.remove()
        outer.rollback()
        connection.close()
    monkeypatch.undo()
    if session().get_bind(InboundMail).dialect.name == "postgresql":
        # The host's rollback undid it all (pysqlite begins no transaction of its own for a
        # connection's begin() nor keeps SAVEPOINTs without the host's own event hooks).
        assert count(InboundMail) == 0


def test_a_mail_stored_inside_a_unit_of_work_is_undone_with_it(app, support):
    # unit_of_work() promises one transaction: an exception rolls every call in it back. A
    # mail stored first in the block, when nothing was open yet, is no exception (on
    # PostgreSQL the store may not commit on its own there, nor may what follows it).
    import pytest

    from flask_helpdesk.services.base import unit_of_work

    session().commit()  # nothing open when the block begins
    with pytest.raises(RuntimeError), unit_of_work():
        intake.receive(make_mail(subject="Stored in a unit of work"), "pipe")
        session().add(Contact(email="in.the.unit@example.com", name="In The Unit"))
        session().flush()
        raise RuntimeError("the host's next step fails")
    assert count(InboundMail) == 0
    assert session().scalar(select(Contact).filter_by(email="in.the.unit@example.com")) is None
