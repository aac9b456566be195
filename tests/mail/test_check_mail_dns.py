"""``flask helpdesk check-mail-dns``: says which of the support domain's SPF, DKIM and DMARC
records are missing or wrong, and exits non-zero then. DNS from the test resolver."""

from __future__ import annotations

import pytest

from tests.mail.dkim_keys import GOOD_PRIVATE, WRONG_PUBLIC
from tests.mail.senders import FakeDns, key_record

COMPLETE = {
    "shop.example.com": "v=spf1 ip4:192.0.2.0/24 include:relay.test -all",
    "relay.test": "v=spf1 ip4:198.51.100.0/24 -all",
    "s1._domainkey.shop.example.com": key_record(),
    "_dmarc.shop.example.com": "v=DMARC1; p=reject; rua=mailto:d@shop.example.com",
}


@pytest.fixture
def dns(app):
    fake = FakeDns(dict(COMPLETE), other={("smtp.shop.example.com", "A"): ["198.51.100.25"]})
    config = app.extensions["helpdesk"].config
    config.update(
        HELPDESK_MAIL_DNS_RESOLVER=fake,
        HELPDESK_MAIL_SENDER="Shop support <support@shop.example.com>",
        HELPDESK_MAIL_DKIM_KEY=GOOD_PRIVATE,
        HELPDESK_MAIL_DKIM_SELECTOR="s1",
    )
    app.config["MAIL_SERVER"] = "smtp.shop.example.com"
    return fake


def run(app, *args: str):
    return app.test_cli_runner().invoke(args=["helpdesk", "check-mail-dns", *args])


def test_all_records_in_place(app, dns):
    result = run(app)
    assert result.exit_code == 0, result.output
    assert "DNS records for mail from shop.example.com" in result.output
    assert "198.51.100.25 may send for shop.example.com" in result.output  # MAIL_SERVER's IP
    assert "holds the public half of HELPDESK_MAIL_DKIM_KEY" in result.output
    assert "p=reject" in result.output and "All in place." in result.output
    assert "MISSING" not in result.output


def test_each_missing_record_is_named_and_fails_the_command(app, dns):
    del dns.records["shop.example.com"], dns.records["_dmarc.shop.example.com"]
    result = run(app)
    assert result.exit_code == 1
    assert "publishes no SPF record" in result.output
    assert "no DMARC record for shop.example.com" in result.output
    assert "2 missing" in result.output


def test_spf_that_does_not_allow_our_sending_host(app, dns):
    result = run(app, "--sending-ip", "203.0.113.9", "--sending-ip", "192.0.2.7")
    assert result.exit_code == 1
    assert "203.0.113.9 (a host that sends our mail) is not allowed" in result.output
    assert "192.0.2.7 may send" in result.output


def test_a_published_key_that_is_not_ours(app, dns):
    dns.records["s1._domainkey.shop.example.com"] = key_record(WRONG_PUBLIC)
    result = run(app)
    assert result.exit_code == 1
    assert "is not the public half of HELPDESK_MAIL_DKIM_KEY" in result.output
    del dns.records["s1._domainkey.shop.example.com"]
    assert "no key record at s1._domainkey.shop.example.com" in run(app).output


def test_without_signing_the_mail_servers_selector_is_checked(app, dns):
    config = app.extensions["helpdesk"].config
    config.update(HELPDESK_MAIL_DKIM_KEY=None, HELPDESK_MAIL_DKIM_SELECTOR=None)
    result = run(app)
    assert result.exit_code == 1 and "nothing signs our mail" in result.output
    dns.records["mta._domainkey.shop.example.com"] = key_record(WRONG_PUBLIC)
    result = run(app, "--dkim-selector", "mta")
    assert result.exit_code == 0, result.output
    assert "a key is published at mta._domainkey.shop.example.com" in result.output


def test_monitoring_only_dmarc_and_a_local_relay_are_warnings(app, dns):
    dns.records["_dmarc.shop.example.com"] = "v=DMARC1; p=none"
    app.config["MAIL_SERVER"] = "localhost"
    result = run(app)
    assert result.exit_code == 0, result.output
    assert "WARN     DMARC" in result.output and "monitoring only" in result.output
    assert "give it with --sending-ip" in result.output


def test_a_dns_timeout_counts_as_missing(app, dns):
    dns.timeouts = {"shop.example.com", "_dmarc.shop.example.com"}
    result = run(app)
    assert result.exit_code == 1
    assert "the TXT lookup of shop.example.com failed" in result.output
    assert "the DMARC lookup for shop.example.com failed" in result.output


def test_another_address_and_no_address(app, dns):
    result = run(app, "--address", "help@other.test")
    assert result.exit_code == 1 and "mail from other.test" in result.output
    app.extensions["helpdesk"].config["HELPDESK_MAIL_SENDER"] = None
    app.config.pop("MAIL_DEFAULT_SENDER", None)
    result = run(app)
    assert result.exit_code == 1 and "no support address" in result.output
