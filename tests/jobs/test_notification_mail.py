"""Notifications as the recipients get them: real SMTP (aiosmtpd), jobs run inline."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.support import Translations
from sqlalchemy import select

import flask_helpdesk
from flask_helpdesk.models import AuditEvent
from flask_helpdesk.services.agents import make_agent
from flask_helpdesk.services.identity import agent_as_actor, contact_as_actor, sync_contact
from flask_helpdesk.services.messages import post_message
from flask_helpdesk.services.tickets import NewTicket, close_ticket, open_ticket
from tests.conftest import make_member
from tests.jobs.conftest import EXTERNAL_URL

TRANSLATIONS = Path(flask_helpdesk.__file__).parent / "translations"


def customer_actor_for(member):
    return contact_as_actor(sync_contact(member))


def agent_for(member, *departments: str):
    return agent_as_actor(make_agent(str(member.get_id()), list(departments)))


def open_billing_ticket(customer, departments, **extra):
    return open_ticket(
        customer_actor_for(customer),
        NewTicket(
            department_id=departments["billing"].id,
            subject="Invoice missing",
            body="Where is my invoice for October?",
            **extra,
        ),
    )


def test_agent_reply_reaches_customer_with_both_parts_and_absolute_link(
    app, smtp, departments, customer
):
    agent = agent_for(make_member("Minh Agent", "minh@shop.example.com"), "billing")
    ticket = open_billing_ticket(customer, departments)
    smtp.messages.clear()  # the staff notification of the new ticket is another test's concern

    post_message(agent, ticket, "Your invoice is attached to your account now.")

    [mail] = smtp.to("lan@example.com")
    assert mail.rcpt_tos == ["lan@example.com"]
    assert mail.message["Subject"] == f"[{ticket.code}] Invoice missing"
    assert mail.message["From"] == "support@shop.example.com"
    assert "Your invoice is attached to your account now." in mail.text
    assert "Your invoice is attached to your account now." in mail.html
    link = f"{EXTERNAL_URL}/support/tickets/{ticket.code}"
    assert link in mail.text
    assert f'href="{link}"' in mail.html
    # A person wrote it: it is no auto-generated notification.
    assert mail.message["Auto-Submitted"] is None
    assert mail.message["Content-Language"] == "en"


def test_department_address_is_the_sender_and_close_mail_is_automatic(
    app, smtp, departments, customer
):
    departments["billing"].email = "billing@shop.example.com"
    app.extensions["helpdesk"].db.session.commit()
    agent = agent_for(make_member("Minh Agent", "minh@shop.example.com"), "billing")
    ticket = open_billing_ticket(customer, departments)
    smtp.messages.clear()

    close_ticket(agent, ticket)

    [mail] = smtp.to("lan@example.com")
    assert mail.message["From"] == "billing@shop.example.com"
    assert mail.mail_from == "billing@shop.example.com"
    assert mail.message["Subject"] == f"[{ticket.code}] Your request was closed: Invoice missing"
    assert mail.message["Auto-Submitted"] == "auto-replied"
    assert "was closed" in mail.text and "was closed" in mail.html


def test_customer_closing_their_own_ticket_gets_no_mail(app, smtp, departments, customer):
    ticket = open_billing_ticket(customer, departments)
    smtp.messages.clear()
    close_ticket(customer_actor_for(customer), ticket)
    assert smtp.to("lan@example.com") == []


def test_internal_note_never_reaches_the_customer(app, smtp, departments, customer):
    agent = agent_for(make_member("Minh Agent", "minh@shop.example.com"), "billing")
    ticket = open_billing_ticket(customer, departments, notify_sms=True, phone="+84900000001")
    smtp.messages.clear()
    post_message(agent, ticket, "Customer seems confused; check the ledger.", internal=True)
    assert smtp.messages == []


def test_new_ticket_goes_to_department_agents_in_their_language_not_to_the_author(
    app, smtp, departments, customer
):
    agent_for(make_member("Minh Agent", "minh@shop.example.com", language="vi"), "billing")
    agent_for(make_member("Sara Agent", "sara@shop.example.com"), "billing")
    agent_for(make_member("Other Dept", "other@shop.example.com"), "account")

    ticket = open_billing_ticket(customer, departments)

    assert sorted(r for m in smtp.messages for r in m.rcpt_tos) == [
        "minh@shop.example.com",
        "sara@shop.example.com",
    ]
    [to_minh] = smtp.to("minh@shop.example.com")
    [to_sara] = smtp.to("sara@shop.example.com")
    assert to_minh.message["Content-Language"] == "vi"
    assert '<html lang="vi"' in to_minh.html
    assert to_sara.message["Content-Language"] == "en"
    assert to_sara.message["Subject"] == f"[{ticket.code}] New request: Invoice missing"
    assert to_sara.message["Auto-Submitted"] == "auto-replied"
    assert "Where is my invoice for October?" in to_sara.text
    assert f"{EXTERNAL_URL}/support/desk/tickets/{ticket.code}" in to_sara.text
    assert smtp.to("lan@example.com") == []


def test_agents_languages_are_asked_of_the_host_once_per_few_seconds(
    app, smtp, departments, customer, monkeypatch
):
    """A staff mail is in each agent's language, which the host's user adapter tells (its own
    query, often): asked once for several mails, and a change in the host's profile page is
    heeded once the staff cache's few seconds have passed."""
    from time import monotonic

    from flask_helpdesk.services import base
    from flask_helpdesk.services.notifications import tickets as notifications

    minh = make_member("Minh Agent", "minh@shop.example.com", language="vi")
    agent_for(minh, "billing")
    state = app.extensions["helpdesk"]
    asked: list[str] = []
    load_user = state.load_user
    monkeypatch.setattr(state, "load_user", lambda i: asked.append(i) or load_user(i))

    def new_ticket(subject: str):
        return open_ticket(
            customer_actor_for(customer),
            NewTicket(department_id=departments["billing"].id, subject=subject, body=subject),
        )

    new_ticket("Invoice missing")
    new_ticket("Parcel late")
    assert asked == [str(minh.get_id())]
    assert [m.message["Content-Language"] for m in smtp.to("minh@shop.example.com")] == [
        "vi",
        "vi",
    ]

    minh.preferred_language = "en"
    app.extensions["helpdesk"].db.session.commit()
    new_ticket("Card refused")  # within the few seconds: as it was
    later = monotonic() + notifications.STAFF_CACHE_SECONDS + 1
    monkeypatch.setattr(base, "monotonic", lambda: later)
    new_ticket("Login fails")
    assert [m.message["Content-Language"] for m in smtp.to("minh@shop.example.com")][2:] == [
        "vi",
        "en",
    ]
    assert len(asked) == 2


