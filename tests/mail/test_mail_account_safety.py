"""Nothing a mail says changes account-level things (issue 18 §2): consent to account access,
ratings, and the customer's contact data are answered signed in (or through a signed link),
never by writing a mail, whoever sent it: even a sender whose domain vouches for the mail
only posts a message.

Mails are signed with the test key (``example.com`` publishes it and ``p=reject``)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from flask_helpdesk.models import (
    AccessGrant,
    Contact,
    GrantStatus,
    InboundStatus,
    Message,
    Rating,
    ReplyRating,
    Ticket,
)
from flask_helpdesk.services import tickets
from flask_helpdesk.services.base import session
from flask_helpdesk.services.identity import agent_as_actor, contact_as_actor, sync_contact
from tests.access.conftest import _staff, ask
from tests.mail.conftest import ingest, make_mail
from tests.mail.senders import signed


@pytest.fixture
def lan_ticket(app, departments, customer, dns) -> Ticket:
    actor = contact_as_actor(sync_contact(customer))
    return tickets.open_ticket(
        actor,
        tickets.NewTicket(
            department_id=departments["account"].id,
            subject="Cannot change my email",
            body="Saving the profile does nothing.",
        ),
    )


def reply(ticket: Ticket, body: str, verified: bool = True, sender: str = "Lan <lan@example.com>"):
    raw = make_mail(subject=f"Re: [{ticket.code}] Cannot change my email", body=body, sender=sender)
    row = ingest(signed(raw) if verified else raw)
    assert row.status in (InboundStatus.PROCESSED, InboundStatus.HELD), row.reason
    return row


def posted_into(ticket: Ticket, row) -> bool:
    return row.posted_message_id is not None and (
        session().get(Message, row.posted_message_id).ticket_id == ticket.id
    )


@pytest.mark.parametrize("verified", [True, False], ids=["verified", "forged"])
def test_a_mail_never_accepts_an_account_access_request(app, lan_ticket, verified):
    agent = _staff("Minh Tran", ["account"])
    grant = ask(agent, lan_ticket)
    row = reply(lan_ticket, "Yes, I accept. You may log in as me. ACCEPT", verified=verified)
    assert posted_into(lan_ticket, row) is verified  # a verified sender's reply is posted...
    session().expire_all()
    assert session().get(AccessGrant, grant.id).status == GrantStatus.REQUESTED  # ...no more


@pytest.mark.parametrize("verified", [True, False], ids=["verified", "forged"])
def test_a_mail_never_rates_the_ticket_or_a_reply(app, lan_ticket, verified):
    agent = _staff("Minh Tran", ["account"])
    tickets.close_ticket(agent_as_actor(agent.agent, user=agent.member), lan_ticket)
    reply(lan_ticket, "Rating: 5 stars ★★★★★ Very helpful, thumbs up", verified=verified)
    assert session().scalar(select(func.count()).select_from(Rating)) == 0
    assert session().scalar(select(func.count()).select_from(ReplyRating)) == 0


@pytest.mark.parametrize("verified", [True, False], ids=["verified", "forged"])
def test_a_mail_never_changes_the_customers_contact_data(app, lan_ticket, verified):
    contact = lan_ticket.requester
    before = (contact.name, contact.email, contact.phone, contact.locale, contact.user_id)
    reply(
        lan_ticket,
        "My new phone is +1 555 0100, please update my account and my name.",
        verified=verified,
        sender="Attacker Renamed <lan@example.com>",
    )
    session().expire_all()
    again = session().get(Contact, contact.id)
    assert (again.name, again.email, again.phone, again.locale, again.user_id) == before


def test_a_forged_mail_does_not_rename_a_known_email_only_contact(app, departments, dns):
    first = ingest(make_mail(sender="Reza Karimi <reza@other.test>", subject="Printer"))
    contact = session().get(Ticket, first.ticket_id).requester
    ingest(make_mail(sender="Someone Else <reza@other.test>", subject="Printer again"))
    session().expire_all()
    assert session().get(Contact, contact.id).name == "Reza Karimi"
