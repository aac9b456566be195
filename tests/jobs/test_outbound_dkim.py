"""DKIM-signing the helpdesk's own mail: what the customer's provider receives (real SMTP,
aiosmtpd) verifies against the published key; a wrong key setting stops the start."""

from __future__ import annotations

import re

import dkim
import pytest

from flask_helpdesk.config import DEFAULTS
from flask_helpdesk.config_checks import ConfigError, check_settings
from flask_helpdesk.mail.authenticity import authenticate
from flask_helpdesk.services.messages import post_message
from tests.conftest import make_member
from tests.jobs.test_notification_mail import agent_for, open_billing_ticket
from tests.mail.dkim_keys import GOOD_PRIVATE, WRONG_PUBLIC
from tests.mail.senders import FakeDns, key_record

PUBLISHED = {
    "s1._domainkey.shop.example.com": key_record(),
    "_dmarc.shop.example.com": "v=DMARC1; p=reject",
}


def sign_with(app, **settings) -> None:
    config = app.extensions["helpdesk"].config
    wanted = {
        "HELPDESK_MAIL_DKIM_KEY": GOOD_PRIVATE.decode(),
        "HELPDESK_MAIL_DKIM_SELECTOR": "s1",
        **settings,
    }
    config.update(check_settings({**config, **wanted}, DEFAULTS))


def reply_to_customer(app, smtp, departments, customer):
    agent = agent_for(make_member("Minh Agent", "minh@shop.example.com"), "billing")
    ticket = open_billing_ticket(customer, departments)
    smtp.messages.clear()
    post_message(agent, ticket, "Your invoice is attached to your account now.")
    [mail] = smtp.to("lan@example.com")
    return mail


def test_every_mail_is_signed_and_verifies_against_the_published_key(
    app, smtp, departments, customer
):
    sign_with(app)
    mail = reply_to_customer(app, smtp, departments, customer)
    assert mail.message["DKIM-Signature"] is not None
    dns = FakeDns(PUBLISHED)
    assert dkim.verify(mail.raw, dnsfunc=lambda name, timeout=5: dns(name.decode(), timeout))
    # What a receiver running our own inbound check concludes: the From domain vouches.
    verdict = authenticate(mail.raw, txt=dns)
    assert (verdict.dkim, verdict.dmarc, verdict.verified) == ("pass", "pass", True)
    signature = re.sub(r"\s+", "", str(mail.message["DKIM-Signature"]))
    assert "d=shop.example.com;" in signature and "s=s1;" in signature
    assert "h=from:from:to:cc:subject:subject:date:message-id:reply-to:in-reply-to" in signature
    # The staff notification of the new ticket was signed too.
    assert all(m.message["DKIM-Signature"] for m in smtp.messages)


def test_a_changed_body_or_another_key_does_not_verify(app, smtp, departments, customer):
    sign_with(app)
    mail = reply_to_customer(app, smtp, departments, customer)
    dns = FakeDns(PUBLISHED)
    changed = mail.raw.replace(b"invoice", b"IBAN", 1)
    assert changed != mail.raw
    assert authenticate(changed, txt=dns).dkim == "fail"
    dns.records["s1._domainkey.shop.example.com"] = key_record(WRONG_PUBLIC)
    assert authenticate(mail.raw, txt=dns).dkim == "fail"


def test_the_configured_domain_signs_instead_of_the_senders(app, smtp, departments, customer):
    sign_with(app, HELPDESK_MAIL_DKIM_DOMAIN="mail.shop.example.com")
    mail = reply_to_customer(app, smtp, departments, customer)
    dns = FakeDns({"s1._domainkey.mail.shop.example.com": key_record()})
    assert dkim.verify(mail.raw, dnsfunc=lambda name, timeout=5: dns(name.decode(), timeout))
    assert b"d=mail.shop.example.com" in mail.raw


def test_without_a_key_nothing_is_signed(app, smtp, departments, customer):
    mail = reply_to_customer(app, smtp, departments, customer)
    assert mail.message["DKIM-Signature"] is None


def test_the_key_can_be_a_file(app, tmp_path):
    path = tmp_path / "dkim.pem"
    path.write_bytes(GOOD_PRIVATE)
    config = app.extensions["helpdesk"].config
    checked = check_settings(
        {**config, "HELPDESK_MAIL_DKIM_KEY": str(path), "HELPDESK_MAIL_DKIM_SELECTOR": "s1"},
        DEFAULTS,
    )
    assert checked["HELPDESK_MAIL_DKIM_KEY"] == GOOD_PRIVATE


@pytest.mark.parametrize(
    "settings, message",
    [
        (
            {"HELPDESK_MAIL_DKIM_KEY": "-----BEGIN RSA PRIVATE KEY-----\nnope\n-----END RSA"},
            "HELPDESK_MAIL_DKIM_KEY is not an RSA private key",
        ),
        ({"HELPDESK_MAIL_DKIM_KEY": "/no/such/dkim.pem"}, "cannot read the key file"),
        ({"HELPDESK_MAIL_DKIM_KEY": 42}, "HELPDESK_MAIL_DKIM_KEY"),
        ({"HELPDESK_MAIL_DKIM_SELECTOR": None}, "needs HELPDESK_MAIL_DKIM_SELECTOR"),
        ({"HELPDESK_MAIL_DKIM_SELECTOR": "s 1"}, "HELPDESK_MAIL_DKIM_SELECTOR"),
        ({"HELPDESK_MAIL_DKIM_DOMAIN": "-bad-.test"}, "HELPDESK_MAIL_DKIM_DOMAIN"),
    ],
)
def test_a_bad_key_setting_stops_the_start_with_a_clear_error(app, settings, message):
    config = app.extensions["helpdesk"].config
    wanted = {
        "HELPDESK_MAIL_DKIM_KEY": GOOD_PRIVATE,
        "HELPDESK_MAIL_DKIM_SELECTOR": "s1",
        **settings,
    }
    with pytest.raises(ConfigError, match=message):
        check_settings({**config, **wanted}, DEFAULTS)