def test_customer_reply_goes_to_the_assignee_only(app, smtp, departments, customer):
    minh = make_member("Minh Agent", "minh@shop.example.com")
    agent_for(minh, "billing")
    sara = agent_for(make_member("Sara Agent", "sara@shop.example.com"), "billing")
    ticket = open_billing_ticket(customer, departments)
    ticket.assignee_id = sara.agent.id  # assignment has its own service in the desk
    app.extensions["helpdesk"].db.session.commit()
    smtp.messages.clear()

    post_message(customer_actor_for(customer), ticket, "Any news?")

    [mail] = smtp.messages
    assert mail.rcpt_tos == ["sara@shop.example.com"]
    assert mail.message["Subject"] == f"[{ticket.code}] Customer replied: Invoice missing"


def test_department_without_agents_falls_back_to_notify_emails(app, smtp, departments, customer):
    app.extensions["helpdesk"].config["HELPDESK_NOTIFY_EMAILS"] = ("desk@shop.example.com",)
    open_billing_ticket(customer, departments)
    assert [m.rcpt_tos for m in smtp.messages] == [["desk@shop.example.com"]]


def test_agent_who_is_also_the_customer_is_not_mailed_about_own_words(app, smtp, departments):
    # An agent files a ticket in the portal as a customer, then answers it from the desk.
    minh = make_member("Minh Agent", "minh@shop.example.com")
    agent = agent_for(minh, "billing")
    agent_for(make_member("Sara Agent", "sara@shop.example.com"), "billing")
    ticket = open_billing_ticket(minh, departments)
    assert [m.rcpt_tos for m in smtp.messages] == [["sara@shop.example.com"]]
    smtp.messages.clear()
    post_message(agent, ticket, "Answering myself.")
    assert smtp.messages == []


def test_ticket_opened_by_agent_on_behalf_is_not_mailed_to_that_agent(
    app, smtp, departments, customer
):
    agent = agent_for(make_member("Minh Agent", "minh@shop.example.com"), "billing")
    agent_for(make_member("Sara Agent", "sara@shop.example.com"), "billing")
    requester = sync_contact(customer)
    open_ticket(
        agent,
        NewTicket(department_id=departments["billing"].id, subject="Call", body="Called in."),
        requester=requester,
    )
    assert [m.rcpt_tos for m in smtp.messages] == [["sara@shop.example.com"]]


