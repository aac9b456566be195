"""Automatic mail from rules: a canned reply with placeholders, marked as automatic, and the
mail loop guards (machines, our own addresses, per-ticket and per-hour caps)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from example_app import mail
from flask_helpdesk.mail.noise import is_robot_address
from flask_helpdesk.models import Contact, Message, MessageKind, TicketStatus
from flask_helpdesk.services import canned, messages, rule_admin
from flask_helpdesk.services.base import ValidationError, session
from flask_helpdesk.services.identity import contact_as_actor
from tests.rules.test_engine import events


def contact_for_email(email: str, name: str) -> Contact:
    contact = Contact(email=email, name=name)
    session().add(contact)
    session().commit()
    return contact


@pytest.fixture
def ack(admin, departments):
    return canned.create_reply(
        admin,
        canned.CannedReplyData(
            title="Ack",
            body="Hello {customer_name}, we got {ticket_code}. {agent_name}",
            department_id=departments["account"].id,
        ),
    )


@pytest.fixture
def ack_rule(make_rule, ack):
    return make_rule("ticket_created", {}, [{"type": "reply", "value": ack.id}], name="Ack")


def test_a_canned_reply_goes_out_as_an_automatic_mail(lan, open_for, ack_rule):
    with mail.record_messages() as outbox:
        ticket = open_for(lan)
    reply = session().scalar(
        select(Message).where(
            Message.ticket_id == ticket.id,
            Message.kind == MessageKind.REPLY,
            Message.data["automatic"].as_boolean().is_(True),
        )
    )
    assert reply.body == f"Hello Lan Nguyen, we got {ticket.code}. Account"
    assert ticket.status == TicketStatus.ANSWERED
    [sent] = [m for m in outbox if reply.body in m.body]
    assert sent.recipients == ["lan@example.com"]
    assert sent.extra_headers["Auto-Submitted"] == "auto-replied"


@pytest.mark.parametrize(
    "address",
    ["no-reply@shop.example", "noreply@x.example", "MAILER-DAEMON@mx.example", "postmaster@a.b"],
)
def test_robot_addresses(address):
    assert is_robot_address(address)


@pytest.mark.parametrize("address", ["noreen@example.com", "replies@example.com", "lan@x.vn"])
def test_people_addresses(address):
    assert not is_robot_address(address)


def test_no_automatic_mail_to_a_machine(app, open_for, ack_rule):
    robot = contact_as_actor(contact_for_email("no-reply@shop.example", "Shop"))
    with mail.record_messages() as outbox:
        ticket = open_for(robot)
    assert outbox == [] or all("no-reply@shop.example" not in m.recipients for m in outbox)
    [held] = events(ticket, "rule_mail_held")
    assert "machine" in held["reason"]
    assert ticket.status == TicketStatus.OPEN  # no reply was posted


def test_no_automatic_mail_to_our_own_address(app, open_for, ack_rule, departments):
    departments["account"].email = "account@helpdesk.example"
    session().commit()
    ours = contact_as_actor(contact_for_email("Account@helpdesk.example", "Loop"))
    ticket = open_for(ours)
    [held] = events(ticket, "rule_mail_held")
    assert "our own" in held["reason"]


def test_caps_per_ticket_and_per_hour(app, lan, agent, open_for, make_rule, ack):
    config = app.extensions["helpdesk"].config
    config["HELPDESK_AUTO_MAIL_PER_TICKET"] = 2
    config["HELPDESK_AUTO_MAIL_PER_HOUR"] = 3
    make_rule("customer_replied", {}, [{"type": "reply", "value": ack.id}], name="Ack")
    ticket = open_for(lan)
    for n in range(3):
        messages.post_message(lan, ticket, f"More {n}")
    assert len(events(ticket, "rule_mail_held")) == 1  # the third reply is held
    other = open_for(lan)
    messages.post_message(lan, other, "Hello")  # the hour's third mail to this address
    messages.post_message(lan, other, "Again")  # the fourth: over the hourly cap
    [held] = events(other, "rule_mail_held")
    assert "hourly" in held["reason"]


def test_a_reply_rule_needs_a_shared_canned_reply(admin, agent):
    personal = canned.create_reply(agent, canned.CannedReplyData(title="Mine", body="Hi"))
    with pytest.raises(ValidationError) as caught:
        rule_admin.create_rule(
            admin,
            rule_admin.RuleData(
                name="Bad",
                trigger="ticket_created",
                actions=[{"type": "reply", "value": personal.id}],
            ),
        )
    assert "actions[0].value" in caught.value.field_errors["actions"][0]
