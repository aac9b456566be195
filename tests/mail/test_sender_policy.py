"""What a sender's verdict allows (issue 18 §2 and §4): a mail that fails the checks while
claiming a customer's address is held for an agent, never posted as them; a ticket code in
the subject is no proof of who wrote; agents accept or discard held mail, audited.

Mails are signed here with the test key; DNS answers come from the test's resolver
(``example.com`` publishes the key and ``p=reject``), nothing touches the network.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from flask_helpdesk.config import DEFAULTS
from flask_helpdesk.config_checks import ConfigError, check_settings
from flask_helpdesk.mail.threading import code_from_plus_address, make_message_id, reply_address
from flask_helpdesk.models import AuditEvent, InboundMail, InboundStatus, Message, Ticket
from flask_helpdesk.services import held_mail, intake
from flask_helpdesk.services.base import NotFound, session
from tests.desk.conftest import DESK, billing_agent
from tests.mail.conftest import ingest, make_mail, ticket_of
from tests.mail.senders import signed
from tests.mail.test_sender_auth import OURS, trust, with_headers

__all__ = ["billing_agent"]  # a fixture, used by name

SPOOFING = "Possible spoofing: the sender could not be verified"


def policy(app, value: str) -> None:
    config = app.extensions["helpdesk"].config
    config.update(check_settings({**config, "HELPDESK_MAIL_SENDER_POLICY": value}, DEFAULTS))


@pytest.fixture
def lan_ticket(app, support, dns) -> Ticket:
    """Lan's ticket, opened by a mail her domain signed."""
    row = ingest(signed(make_mail(subject="Refund for order 1042")))
    assert row.status == InboundStatus.PROCESSED and row.sender_verified
    return ticket_of(row)


def messages_of(ticket: Ticket) -> list[Message]:
    return list(session().scalars(select(Message).where(Message.ticket_id == ticket.id)))


def forged_reply(ticket: Ticket, **kwargs) -> bytes:
    """What an attacker who saw the ticket code writes: Lan's address, no signature."""
    return make_mail(
        subject=f"Re: [{ticket.code}] Refund for order 1042",
        body="Please send the refund to my new IBAN DE00 1234.",
        **kwargs,
    )


# -- held, never posted as the customer --------------------------------------------------------


def test_a_forged_reply_into_a_customers_ticket_is_held_not_posted(app, lan_ticket):
    before = len(messages_of(lan_ticket))
    raw = forged_reply(lan_ticket)
    row = ingest(raw)
    assert row.status == InboundStatus.HELD
    assert row.reason.startswith(SPOOFING) and "reject" in row.reason
    assert (row.auth_dmarc, row.sender_verified) == ("fail", False)
    assert row.ticket_id == lan_ticket.id and row.posted_message_id is None
    assert len(messages_of(lan_ticket)) == before  # nothing posted as Lan
    assert row.raw == raw  # kept whole, for an agent to accept


def test_a_forged_reply_with_our_signed_message_id_is_held_too(app, lan_ticket):
    """Even proof of having seen our mail is no proof of being Lan when her domain disowns
    the mail (a forwarded mail carries our Message-ID)."""
    row = ingest(forged_reply(lan_ticket, in_reply_to=f"<{make_message_id(lan_ticket.code)}>"))
    assert row.status == InboundStatus.HELD


def test_a_forged_new_mail_in_a_known_customers_name_opens_no_ticket(app, lan_ticket):
    row = ingest(make_mail(subject="Change my delivery address", body="New address: ..."))
    assert row.status == InboundStatus.HELD and row.reason.startswith(SPOOFING)
    assert row.ticket_id is None
    assert session().scalar(select(Ticket).where(Ticket.subject.like("Change my%"))) is None


def test_a_failing_mail_from_an_address_nobody_knows_opens_its_own_ticket(app, lan_ticket):
    """Nobody is impersonated: the mail is a new ticket, its badge says the check failed."""
    row = ingest(make_mail(sender="Stranger <new.person@example.com>", subject="Hello"))
    assert row.status == InboundStatus.PROCESSED and row.auth_dmarc == "fail"
    assert ticket_of(row).requester.email == "new.person@example.com"


def test_a_forged_header_from_an_untrusted_server_does_not_unlock_the_ticket(app, lan_ticket):
    trust(app)
    raw = with_headers(
        forged_reply(lan_ticket),
        "Authentication-Results: mx.attacker.test; dkim=pass header.d=example.com;"
        " dmarc=pass header.from=example.com",
    )
    assert ingest(raw).status == InboundStatus.HELD