def test_customer_gets_mail_in_their_own_language(app, smtp, departments):
    vietnamese = make_member("Lan Nguyen", "lan@example.com", language="vi")
    agent = agent_for(make_member("Sara Agent", "sara@shop.example.com"), "billing")
    ticket = open_billing_ticket(vietnamese, departments)
    smtp.messages.clear()

    # The agent's request is in English; the mail must still be in the customer's language.
    with app.test_request_context("/?lang=en"):
        post_message(agent, ticket, "Đã gửi hóa đơn.")

    [mail] = smtp.to("lan@example.com")
    assert mail.message["Content-Language"] == "vi"
    assert '<html lang="vi" dir="ltr"' in mail.html
    english = "Support replied to your request %(code)s: %(subject)s"
    catalogue = TRANSLATIONS / "vi" / "LC_MESSAGES" / "messages.mo"
    if catalogue.exists():  # once the Vietnamese catalogue ships, the words themselves count
        vietnamese_line = Translations.load(str(TRANSLATIONS), ["vi"]).gettext(english)
        if vietnamese_line != english:
            expected = vietnamese_line % {"code": ticket.code, "subject": "Invoice missing"}
            assert expected in mail.text


def test_persian_mail_is_right_to_left(app, smtp, departments):
    persian = make_member("Reza Karimi", "reza@example.com", language="fa")
    agent = agent_for(make_member("Sara Agent", "sara@shop.example.com"), "billing")
    ticket = open_billing_ticket(persian, departments)
    smtp.messages.clear()
    post_message(agent, ticket, "پاسخ")
    [mail] = smtp.to("reza@example.com")
    assert '<html lang="fa" dir="rtl"' in mail.html


def test_sms_on_agent_reply_when_the_ticket_asked_for_it(
    app, smtp, departments, customer, sms_sent
):
    agent = agent_for(make_member("Sara Agent", "sara@shop.example.com"), "billing")
    with_sms = open_billing_ticket(customer, departments, notify_sms=True, phone="+84 90 111 2222")
    without = open_billing_ticket(customer, departments, phone="+84 90 111 3333")

    post_message(agent, with_sms, "Done.")
    post_message(agent, without, "Done too.")
    close_ticket(agent, with_sms)

    assert len(sms_sent) == 1
    phone, text = sms_sent[0]
    assert phone == "+84 90 111 2222"
    assert with_sms.code in text
    assert f"{EXTERNAL_URL}/support/tickets/{with_sms.code}" in text
    assert len(text) < 160


def test_mail_server_down_keeps_the_reply_and_records_the_failure(
    app, smtp, departments, customer, caplog
):
    agent = agent_for(make_member("Sara Agent", "sara@shop.example.com"), "billing")
    ticket = open_billing_ticket(customer, departments)
    smtp.reject_with = "451 4.3.0 Mail server temporarily unavailable"

    message = post_message(agent, ticket, "We are on it.")
    message_type, message_id, ticket_id = type(message), message.id, ticket.id

    db = app.extensions["helpdesk"].db
    db.session.remove()  # read back what really was committed
    assert db.session.get(message_type, message_id).body == "We are on it."
    [event] = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "notification.failed")
    )
    assert event.ticket_id == ticket_id
    assert event.data["notification"] == "agent_reply"
    assert event.data["channel"] == "mail"
    assert event.data["recipients"] == ["lan@example.com"]
    assert "451" in event.data["error"]
    assert event.data["will_retry"] is False
    assert "helpdesk job customer_of_reply failed" in caplog.text


def test_reply_through_the_portal_still_works_when_mail_fails(app, smtp, departments, customer):
    from tests.conftest import client_for, post_form

    agent_for(make_member("Sara Agent", "sara@shop.example.com"), "billing")
    ticket = open_billing_ticket(customer, departments)
    smtp.reject_with = "554 5.7.1 No thanks"
    client = client_for(app, customer)
    url = f"/support/tickets/{ticket.code}"
    response = post_form(client, url, f"{url}/reply", data={"body": "Hello again"})
    assert response.status_code == 302
    assert "Hello again" in client.get(url).get_data(as_text=True)


@pytest.mark.parametrize("locale", ["vi_VN", "vi-VN", "xx"])
def test_unusual_locales_fall_back_sensibly(app, locale):
    from flask_helpdesk.mail.outbound import mail_locale

    assert mail_locale(locale) == ("en" if locale == "xx" else "vi")
