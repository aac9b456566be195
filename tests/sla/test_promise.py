"""The promise customers see: on the new-ticket form and the ticket page, from the policy and
its calendar, in their language; the seeds' wordings."""

from __future__ import annotations

import pytest

from example_app.models import db
from flask_helpdesk.services import messages, tickets
from flask_helpdesk.services.identity import contact_as_actor, sync_contact
from flask_helpdesk.services.sla_policies import PolicyData, create_policy
from flask_helpdesk.services.sla_presets import install_preset
from tests.conftest import client_for, make_member


def _form(app, member) -> str:
    return client_for(app, member).get("/support/new").get_data(as_text=True)


def test_seed_002_promise_in_and_out_of_business_hours(app, admin, customer, clock):
    install_preset(admin, "business-hour", "UTC")
    clock.set("2026-03-02T10:00+00:00")  # Monday
    page = _form(app, customer)
    assert (
        "We usually answer within 1 hour during business hours."
        " Expect a reply by Monday 11:00 (UTC)." in page
    )
    clock.set("2026-03-07T10:00+00:00")  # Saturday: the 24-hour promise
    assert "We usually answer within 24 hours. Expect a reply by Sunday 10:00 (UTC)." in _form(
        app, customer
    )


def test_seed_000_72_hours(app, admin, customer, clock):
    install_preset(admin, "72-hours")
    clock.set("2026-03-02T10:00+00:00")
    assert "We usually answer within 72 hours. Expect a reply by Thursday 10:00 (UTC)." in _form(
        app, customer
    )


def test_in_the_customers_language(app, admin, clock, departments):
    install_preset(admin, "72-hours")
    vietnamese = make_member("Mai Pham", language="vi")
    assert "72 tiếng" in _form(app, vietnamese) and "Thứ Năm 09:00" in _form(app, vietnamese)
    persian = make_member("Sara Karimi", language="fa")
    assert "۷۲ ساعت" in _form(app, persian)  # Persian digits (views/formatting.py)


def test_departments_that_promise_differently_are_named(app, admin, customer, departments):
    install_preset(admin, "72-hours")
    create_policy(
        admin,
        PolicyData(
            "Billing fast",
            first_response_minutes=90,
            conditions={"department_ids": [departments["billing"].id]},
        ),
    )
    page = _form(app, customer)
    assert "<strong>Billing:</strong> We usually answer within 90 minutes." in page
    assert "<strong>Account:</strong> We usually answer within 72 hours." in page


def test_no_policy_no_promise(app, customer, departments):
    assert "hd-promise" not in _form(app, customer)


@pytest.fixture
def standard(admin):
    return create_policy(
        admin,
        PolicyData(
            "Standard", first_response_minutes=120, next_response_minutes=60, is_default=True
        ),
    )


def test_the_ticket_page_promises_the_reply_support_owes(
    app, standard, customer, agent, clock, open_for
):
    lan = contact_as_actor(sync_contact(customer))
    ticket = open_for(lan)  # Monday 09:00
    client = client_for(app, customer)
    page = client.get(f"/support/tickets/{ticket.code}").get_data(as_text=True)
    assert "Expect a reply by Monday 11:00 (UTC)." in page
    messages.post_message(agent, ticket, "Which browser?")
    page = client.get(f"/support/tickets/{ticket.code}").get_data(as_text=True)
    assert "hd-promise" not in page  # answered: nothing owed now
    clock.set("2026-03-02T12:00+00:00")
    messages.post_message(lan, tickets.find_ticket(lan, ticket.code), "Firefox")
    page = client.get(f"/support/tickets/{ticket.code}").get_data(as_text=True)
    assert "We usually answer within 1 hour. Expect a reply by Monday 13:00 (UTC)." in page


# -- in the customer's own time zone ------------------------------------------------------------
def _zoned(name: str, zone: str | None, language: str | None = None):
    member = make_member(name, language=language)
    member.time_zone = zone
    db.session.commit()
    return member


def test_the_promise_is_in_the_host_users_time_zone(app, admin, departments, clock):
    install_preset(admin, "business-hour", "Europe/Berlin")
    clock.set("2026-03-02T10:00+00:00")  # Monday 11:00 in Berlin: due 12:00 Berlin
    page = _form(app, _zoned("Lan Nguyen", "Asia/Ho_Chi_Minh"))
    assert "Expect a reply by Monday 18:00 (Asia/Ho_Chi_Minh)." in page


def test_else_the_browsers_time_zone_else_the_calendars(app, admin, departments, clock):
    install_preset(admin, "business-hour", "Europe/Berlin")
    clock.set("2026-03-02T10:00+00:00")
    member = _zoned("Lan Nguyen", None)
    client = client_for(app, member)
    client.set_cookie("helpdesk_tz", "America/New_York")
    page = client.get("/support/new").get_data(as_text=True)
    assert "Expect a reply by Monday 06:00 (America/New_York)." in page
    client.set_cookie("helpdesk_tz", "Not/A_Zone")  # forged or stale: ignored
    page = client.get("/support/new").get_data(as_text=True)
    assert "Expect a reply by Monday 12:00 (Europe/Berlin)." in page


def test_on_the_ticket_page_in_persian_with_jalali_digits(app, admin, departments, clock):
    install_preset(admin, "72-hours")
    clock.set("2026-03-02T10:00+00:00")  # due Thursday 5 March 10:00 UTC = 13:30 in Tehran
    member = _zoned("Sara Karimi", "Asia/Tehran", language="fa")
    ticket = tickets.open_ticket(
        contact_as_actor(sync_contact(member)),
        tickets.NewTicket(department_id=departments["account"].id, subject="Help", body="Hi"),
    )
    page = client_for(app, member).get(f"/support/tickets/{ticket.code}").get_data(as_text=True)
    promise = page[page.index('class="hd-promise"') :].split("</p>")[0]
    assert "۷۲ ساعت" in promise, promise  # Persian digits in the duration too
    assert "پنج‌شنبه ۱۳:۳۰ (Asia/Tehran)" in promise, promise
    assert promise.endswith("باشید.")  # a full stop, not a decimal separator