@pytest.mark.parametrize(
    "record, status",
    [
        ("v=DMARC1; p=reject", InboundStatus.HELD),
        ("v=DMARC1; p=quarantine; pct=100", InboundStatus.HELD),
        ("v=DMARC1; p=none; rua=mailto:d@example.com", InboundStatus.PROCESSED),
        (None, InboundStatus.PROCESSED),
    ],
    ids=["reject", "quarantine", "none", "no-record"],
)
def test_the_domains_dmarc_policy_decides_whether_an_unsigned_reply_is_held(
    app, lan_ticket, dns, record, status
):
    if record is None:
        del dns.records["_dmarc.example.com"]
    else:
        dns.records["_dmarc.example.com"] = record
    row = ingest(forged_reply(lan_ticket))
    assert row.status == status, row.reason
    if status == InboundStatus.PROCESSED:
        # Not verified, and only the code in the subject: a ticket of its own, not Lan's.
        assert row.ticket_id != lan_ticket.id
        assert "no proof" in row.reason


def test_a_trusted_server_saying_dmarc_fail_holds_the_reply(app, lan_ticket):
    trust(app)
    raw = with_headers(
        forged_reply(lan_ticket),
        f"Authentication-Results: {OURS}; spf=fail smtp.mailfrom=lan@example.com;"
        " dmarc=fail (p=quarantine) header.from=example.com",
    )
    assert ingest(raw).status == InboundStatus.HELD


# -- a ticket code is a convenience, never proof (§4) ------------------------------------------


def test_a_verified_reply_threads_by_the_code_in_its_subject(app, lan_ticket):
    row = ingest(signed(forged_reply(lan_ticket)))
    assert row.status == InboundStatus.PROCESSED and row.ticket_id == lan_ticket.id


def test_an_unverified_reply_threads_only_by_our_signed_message_id(app, lan_ticket, dns):
    del dns.records["_dmarc.example.com"]  # a domain without DMARC: mail is "not verified"
    by_code = ingest(forged_reply(lan_ticket))
    assert by_code.status == InboundStatus.PROCESSED and by_code.ticket_id != lan_ticket.id
    assert f"matched {lan_ticket.code} only by subject-code" in by_code.reason
    signed_id = f"<{make_message_id(lan_ticket.code, 'm1')}>"
    by_id = ingest(forged_reply(lan_ticket, in_reply_to=signed_id))
    assert by_id.status == InboundStatus.PROCESSED and by_id.ticket_id == lan_ticket.id
    forged_id = signed_id.replace(signed_id[-25:-21], "0000")
    by_forged_id = ingest(make_mail(subject="Re: refund", in_reply_to=forged_id))
    assert by_forged_id.ticket_id not in (None, lan_ticket.id)


# -- agents decide ----------------------------------------------------------------------------


def test_the_ticket_page_shows_held_mail_and_an_agent_accepts_it(app, lan_ticket, agent):
    row = ingest(forged_reply(lan_ticket))
    client = app.test_client(user=agent.member)
    page = client.get(f"{DESK}/tickets/{lan_ticket.code}").get_data(as_text=True)
    assert f'data-held="{row.id}"' in page and "possible spoofing" in page
    assert "lan@example.com" in page and "Please send the refund" not in page

    accepted = held_mail.accept(agent.actor, row.id)
    assert accepted.status == InboundStatus.PROCESSED and accepted.ticket_id == lan_ticket.id
    assert accepted.auth_dmarc == "fail"  # the verdict stays: the badge still warns
    posted = session().get(Message, accepted.posted_message_id)
    assert posted.author_contact_id == lan_ticket.requester_id
    event = session().scalar(select(AuditEvent).where(AuditEvent.action == "mail.accepted"))
    assert event.actor_agent_id == agent.actor.agent.id
    assert event.data["inbound_mail_id"] == row.id
    page = client.get(f"{DESK}/tickets/{lan_ticket.code}").get_data(as_text=True)
    assert "data-held=" not in page and 'data-sender="failed"' in page


def test_an_agent_discards_held_mail_which_stays_for_the_admins(app, lan_ticket, agent, admin):
    row = ingest(forged_reply(lan_ticket))
    client = app.test_client(user=agent.member)
    page = client.get(f"{DESK}/tickets/{lan_ticket.code}").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    response = client.post(f"{DESK}/inbound-mail/{row.id}/discard", data={"csrf_token": token})
    assert response.status_code == 302 and lan_ticket.code in response.location
    session().expire_all()
    row = session().get(InboundMail, row.id)
    assert row.status == InboundStatus.IGNORED and row.reason.startswith("discarded by an agent")
    assert row.raw and session().scalar(
        select(AuditEvent.id).where(AuditEvent.action == "mail.discarded")
    )
    listing = app.test_client(user=admin.member).get(f"{DESK}/inbound-mail/?status=ignored")
    assert f"/inbound-mail/{row.id}" in listing.get_data(as_text=True)


