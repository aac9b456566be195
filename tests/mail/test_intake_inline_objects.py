"""Inline intake hands what it stored to what follows instead of reading it back (issue 11 §3):
processing takes the stored row, the staff notification the ticket, message and author as the
commit left them. What the agents read must be the same as before, and nothing may stay stale
in the session afterwards.

The mails are shaped after a customer's first mail to a shop's support address with a
colleague in Cc and a scanned invoice attached (PDF, as a phone's mail app sends it), and her
answer to the staff's question a little later.
"""

from __future__ import annotations

from sqlalchemy import inspect, select, update

from flask_helpdesk.models import Agent, InboundMail, InboundStatus, Ticket
from flask_helpdesk.services import intake
from flask_helpdesk.services.agents import make_agent, update_agent
from flask_helpdesk.services.base import session
from flask_helpdesk.services.identity import agent_as_actor
from tests.conftest import make_member
from tests.jobs.conftest import app  # noqa: F401  (Flask-Mail wired to the test SMTP server)
from tests.mail.conftest import make_mail
from tests.mail.senders import signed


def test_the_staff_mail_of_a_mailed_ticket_names_its_author_subject_and_files(
    app,  # noqa: F811
    support,
    smtp,
    dns,
):
    make_agent(make_member("Minh Agent", "minh@shop.example.com").get_id(), ["account"])
    smtp.messages.clear()
    first = make_mail(
        sender="Lan Nguyen <lan@example.com>",
        subject="Invoice 2291 charged twice",
        body="My card was charged twice for invoice 2291.",
        cc="Binh Tran <binh@example.org>",
        attachments=[("invoice-2291.pdf", "application/pdf", b"%PDF-1.4\n" + b"1" * 3000)],
        message_id="<lan-1@example.org>",
    )
    row = intake.receive(first, "pipe").inbound
    assert row.status == InboundStatus.PROCESSED
    ticket = session().get(Ticket, row.ticket_id)
    [mail] = smtp.to("minh@shop.example.com")
    assert mail.message["Subject"] == f"[{ticket.code}] New request: Invoice 2291 charged twice"
    assert f"Lan Nguyen opened {ticket.code}: Invoice 2291 charged twice" in mail.text
    assert "invoice-2291.pdf" in mail.text and "invoice-2291.pdf" in mail.html
    assert "My card was charged twice for invoice 2291." in mail.text

    smtp.messages.clear()
    # Signed by her domain (DKIM): a verified sender threads into her ticket.
    answer = signed(
        make_mail(
            sender="Lan Nguyen <lan@example.com>",
            subject=f"Re: [{ticket.code}] Invoice 2291 charged twice",
            body="It was on 3 March, both at 10:14.",
            in_reply_to="<lan-1@example.org>",
        )
    )
    intake.receive(answer, "pipe")
    [mail] = smtp.to("minh@shop.example.com")
    assert mail.message["Subject"] == (
        f"[{ticket.code}] Customer replied: Invoice 2291 charged twice"
    )
    assert f"Lan Nguyen wrote on {ticket.code}: Invoice 2291 charged twice" in mail.text
    assert "It was on 3 March, both at 10:14." in mail.text
    assert "invoice-2291.pdf" not in mail.text  # this message carries no file


def test_after_intake_the_session_reads_what_others_changed(app, support):  # noqa: F811
    """Nothing intake kept for its own jobs stays in the session: a change another process
    makes right after (an agent renaming the ticket, an admin's note on the mail) is what the
    same session reads next, as after any commit."""
    raw = make_mail(sender="lan@example.org", subject="Parcel not delivered")
    row = intake.receive(raw, "pipe").inbound
    row_id = inspect(row).identity[0]  # without reading the row through the session
    mails, tickets = InboundMail.__table__, Ticket.__table__
    with app.extensions["helpdesk"].engine.begin() as elsewhere:
        ticket_id = elsewhere.scalar(select(mails.c.ticket_id).where(mails.c.id == row_id))
        elsewhere.execute(
            update(tickets)
            .where(tickets.c.id == ticket_id)
            .values(subject="Parcel 7731 not delivered")
        )
        elsewhere.execute(
            update(mails).where(mails.c.id == row_id).values(reason="checked by an admin")
        )
    assert row.reason == "checked by an admin"
    assert session().get(Ticket, ticket_id).subject == "Parcel 7731 not delivered"


def test_the_staff_of_a_department_mailed_are_the_ones_it_has_now(
    app,  # noqa: F811
    support,
    smtp,
):
    """Who works in a department is kept a few seconds a process for staff notifications;
    an admin adding, moving or deactivating an agent is heeded by the very next mail."""
    minh = make_agent(make_member("Minh Agent", "minh@shop.example.com").get_id(), ["account"])
    session().commit()
    minh_id, account_id, billing_id = minh.id, support["account"].id, support["billing"].id

    def mailed_about(subject: str) -> list[str]:
        smtp.messages.clear()
        intake.receive(make_mail(sender="lan@example.org", subject=subject), "pipe")
        return sorted(r for m in smtp.messages for r in m.rcpt_tos)

    assert mailed_about("Order 1 missing") == ["minh@shop.example.com"]
    make_agent(make_member("Sara Agent", "sara@shop.example.com").get_id(), ["account"])
    session().commit()
    assert mailed_about("Order 2 missing") == ["minh@shop.example.com", "sara@shop.example.com"]
    boss = make_member("Hoa Admin", "hoa@shop.example.com")
    admin = agent_as_actor(make_agent(boss.get_id(), role="admin"))
    update_agent(admin, session().get(Agent, minh_id), "agent", [billing_id], None, True)
    session().commit()
    assert mailed_about("Order 3 missing") == ["sara@shop.example.com"]
    update_agent(admin, session().get(Agent, minh_id), "agent", [account_id], None, True)
    session().commit()
    assert mailed_about("Order 4 missing") == ["minh@shop.example.com", "sara@shop.example.com"]
    update_agent(admin, session().get(Agent, minh_id), "agent", [account_id], None, False)
    session().commit()
    assert mailed_about("Order 5 missing") == ["sara@shop.example.com"]
