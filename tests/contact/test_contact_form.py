"""The help center's contact form for visitors who cannot log in (issue 15, item 5): the whole
journey through the real SMTP test server, the link's failure modes, the guards."""

from __future__ import annotations

import itertools
import re
import threading
import uuid
from datetime import timedelta

import pytest
from flask import request as flask_request
from sqlalchemy import delete, func, select, update

from flask_helpdesk.models import (
    AuditEvent,
    ContactRequest,
    Message,
    Ticket,
    TicketStatus,
    utcnow,
)
from flask_helpdesk.services import contact_requests
from flask_helpdesk.services.base import session
from tests.conftest import client_for, csrf_from, make_member
from tests.desk.test_spam_learning import train
from tests.jobs.conftest import EXTERNAL_URL
from tests.mail.conftest import ingest, make_mail
from tests.parallel import only_postgres, run_at_once

CONTACT = "/support/help/contact"
LINK = re.compile(re.escape(EXTERNAL_URL) + r"(/support/help/contact/confirm/[A-Za-z0-9_.\-]+)")
_addresses = itertools.count(1)


@pytest.fixture
def visitor(app):
    """A browser that is not logged in, from an address of its own (the per-IP limit counts
    per process: tests must not share one)."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = f"10.{uuid.uuid4().int % 250}.{next(_addresses) % 250}.7"
    return client


def fresh_address(name: str = "visitor") -> str:
    return f"{name}.{uuid.uuid4().hex[:8]}@example.net"


def send(client, departments, **fields):
    page = client.get(CONTACT)
    assert page.status_code == 200
    data = {
        "csrf_token": csrf_from(page.get_data(as_text=True)),
        "name": "Hoa Pham",
        "email": fields.pop("email", None) or fresh_address(),
        "department_id": departments["account"].id,
        "subject": "I cannot log in",
        "body": "My password reset mail never arrives.",
        "website": "",
        **fields,
    }
    return client.post(CONTACT, data=data), data


def link_in(smtp, address: str) -> str:
    mails = [m for m in smtp.to(address) if "confirm" in m.text]
    assert mails, f"no confirmation mail to {address}"
    match = LINK.search(mails[-1].text)
    assert match, mails[-1].text
    return match.group(1)


def confirm(client, path: str):
    page = client.get(path)
    return client.post(path, data={"csrf_token": csrf_from(page.get_data(as_text=True))})


def tickets_count() -> int:
    session().expire_all()
    return session().scalar(select(func.count()).select_from(Ticket)) or 0


def test_a_visitor_writes_confirms_and_follows_the_ticket_by_mail(
    app,
    departments,
    visitor,
    smtp,
):
    home = visitor.get("/support/help/").get_data(as_text=True)
    assert 'href="/support/help/contact"' in home and "Cannot log in?" in home

    response, sent = send(visitor, departments)
    assert response.status_code == 200
    assert "Please check your mail" in response.get_data(as_text=True)
    assert tickets_count() == 0  # nothing reaches support before the address is confirmed

    path = link_in(smtp, sent["email"])
    page = visitor.get(path)  # a mail scanner opening the link sends nothing
    assert page.status_code == 200 and "Confirm and send" in page.get_data(as_text=True)
    assert tickets_count() == 0

    token_form = {"csrf_token": csrf_from(page.get_data(as_text=True))}
    done = visitor.post(path, data=token_form)
    assert done.status_code == 200
    ticket = session().scalar(select(Ticket))
    assert ticket is not None and ticket.code in done.get_data(as_text=True)
    assert ticket.requester.email == sent["email"] and ticket.requester.name == "Hoa Pham"
    assert ticket.requester.user_id is None
    assert ticket.subject == "I cannot log in" and ticket.department_id == sent["department_id"]
    first = session().scalar(select(Message).where(Message.ticket_id == ticket.id))
    assert first.data["contact_form"]["verified"] is True
    request = session().scalar(select(ContactRequest))
    assert request.ticket_id == ticket.id and request.confirmed_at is not None

    # The visitor hears of the ticket by mail, and answering that mail adds to the ticket.
    opened = [m for m in smtp.to(sent["email"]) if ticket.code in m.message["Subject"]]
    assert len(opened) == 1
    answer = ingest(
        make_mail(
            subject=f"Re: {opened[0].message['Subject']}",
            body="Also: my username is hoa.",
            sender=f"Hoa Pham <{sent['email']}>",
            in_reply_to=opened[0].message["Message-ID"],
        )
    )
    assert answer.ticket_id == ticket.id
    assert tickets_count() == 1

    # Pressing the button again (a second tab) or following the link again opens nothing
    # new and shows the same ticket.
    again = visitor.post(path, data=token_form)
    assert again.status_code == 200 and ticket.code in again.get_data(as_text=True)
    assert ticket.code in visitor.get(path).get_data(as_text=True)
    assert tickets_count() == 1
    actions = set(session().scalars(select(AuditEvent.action)))
    assert {"contact_request.submitted", "contact_request.opened"} <= actions


def test_two_confirmations_of_one_request_open_one_ticket(app, departments, visitor, smtp):
    _response, sent = send(visitor, departments)
    request = session().scalar(select(ContactRequest).where(ContactRequest.email == sent["email"]))
    first = contact_requests.confirm(request)
    second = contact_requests.confirm(request)
    assert not first.already and second.already
    assert second.ticket is not None and second.ticket.id == first.ticket.id
    assert tickets_count() == 1


def test_a_failure_after_the_ticket_opened_loses_nothing_and_confirming_again_links_one(
    app, departments, visitor, smtp, monkeypatch
):
    """The confirmation's claim, the ticket and the request's link to it are one transaction:
    a failure after the ticket was opened (here its notice to the visitor) leaves the request
    pending, and the link followed again opens exactly one ticket, linked to the request."""
    _response, sent = send(visitor, departments)
    path = link_in(smtp, sent["email"])
    token = path.rsplit("/", 1)[1]
    original = contact_requests.notifications.contact_opened

    def crash(ticket):
        raise RuntimeError("the worker died here")

    monkeypatch.setattr(contact_requests.notifications, "contact_opened", crash)
    with pytest.raises(RuntimeError):
        contact_requests.confirm(contact_requests.request_for_token(token))
    session().rollback()  # as the failed request's teardown does
    request = contact_requests.request_for_token(token)
    assert request.confirmed_at is None and request.ticket_id is None
    assert tickets_count() == 0

    monkeypatch.setattr(contact_requests.notifications, "contact_opened", original)
    page = confirm(visitor, path)
    assert page.status_code == 200
    assert tickets_count() == 1
    ticket = session().scalar(select(Ticket))
    assert ticket.code in page.get_data(as_text=True)
    request = contact_requests.request_for_token(token)
    assert request.ticket_id == ticket.id and request.confirmed_at is not None
    assert len([m for m in smtp.to(sent["email"]) if ticket.code in m.message["Subject"]]) == 1


def test_a_request_confirmed_but_left_unlinked_by_an_earlier_version_is_linked_again(
    app, departments, visitor, smtp
):
    """Before confirming was one transaction, a failure between its two commits left the
    ticket open but the request not linked to it (and the visitor untold). Following the
    link again finds that ticket, links it and tells the visitor, once; no second ticket."""
    _response, sent = send(visitor, departments)
    path = link_in(smtp, sent["email"])
    assert confirm(visitor, path).status_code == 200
    ticket = session().scalar(select(Ticket))
    # What the earlier version left behind.
    session().execute(update(ContactRequest).values(ticket_id=None))
    session().execute(delete(AuditEvent).where(AuditEvent.action == "contact_request.opened"))
    session().commit()
    smtp.messages.clear()

    page = visitor.get(path)  # still offers the button: the request has no ticket
    form = {"csrf_token": csrf_from(page.get_data(as_text=True))}
    for _click in range(2):  # pressed twice (a second tab)
        done = visitor.post(path, data=form)
        assert done.status_code == 200 and ticket.code in done.get_data(as_text=True)
    assert ticket.code in visitor.get(path).get_data(as_text=True)
    assert tickets_count() == 1
    request = session().scalar(select(ContactRequest))
    assert request.ticket_id == ticket.id
    assert len([m for m in smtp.to(sent["email"]) if ticket.code in m.message["Subject"]]) == 1
    opened = session().scalars(
        select(AuditEvent).where(AuditEvent.action == "contact_request.opened")
    )
    assert len(opened.all()) == 1


def test_a_tampered_link_gets_a_clear_page_and_changes_nothing(app, departments, visitor, smtp):
    _response, sent = send(visitor, departments)
    path = link_in(smtp, sent["email"])
    token = path.rsplit("/", 1)[1]
    tampered = path[: -len(token)] + token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    token_form = {"csrf_token": csrf_from(visitor.get(path).get_data(as_text=True))}
    for bad in (tampered, "/support/help/contact/confirm/nonsense", path + "x"):
        page = visitor.get(bad)
        assert page.status_code == 404
        assert "This link is not valid" in page.get_data(as_text=True)
        assert visitor.post(bad, data=token_form).status_code == 404
        resend = bad.replace("/confirm/", "/resend/")
        assert visitor.post(resend, data=token_form).status_code == 404
    assert tickets_count() == 0


def test_an_expired_link_keeps_the_message_and_offers_a_new_link(app, departments, visitor, smtp):
    _response, sent = send(visitor, departments)
    path = link_in(smtp, sent["email"])
    config = app.extensions["helpdesk"].config
    config["HELPDESK_CONTACT_FORM_LINK_MAX_AGE"] = timedelta(seconds=-1)
    page = visitor.get(path)
    html = page.get_data(as_text=True)
    assert page.status_code == 410 and "This link has expired" in html
    assert visitor.post(path, data={"csrf_token": csrf_from(html)}).status_code == 410
    assert tickets_count() == 0
    resend = path.replace("/confirm/", "/resend/")
    resent = visitor.post(resend, data={"csrf_token": csrf_from(html)})
    assert resent.status_code == 200 and "Please check your mail" in resent.get_data(as_text=True)
    config["HELPDESK_CONTACT_FORM_LINK_MAX_AGE"] = timedelta(days=2)
    new_path = link_in(smtp, sent["email"])
    assert len([m for m in smtp.to(sent["email"]) if "confirm" in m.text]) == 2
    assert confirm(visitor, new_path).status_code == 200
    assert tickets_count() == 1


def test_unconfirmed_requests_are_deleted_after_the_keep_period(app, departments, visitor, smtp):
    send(visitor, departments)
    _response, kept = send(visitor, departments)
    old = session().scalar(select(ContactRequest).where(ContactRequest.email != kept["email"]))
    old.created_at = utcnow() - timedelta(days=31)
    session().commit()
    assert contact_requests.purge_expired() == 1
    assert [r.email for r in session().scalars(select(ContactRequest))] == [kept["email"]]


def test_the_honeypot_keeps_nothing_and_mails_nobody(app, departments, visitor, smtp):
    response, sent = send(visitor, departments, website="http://cheap-pills.example")
    assert response.status_code == 200  # the robot cannot tell
    assert "Please check your mail" in response.get_data(as_text=True)
    assert session().scalar(select(func.count()).select_from(ContactRequest)) == 0
    assert smtp.to(sent["email"]) == []
    assert "contact_request.honeypot" in set(session().scalars(select(AuditEvent.action)))


def test_per_address_and_per_ip_limits(app, departments, visitor, smtp):
    config = app.extensions["helpdesk"].config
    config["HELPDESK_CONTACT_FORM_ADDRESS_RATE_LIMIT"] = "2/hour"
    address = fresh_address()
    for _ in range(2):
        assert send(visitor, departments, email=address)[0].status_code == 200
    refused, _data = send(visitor, departments, email=address.upper(), subject="Third time")
    html = refused.get_data(as_text=True)
    assert refused.status_code == 429
    assert "Too many messages for this address" in html
    assert 'value="Third time"' in html  # what was typed is kept on the page
    assert len(smtp.to(address)) == 2

    config["HELPDESK_CONTACT_FORM_RATE_LIMIT"] = "4/hour"  # 3 sends from this IP so far
    assert send(visitor, departments)[0].status_code == 200
    refused, _data = send(visitor, departments)
    assert refused.status_code == 429
    assert "Too many messages from your network" in refused.get_data(as_text=True)


def test_an_address_of_a_host_user_makes_the_ticket_theirs_in_the_portal(
    app,
    departments,
    visitor,
    smtp,
):
    from example_app.models import Member

    member = make_member("Minh Tran", "minh.contact@example.com")
    extension = app.extensions["helpdesk"].extension
    extension.user_by_email(
        lambda address: session().scalar(select(Member).where(Member.email == address))
    )
    try:
        _response, _sent = send(visitor, departments, email="Minh.Contact@example.com")
        path = link_in(smtp, "Minh.Contact@example.com")
        assert confirm(visitor, path).status_code == 200
    finally:
        extension._user_by_email_callback = None
    ticket = session().scalar(select(Ticket))
    assert ticket.requester.user_id == str(member.get_id())
    portal = client_for(app, member).get("/support/").get_data(as_text=True)
    assert ticket.code in portal
    # A logged-in member is sent to the portal's own form.
    assert client_for(app, member).get(CONTACT).status_code == 302


def test_unverified_mode_opens_the_ticket_at_once_but_not_in_a_members_name(
    app,
    departments,
    visitor,
    smtp,
):
    config = app.extensions["helpdesk"].config
    config["HELPDESK_CONTACT_FORM_VERIFY"] = False
    response, sent = send(visitor, departments)
    ticket = session().scalar(select(Ticket))
    assert ticket is not None and ticket.code in response.get_data(as_text=True)
    first = session().scalar(select(Message).where(Message.ticket_id == ticket.id))
    assert first.data["contact_form"] == {
        "request_id": session().scalar(select(ContactRequest.id)),
        "verified": False,
    }
    assert [m for m in smtp.to(sent["email"]) if "confirm" in m.text] == []
    assert [m for m in smtp.to(sent["email"]) if ticket.code in m.message["Subject"]]

    member = make_member("Reza Karimi", "reza.contact@example.com")
    contact_client = visitor
    from example_app.models import Member

    extension = app.extensions["helpdesk"].extension
    extension.user_by_email(
        lambda address: session().scalar(select(Member).where(Member.email == address))
    )
    try:
        answer, _data = send(contact_client, departments, email=member.email)
    finally:
        extension._user_by_email_callback = None
    assert "Please check your mail" in answer.get_data(as_text=True)
    assert tickets_count() == 1  # a member's name needs the member's confirmation


def test_the_host_can_turn_the_form_off(app, departments, visitor):
    app.extensions["helpdesk"].config["HELPDESK_CONTACT_FORM"] = False
    assert visitor.get(CONTACT).status_code == 404
    home = visitor.get("/support/help/").get_data(as_text=True)
    assert "/support/help/contact" not in home


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("email", "not-an-address", "Not a valid email."),
        ("email", "a" * 300 + "@example.net", "Not a valid email."),
        ("subject", "x" * 10_000, "The subject is too long."),
        ("body", "y" * 2_000_001, "The message is too long."),
        ("name", "", "Please enter your name."),
        ("department_id", "99999999999999999999", "Please choose a department."),
    ],
)
def test_bad_input_gets_a_clear_error_and_keeps_nothing(
    app,
    departments,
    visitor,
    smtp,
    field,
    value,
    error,
):
    response, _data = send(visitor, departments, **{field: value})
    assert response.status_code == 422
    assert error in response.get_data(as_text=True)
    assert session().scalar(select(func.count()).select_from(ContactRequest)) == 0
    assert smtp.messages == []


def test_nul_bytes_are_dropped_not_a_500(app, departments, visitor, smtp):
    response, _sent = send(
        visitor, departments, name="Hoa\x00 Pham", subject="Log\x00in", body="Hel\x00lo"
    )
    assert response.status_code == 200
    request = session().scalar(select(ContactRequest))
    assert (request.name, request.subject, request.body) == ("Hoa Pham", "Login", "Hello")


def test_the_desk_tells_agents_whether_the_address_was_confirmed(app, departments, visitor, smtp):
    from flask_helpdesk.services.agents import make_agent

    admin = make_member("Alex Admin", "alex.contact@example.com", admin=True)
    make_agent(admin.get_id(), ["account"])
    app.extensions["helpdesk"].config["HELPDESK_CONTACT_FORM_VERIFY"] = False
    send(visitor, departments)
    ticket = session().scalar(select(Ticket))
    page = client_for(app, admin).get(f"/support/desk/tickets/{ticket.code}")
    assert page.status_code == 200
    assert 'data-contact-form="unverified"' in page.get_data(as_text=True)


# -- the spam filter and two confirmations at once ----------------------------------------------


def test_a_spam_verdict_sets_a_contact_form_ticket_aside_like_a_web_ticket(
    app, departments, visitor, smtp, agent, lan, monkeypatch
):
    """Once trained, the filter screens a confirmed contact-form ticket as any web ticket: a
    spammy one goes to the desk's Spam view with its verdict and calls nobody; the visitor is
    told it was sent, as a customer whose web ticket was quarantined is."""
    monkeypatch.setitem(app.extensions["helpdesk"].config, "HELPDESK_SPAM_MIN_TRAINING", 2)
    train(agent, lan, departments)
    staff_mail_before = len(smtp.to(agent.member.email))

    _response, spammy = send(
        visitor, departments, subject="Free prize", body="Click here to claim your free prize now"
    )
    done = confirm(visitor, link_in(smtp, spammy["email"]))
    ticket = session().scalar(select(Ticket).where(Ticket.subject == "Free prize"))
    assert done.status_code == 200 and ticket.code in done.get_data(as_text=True)
    assert ticket.status == TicketStatus.SPAM
    first = session().scalar(select(Message).where(Message.ticket_id == ticket.id))
    assert first.data["spam"]["action"] == "quarantined"
    desk = client_for(app, agent.member)
    assert ticket.code in desk.get("/support/desk/?view=spam").get_data(as_text=True)
    assert ticket.code not in desk.get("/support/desk/").get_data(as_text=True)
    assert len(smtp.to(agent.member.email)) == staff_mail_before  # nobody called

    # A genuine request through the same form still reaches the agents.
    _response, genuine = send(
        visitor, departments, subject="Login", body="I cannot log in to my account"
    )
    confirm(visitor, link_in(smtp, genuine["email"]))
    good = session().scalar(select(Ticket).where(Ticket.subject == "Login"))
    assert good.status == TicketStatus.OPEN
    assert ticket.code not in desk.get("/support/desk/").get_data(as_text=True)
    assert good.code in desk.get("/support/desk/").get_data(as_text=True)
    assert len(smtp.to(agent.member.email)) > staff_mail_before


@only_postgres
def test_two_clicks_confirming_one_link_at_once_open_one_ticket(
    app, departments, visitor, smtp, database_url, tmp_path, monkeypatch
):
    """Two real transactions confirm the same link at the same moment (two tabs, a double
    click): both have read the request as pending before either claims it. Exactly one ticket
    opens, and both pages say the request was sent."""
    _response, sent = send(visitor, departments)
    path = link_in(smtp, sent["email"])
    token = path.rsplit("/", 1)[1]
    both_read = threading.Barrier(2, timeout=10)
    original = contact_requests.request_for_token

    def read_then_wait(*args, **kwargs):
        found = original(*args, **kwargs)
        if flask_request.method == "POST":
            both_read.wait()  # neither claims the request before both have seen it pending
        return found

    def click(index: int) -> tuple[int, str]:
        from flask import current_app

        client = current_app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"10.99.{index}.7"
        form = {"csrf_token": csrf_from(client.get(path).get_data(as_text=True))}
        response = client.post(path, data=form)
        return response.status_code, response.get_data(as_text=True)

    monkeypatch.setattr(contact_requests, "request_for_token", read_then_wait)
    pages = run_at_once(database_url, tmp_path, click)
    monkeypatch.setattr(contact_requests, "request_for_token", original)
    assert [status for status, _html in pages] == [200, 200]
    assert tickets_count() == 1
    ticket = session().scalar(select(Ticket))
    request = session().scalar(select(ContactRequest))
    assert request.ticket_id == ticket.id
    assert any(ticket.code in html for _status, html in pages)
    opened = session().scalars(
        select(AuditEvent).where(AuditEvent.action == "contact_request.opened")
    )
    assert len(opened.all()) == 1
    assert contact_requests.request_for_token(token).ticket_id == ticket.id