def test_an_admin_finds_held_mail_with_its_reason_and_accepts_it(app, lan_ticket, admin):
    row = ingest(forged_reply(lan_ticket))
    client = app.test_client(user=admin.member)
    listing = client.get(f"{DESK}/inbound-mail/?status=held").get_data(as_text=True)
    assert f"/inbound-mail/{row.id}" in listing
    detail = client.get(f"{DESK}/inbound-mail/{row.id}").get_data(as_text=True)
    assert SPOOFING in detail and "DMARC: fail" in detail
    token = detail.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    response = client.post(f"{DESK}/inbound-mail/{row.id}/accept", data={"csrf_token": token})
    assert response.status_code == 302 and lan_ticket.code in response.location
    session().expire_all()
    assert session().get(InboundMail, row.id).ticket_id == lan_ticket.id


def test_only_the_tickets_agents_and_admins_may_decide(app, lan_ticket, billing_agent, lan):
    row = ingest(forged_reply(lan_ticket))
    for actor in (billing_agent.actor, lan):
        with pytest.raises(NotFound):
            held_mail.accept(actor, row.id)
        with pytest.raises(NotFound):
            held_mail.discard(actor, row.id)
    assert session().get(InboundMail, row.id).status == InboundStatus.HELD
    client = app.test_client(user=billing_agent.member)
    page = client.get(f"{DESK}/").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    response = client.post(f"{DESK}/inbound-mail/{row.id}/accept", data={"csrf_token": token})
    assert response.status_code == 404


def test_an_admins_retry_of_a_discarded_mail_holds_it_again(app, lan_ticket, admin):
    row = ingest(forged_reply(lan_ticket))
    held_mail.discard(admin.actor, row.id)
    assert intake.retry(admin.actor, row.id).status == InboundStatus.HELD


# -- the setting ------------------------------------------------------------------------------


def test_with_the_policy_off_mail_posts_as_before_with_its_badge(app, lan_ticket):
    policy(app, "off")
    row = ingest(forged_reply(lan_ticket))
    assert row.status == InboundStatus.PROCESSED and row.ticket_id == lan_ticket.id
    assert row.auth_dmarc == "fail"


def test_the_strict_policy_holds_unverified_mail_claiming_a_customer(app, lan_ticket, dns):
    policy(app, "strict")
    del dns.records["_dmarc.example.com"]
    assert ingest(make_mail(subject="New question")).status == InboundStatus.HELD
    newcomer = ingest(make_mail(sender="new.person@example.com", subject="Hi"))
    assert newcomer.status == InboundStatus.PROCESSED


@pytest.mark.parametrize("value", ["reject", "", "HOLD ", True])
def test_a_wrong_policy_is_refused_at_start(app, value):
    with pytest.raises(ConfigError, match="HELPDESK_MAIL_SENDER_POLICY"):
        policy(app, value)


def test_no_mail_changes_the_customers_account_data(app, lan_ticket, dns):
    """Account-level data is the host's or the customer's own: a mail posted with a new
    display name (here an unverified one that opens a ticket) leaves the contact as it was."""
    del dns.records["_dmarc.example.com"]
    contact = lan_ticket.requester
    name, phone = contact.name, contact.phone
    row = ingest(make_mail(sender="Mallory Bank Dept <lan@example.com>", subject="Details"))
    assert row.status == InboundStatus.PROCESSED
    session().expire_all()
    assert (contact.name, contact.phone) == (name, phone)


# -- signed reply addresses (§4) --------------------------------------------------------------


def test_a_signed_reply_address_threads_an_unverified_senders_mail(app, lan_ticket, dns):
    del dns.records["_dmarc.example.com"]  # not verified, not failed
    address = reply_address("support@example.com", lan_ticket.code)
    assert address.startswith(f"support+{lan_ticket.code}.")
    row = ingest(make_mail(subject="More details", to=address))
    assert row.ticket_id == lan_ticket.id and "signed-plus-address" in row.reason
    # Some servers fold the local part's case: the signature still holds.
    upper = ingest(make_mail(subject="Even more", to=address.upper()))
    assert upper.ticket_id == lan_ticket.id


def test_a_reply_address_made_up_from_the_code_proves_nothing(app, lan_ticket, dns):
    del dns.records["_dmarc.example.com"]
    bare = f"support+{lan_ticket.code.lower()}@example.com"  # the code alone, as before
    row = ingest(make_mail(subject="Refund", to=bare))
    assert row.status == InboundStatus.PROCESSED and row.ticket_id != lan_ticket.id
    assert "only by plus-address" in row.reason
    signature = reply_address("support@example.com", lan_ticket.code).split(".")[1][:12]
    forged = f"support+{lan_ticket.code}.{'0' * 12 if signature != '0' * 12 else '1' * 12}"
    assert code_from_plus_address(f"{forged}@example.com", "HD") is None
    row = ingest(make_mail(subject="Refund", to=f"{forged}@example.com"))
    assert row.ticket_id != lan_ticket.id


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])  # app: only read
@given(st.text(max_size=80))
def test_any_plus_address_parses_without_error(app, tag):
    found = code_from_plus_address(f"support+{tag}@example.com", "HD")
    assert found is None or (found[0].startswith("HD-") and isinstance(found[1], bool))
