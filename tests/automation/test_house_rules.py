"""House rules (services/house_rules.py): the abuse guard, the duplicate guard and the
wrong-language rule, through the one ticket-creation path (web form, service, mail), with
Vietnamese and Persian texts; and the admin page that switches them on."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from flask_helpdesk.models import AuditEvent, InboundMail, InboundStatus, Message, Ticket
from flask_helpdesk.models import TicketStatus as S
from flask_helpdesk.services import house_rules, tickets
from flask_helpdesk.services.base import session
from tests.conftest import client_for, post_form
from tests.desk.conftest import DESK, open_as
from tests.mail.conftest import ingest, make_mail, ticket_of

ENGLISH = ("Cannot log in", "Hello, I cannot log in to my account since yesterday. Please help.")
VIETNAMESE = (
    "Không đăng nhập được",
    "Xin chào, từ hôm qua tôi không thể đăng nhập vào tài khoản của mình. Xin hãy giúp tôi.",
)
PERSIAN = (
    "مشکل ورود",
    "سلام، از دیروز نمی‌توانم وارد حساب کاربری‌ام شوم. لطفا به من کمک کنید.",
)
GERMAN = (
    "Anmeldung geht nicht",
    "Hallo, ich kann mich seit gestern nicht mehr in mein Konto einloggen. Bitte helfen Sie mir.",
)


def switch_on(admin, **changes) -> None:
    current = house_rules.rules()
    plan = {name: (rule.enabled, dict(rule.settings)) for name, rule in current.items()}
    for name, (enabled, settings) in changes.items():
        plan[name] = (enabled, {**plan[name][1], **settings})
    house_rules.save(admin.actor, plan)


# -- abuse guard ------------------------------------------------------------------------------


def test_the_abuse_guard_limits_new_tickets_per_hour_with_a_clear_message(
    app, departments, admin, lan
):
    switch_on(admin, abuse=(True, {"per_hour": 2, "per_day": 10}))
    open_as(lan, departments["account"], "One", "first")
    open_as(lan, departments["account"], "Two", "second")
    with pytest.raises(house_rules.TooManyTickets) as refused:
        open_as(lan, departments["account"], "Three", "third")
    assert "2 requests per hour" in refused.value.message
    assert session().scalar(select(Ticket).where(Ticket.subject == "Three")) is None


def test_the_abuse_guard_counts_a_day_too_and_only_the_customers_own_tickets(
    app, departments, admin, lan, reza
):
    switch_on(admin, abuse=(True, {"per_hour": 5, "per_day": 2}))
    for n in range(2):
        ticket = open_as(lan, departments["account"], f"Old {n}", "earlier today")
        ticket.created_at -= timedelta(hours=3)
    session().commit()
    with pytest.raises(house_rules.TooManyTickets) as refused:
        open_as(lan, departments["account"], "Again", "more")
    assert "per day" in refused.value.message
    open_as(reza, departments["account"], "Mine", "another customer is not limited")


def test_agents_opening_for_a_customer_are_not_limited(app, departments, admin, agent, lan):
    switch_on(admin, abuse=(True, {"per_hour": 1, "per_day": 1}))
    open_as(lan, departments["account"])
    for _n in range(2):
        open_as(agent.actor, departments["account"], requester=lan.contact)


def test_the_web_form_shows_the_abuse_message(app, departments, admin, lan, customer):
    switch_on(admin, abuse=(True, {"per_hour": 1, "per_day": 10}))
    open_as(lan, departments["account"])
    client = client_for(app, customer)
    response = post_form(
        client,
        "/support/new",
        data={
            "department_id": departments["account"].id,
            "subject": "X",
            "body": "Y",
            "priority": "2",
        },
    )
    assert response.status_code == 422
    assert "You can open 1 request per hour." in response.get_data(as_text=True)


def test_mail_over_the_limit_is_kept_and_answered_not_lost(app, support, admin, lan, smtp):
    switch_on(admin, abuse=(True, {"per_hour": 1, "per_day": 10}))
    first = ingest(make_mail(subject="First", body="one"))
    assert first.status == InboundStatus.PROCESSED
    second = ingest(make_mail(subject="Second", body="two"))
    assert second.status == InboundStatus.IGNORED
    assert second.reason.startswith("abuse guard")
    assert session().get(InboundMail, second.id).raw  # the mail itself is kept
    answers = [m for m in smtp.to("lan@example.com") if "no new request" in m.message["Subject"]]
    assert len(answers) == 1
    assert answers[0].message["Auto-Submitted"] == "auto-replied"
    assert "you can open 1 request per hour" in answers[0].text
    ingest(make_mail(subject="Third", body="three"))  # the same hour: no second answer
    assert len([m for m in smtp.messages if "no new request" in m.message["Subject"]]) == 1


# -- duplicate guard --------------------------------------------------------------------------


@pytest.mark.parametrize("text", [ENGLISH, VIETNAMESE, PERSIAN], ids=["en", "vi", "fa"])
def test_a_ticket_closely_matching_an_open_one_is_pointed_to_it(app, departments, admin, lan, text):
    switch_on(admin, duplicate=(True, {}))
    subject, body = text
    first = open_as(lan, departments["account"], subject, body)
    with pytest.raises(house_rules.DuplicateTicket) as found:
        open_as(lan, departments["account"], subject, body + " !")
    assert found.value.ticket.id == first.id
    # The customer insists: a new ticket.
    again = tickets.open_ticket(
        lan,
        tickets.NewTicket(
            department_id=departments["account"].id,
            subject=subject,
            body=body,
            allow_duplicate=True,
        ),
    )
    assert again.id != first.id


def test_different_requests_closed_tickets_and_other_customers_are_not_duplicates(
    app, departments, admin, lan, reza
):
    switch_on(admin, duplicate=(True, {}))
    first = open_as(lan, departments["account"], *ENGLISH)
    open_as(lan, departments["account"], "Invoice", "My March invoice shows the wrong amount.")
    open_as(reza, departments["account"], *ENGLISH)
    tickets.close_ticket(lan, first)
    open_as(lan, departments["account"], *ENGLISH)


def test_the_web_form_shows_the_open_ticket_and_lets_the_customer_insist(
    app, departments, admin, lan, customer
):
    switch_on(admin, duplicate=(True, {}))
    first = open_as(lan, departments["account"], *ENGLISH)
    client = client_for(app, customer)
    form = {
        "department_id": departments["account"].id,
        "subject": ENGLISH[0],
        "body": ENGLISH[1],
        "priority": "2",
    }
    response = post_form(client, "/support/new", data=form)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f"This looks like your open request {first.code}." in page
    assert f"/support/tickets/{first.code}" in page
    response = post_form(client, "/support/new", data={**form, "send_anyway": "y"})
    assert response.status_code == 302
    assert session().query(Ticket).filter(Ticket.subject == ENGLISH[0]).count() == 2


def test_the_api_names_the_open_ticket_and_opens_anyway_when_told(
    app, departments, admin, lan, customer
):
    from tests.api.conftest import ApiClient
    from tests.conftest import csrf_from

    switch_on(admin, duplicate=(True, {}))
    first = open_as(lan, departments["account"], *ENGLISH)
    api = ApiClient(app, member=customer)
    csrf = {"X-CSRFToken": csrf_from(api.client.get("/support/new").get_data(as_text=True))}
    data = {"department_id": departments["account"].id, "subject": ENGLISH[0], "body": ENGLISH[1]}
    refused = api.post("/tickets", json=data, headers=csrf)
    assert refused.status_code == 409, refused.json
    assert refused.mimetype == "application/problem+json"
    assert first.code in refused.json["detail"]
    assert [e["field"] for e in refused.json["errors"]] == ["allow_duplicate"]
    assert session().query(Ticket).filter(Ticket.subject == ENGLISH[0]).count() == 1
    insisted = api.post("/tickets", json={**data, "allow_duplicate": True}, headers=csrf)
    assert insisted.status_code == 201, insisted.json
    assert insisted.json["code"] != first.code
    assert session().query(Ticket).filter(Ticket.subject == ENGLISH[0]).count() == 2
    # The flag is documented where API clients look.
    document = api.get("/openapi.json").json
    create = document["paths"]["/tickets"]["post"]
    assert "409" in create["responses"]
    schema = document["components"]["schemas"]["TicketCreate"]["properties"]
    assert schema["allow_duplicate"]["type"] == "boolean"


def test_a_duplicate_mail_is_threaded_into_the_open_ticket(app, support, admin, lan):
    switch_on(admin, duplicate=(True, {}))
    first = ticket_of(ingest(make_mail(subject=ENGLISH[0], body=ENGLISH[1])))
    row = ingest(
        make_mail(subject=ENGLISH[0], body=ENGLISH[1], message_id="<other@client.example.com>")
    )
    assert row.status == InboundStatus.PROCESSED
    assert row.ticket_id == first.id
    assert "duplicate guard" in row.reason
    assert session().query(Ticket).count() == 1


# -- wrong language ---------------------------------------------------------------------------


@pytest.fixture
def english_only(admin):
    switch_on(admin, language=(True, {"accepted": ["en"]}))


def test_a_ticket_in_another_language_is_closed_with_a_polite_reply(
    app, departments, english_only, lan, smtp
):
    ticket = open_as(lan, departments["account"], *GERMAN)
    assert ticket.status == S.CLOSED
    event = (
        session()
        .scalars(select(Message).where(Message.ticket_id == ticket.id).order_by(Message.id.desc()))
        .first()
    )
    assert event.data == {"event": "wrong_language", "language": "de", "accepted": ["en"]}
    mails = [m for m in smtp.to("lan@example.com") if ticket.code in m.message["Subject"]]
    assert len(mails) == 1
    assert "we can only answer requests written in English" in mails[0].text


@pytest.mark.parametrize(
    ("text", "closed"), [(ENGLISH, False), (VIETNAMESE, True), (PERSIAN, True)]
)
def test_vietnamese_and_persian_are_recognised(app, departments, english_only, lan, text, closed):
    ticket = open_as(lan, departments["account"], *text)
    assert (ticket.status == S.CLOSED) is closed


def test_accepted_languages_stay_open_and_the_reply_names_them_in_the_customers_language(
    app, departments, admin, lan, smtp
):
    switch_on(admin, language=(True, {"accepted": ["vi", "fa"]}))
    assert open_as(lan, departments["account"], *VIETNAMESE).status == S.OPEN
    assert open_as(lan, departments["account"], *PERSIAN).status == S.OPEN
    lan.contact.locale = "vi"
    session().commit()
    closed = open_as(lan, departments["account"], *ENGLISH)
    assert closed.status == S.CLOSED
    text = next(m for m in smtp.messages if closed.code in m.message["Subject"]).text
    # In Vietnamese, each accepted language under its own name.
    assert "Tiếng Việt và فارسی" in text


@pytest.mark.parametrize("short", ["Danke!", "Merci beaucoup", "مرسی", "Cảm ơn", "ok thx"])
def test_short_texts_are_never_closed(app, departments, english_only, lan, short):
    assert open_as(lan, departments["account"], short, short).status == S.OPEN


def test_the_portal_shows_the_customer_why(app, departments, english_only, lan, customer):
    ticket = open_as(lan, departments["account"], *GERMAN)
    page = client_for(app, customer).get(f"/support/tickets/{ticket.code}").get_data(as_text=True)
    assert "we can only answer requests written in English" in page


# -- the admin page ---------------------------------------------------------------------------


def test_the_admin_page_switches_the_rules_on_with_csrf_and_audit(app, departments, admin):
    client = client_for(app, admin.member)
    response = post_form(
        client,
        f"{DESK}/admin/house-rules",
        data={
            "language_enabled": "y",
            "accepted": ["en", "vi"],
            "duplicate_enabled": "y",
            "abuse_enabled": "y",
            "per_hour": "3",
            "per_day": "9",
        },
    )
    assert response.status_code == 302
    rules = house_rules.rules()
    assert rules["language"].enabled and rules["language"].settings["accepted"] == ["en", "vi"]
    assert rules["duplicate"].enabled
    assert rules["abuse"].settings == {"per_hour": 3, "per_day": 9}
    audited = session().scalars(select(AuditEvent.action)).all()
    assert audited.count("house_rule.updated") == 3
    page = client.get(f"{DESK}/admin/house-rules").get_data(as_text=True)
    assert 'value="vi" selected' in page or "selected" in page
    # No CSRF token: refused, nothing changes.
    assert client.post(f"{DESK}/admin/house-rules", data={"per_hour": "1"}).status_code in (
        400,
        403,
    )


def test_bad_limits_and_no_accepted_language_are_refused(app, departments, admin):
    client = client_for(app, admin.member)
    response = post_form(
        client,
        f"{DESK}/admin/house-rules",
        data={"language_enabled": "y", "per_hour": "0", "per_day": "5"},
    )
    assert response.status_code == 422
    assert not house_rules.rules()["language"].enabled


def test_only_admins_reach_the_page(app, departments, agent):
    assert client_for(app, agent.member).get(f"{DESK}/admin/house-rules").status_code == 403


@pytest.mark.parametrize("lang", ["vi", "fa"])
def test_the_page_is_translated(app, departments, admin, lang):
    page = client_for(app, admin.member).get(f"{DESK}/admin/house-rules?lang={lang}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "House rules" not in text.split("<h1>")[1].split("</h1>")[0]
