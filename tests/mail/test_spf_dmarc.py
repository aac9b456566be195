"""Our own SPF check and DMARC evaluation, when no trusted Authentication-Results exists.

DNS answers come from :class:`~tests.mail.senders.FakeDns` (nothing touches the network); the
connecting IP is read from the ``Received`` header our own server added.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flask_helpdesk.config import DEFAULTS
from flask_helpdesk.config_checks import ConfigError, check_settings
from flask_helpdesk.mail.authenticity import authenticate
from flask_helpdesk.mail.dmarc import aligned, org_domain
from flask_helpdesk.mail.spf import check_host
from flask_helpdesk.models import InboundStatus
from tests.mail.conftest import ingest, make_mail
from tests.mail.senders import FakeDns, key_record, signed

IP = "192.0.2.10"
IP6 = "2001:db8::10"


def spf(records: dict[str, str], other=None, ip: str = IP, sender="lan@example.com", **kw):
    dns = FakeDns({name: value for name, value in records.items()}, other=other, **kw)
    return check_host(ip, sender, "client.example.com", dns.lookup, 1.0), dns


# -- SPF results ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "record, result",
    [
        ("v=spf1 ip4:192.0.2.0/24 -all", "pass"),
        ("v=spf1 ip4:198.51.100.1 -all", "fail"),
        ("v=spf1 ip4:198.51.100.1 ~all", "softfail"),
        ("v=spf1 ip4:198.51.100.1 ?all", "neutral"),
        ("v=spf1 ip4:198.51.100.1", "neutral"),  # no match, no all: neutral
        ("v=spf1 -ip4:192.0.2.10 +all", "fail"),  # the first match decides
        ("v=spf1 ip4:192.0.2.0/33 -all", "permerror"),
        ("v=spf1 ip6:2001:db8::/32 -all", "fail"),  # another family matches nothing
        ("v=spf1 frobnicate -all", "permerror"),
        ("v=spf1 ip4:192.0.2.10 -all foo=bar exp=explain.%{d}", "pass"),  # unknown modifiers
        ("v=spf10 ip4:192.0.2.10 -all", "none"),  # not an SPF record
    ],
)
def test_results_of_a_record(record, result):
    assert spf({"example.com": record})[0].result == result


def test_no_record_is_none_and_two_records_are_a_permerror():
    assert spf({})[0].result == "none"
    two = FakeDns(other={("example.com", "TXT"): ["v=spf1 -all", "v=spf1 +all", "other"]})
    assert check_host(IP, "lan@example.com", "h.test", two.lookup, 1).result == "permerror"
    unrelated = FakeDns(other={("example.com", "TXT"): ["google-site-verification=x"]})
    assert check_host(IP, "lan@example.com", "h.test", unrelated.lookup, 1).result == "none"


def test_a_dns_failure_is_a_temperror_not_a_fail():
    result, _dns = spf({}, timeouts={"example.com"})
    assert result.result == "temperror" and "failed" in result.reason
    result, _dns = spf(
        {"example.com": "v=spf1 include:mail.provider.test -all"},
        timeouts={"mail.provider.test"},
    )
    assert result.result == "temperror"


def test_include_passes_only_on_the_included_records_pass():
    records = {
        "example.com": "v=spf1 include:provider.test -all",
        "provider.test": "v=spf1 ip4:192.0.2.0/28 ~all",
    }
    assert spf(records)[0].result == "pass"
    assert spf(records, ip="198.51.100.7")[0].result == "fail"  # include's ~all is no match
    del records["provider.test"]
    assert spf(records)[0].result == "permerror"  # include of a domain without SPF


def test_redirect_takes_the_other_domains_result():
    records = {
        "example.com": "v=spf1 redirect=_spf.example.net",
        "_spf.example.net": "v=spf1 ip4:192.0.2.10 ~all",
    }
    assert spf(records)[0].result == "pass"
    assert spf(records, ip="198.51.100.7")[0].result == "softfail"
    records["example.com"] = "v=spf1 ip4:192.0.2.10 redirect=_spf.example.net"
    assert spf(records)[0].result == "pass"  # a match first: redirect is not followed
    records["example.com"] = "v=spf1 redirect=nothing.test"
    assert spf(records)[0].result == "permerror"


def test_ip6_a_and_mx_mechanisms():
    records = {"example.com": "v=spf1 ip6:2001:db8::/64 a/24 mx:mail.example.com -all"}
    other = {
        ("example.com", "A"): ["203.0.113.5"],
        ("mail.example.com", "MX"): ["mx1.example.com", "mx2.example.com"],
        ("mx2.example.com", "A"): ["198.51.100.20"],
        ("mx2.example.com", "AAAA"): ["2001:db8:1::20"],
    }
    assert spf(records, other, ip=IP6)[0].result == "pass"
    assert spf(records, other, ip="203.0.113.200")[0].result == "pass"  # a/24
    assert spf(records, other, ip="198.51.100.20")[0].result == "pass"  # the second MX host
    assert spf(records, other, ip="::ffff:198.51.100.20")[0].result == "pass"  # mapped v4
    assert spf(records, other, ip="2001:db8:1::20")[0].result == "pass"
    assert spf(records, other, ip="198.51.100.21")[0].result == "fail"
    assert spf(records, other, ip="2001:db8:2::1")[0].result == "fail"


def test_dual_cidr_on_a():
    records = {"example.com": "v=spf1 a//48 -all"}
    other = {("example.com", "AAAA"): ["2001:db8:5:1::1"], ("example.com", "A"): ["192.0.2.1"]}
    assert spf(records, other, ip="2001:db8:5:ffff::9")[0].result == "pass"
    assert spf(records, other, ip="192.0.2.10")[0].result == "fail"  # /32 for IPv4


def test_exists_with_macros():
    records = {"example.com": "v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d} -all"}
    other = {("10.2.0.192.lan._spf.example.com", "A"): ["127.0.0.2"]}
    result, dns = spf(records, other)
    assert result.result == "pass", result.reason
    assert ("10.2.0.192.lan._spf.example.com", "A") in dns.looked_up
    assert spf(records, other, sender="other@example.com")[0].result == "fail"


def test_more_than_ten_lookups_is_a_permerror():
    records = {f"d{i}.test": f"v=spf1 include:d{i + 1}.test -all" for i in range(11)}
    records["d11.test"] = "v=spf1 +all"
    result, dns = spf(records, sender="lan@d0.test")
    assert result.result == "permerror" and "more than 10 DNS lookups" in result.reason
    assert len(dns.looked_up) <= 11  # it stopped at the limit
    records = {f"d{i}.test": f"v=spf1 include:d{i + 1}.test -all" for i in range(10)}
    records["d10.test"] = "v=spf1 +all"
    assert spf(records, sender="lan@d0.test")[0].result == "pass"  # exactly ten: fine


def test_a_loop_of_includes_ends_at_the_limit():
    records = {"example.com": "v=spf1 include:example.com -all"}
    assert spf(records)[0].result == "permerror"


def test_more_than_two_void_lookups_is_a_permerror():
    records = {"example.com": "v=spf1 a:n1.test a:n2.test a:n3.test +all"}
    result, _dns = spf(records)
    assert result.result == "permerror" and "found nothing" in result.reason
    records = {"example.com": "v=spf1 a:n1.test a:n2.test +all"}
    assert spf(records)[0].result == "pass"


def test_a_bounce_is_checked_for_the_helo_name():
    dns = FakeDns({"client.example.com": "v=spf1 ip4:192.0.2.10 -all"})
    result = check_host(IP, "", "client.example.com", dns.lookup, 1)
    assert (result.result, result.domain) == ("pass", "client.example.com")


@given(st.text(max_size=200), st.sampled_from([IP, IP6, "not an ip", ""]))
def test_any_record_gives_a_result_without_error(record, ip):
    dns = FakeDns({"example.com": "v=spf1 " + record})
    result = check_host(ip, "x@example.com", "h.test", dns.lookup, 1)
    assert result.result in {
        "pass",
        "fail",
        "softfail",
        "neutral",
        "none",
        "permerror",
        "temperror",
    }


# -- DMARC ------------------------------------------------------------------------------------


def test_organisational_domains_and_alignment():
    assert org_domain("mail.support.example.com") == "example.com"
    assert org_domain("shop.example.co.uk") == "example.co.uk"
    assert org_domain("bank.com.vn") == "bank.com.vn"
    assert aligned("bounce.example.co.uk", "example.co.uk")
    assert not aligned("attacker.co.uk", "example.co.uk")
    assert not aligned("mail.example.com", "example.com", strict=True)
    assert not aligned("com", "example.com")


def received(ip: str = IP, helo: str = "client.example.com") -> str:
    return (
        f"Received: from {helo} (client.example.com [{ip}])\r\n"
        "\tby mx.helpdesk-host.test (Postfix) with ESMTPS id 4F1;\r\n"
        "\tSun, 6 Dec 2026 08:00:00 +0000"
    )


def mail(*headers: str, sender: str = "Lan <lan@example.com>", raw: bytes | None = None) -> bytes:
    raw = raw if raw is not None else make_mail(sender=sender)
    return "".join(f"{h}\r\n" for h in headers).encode() + raw


def world(
    dmarc: str | None = "v=DMARC1; p=reject", spf_record: str = "v=spf1 ip4:192.0.2.0/24 -all"
):
    records = {"example.com": spf_record, "s1._domainkey.example.com": key_record()}
    if dmarc:
        records["_dmarc.example.com"] = dmarc
    return FakeDns(records)


def verdict(raw: bytes, dns: FakeDns, envelope: str | None = "lan@example.com", hop: int = 1):
    return authenticate(
        raw, txt=dns, lookup=dns.lookup, received_hop=hop, envelope=envelope, timeout=1
    )


@pytest.mark.parametrize("policy", ["reject", "quarantine", "none"])
def test_an_aligned_spf_pass_verifies_whatever_the_policy(policy):
    result = verdict(mail(received()), world(f"v=DMARC1; p={policy}"))
    assert (result.spf, result.dkim, result.dmarc, result.verified) == (
        "pass",
        "none",
        "pass",
        True,
    )
    assert "SPF of example.com passed" in result.reason


@pytest.mark.parametrize(
    "policy, state", [("reject", "failed"), ("quarantine", "failed"), ("none", "unverified")]
)
def test_an_unaligned_pass_fails_only_where_the_policy_says_so(policy, state):
    dns = world(f"v=DMARC1; p={policy}")
    dns.records["bounces.mailer.test"] = "v=spf1 ip4:192.0.2.10 -all"
    # SPF passes, but for the bulk mailer's domain, not the From domain.
    result = verdict(mail(received()), dns, envelope="b-123@bounces.mailer.test")
    assert (result.spf, result.dmarc, result.state) == (
        "pass",
        "fail" if state == "failed" else "none",
        state,
    )
    assert "not aligned with example.com" in result.reason
    assert f"DMARC policy of example.com: {policy}" in result.reason


def test_spf_fail_from_a_reject_domain_fails():
    result = verdict(mail(received("198.51.100.66")), world())
    assert (result.spf, result.dmarc, result.state) == ("fail", "fail", "failed")


def test_from_of_another_domain_with_the_attackers_own_spf_pass():
    dns = world()
    dns.records["attacker.test"] = "v=spf1 ip4:192.0.2.0/24 -all"
    result = verdict(mail(received()), dns, envelope="me@attacker.test")
    assert (result.spf, result.dmarc, result.verified) == ("pass", "fail", False)


def test_an_aligned_dkim_pass_verifies_even_when_spf_fails():
    raw = mail(received("198.51.100.66"), raw=signed(make_mail()))
    result = verdict(raw, world())
    assert (result.spf, result.dkim, result.dmarc) == ("fail", "pass", "pass")


def test_strict_alignment_refuses_a_subdomain():
    dns = world("v=DMARC1; p=reject; aspf=s")
    dns.records["bounce.example.com"] = "v=spf1 ip4:192.0.2.10 -all"
    result = verdict(mail(received()), dns, envelope="b@bounce.example.com")
    assert (result.spf, result.dmarc) == ("pass", "fail")
    assert "strict alignment" in result.reason
    dns.records["_dmarc.example.com"] = "v=DMARC1; p=reject"  # relaxed: aligned
    assert verdict(mail(received()), dns, envelope="b@bounce.example.com").verified

    dkim_strict = world("v=DMARC1; p=reject; adkim=s")
    dkim_strict.records["s1._domainkey.mail.example.com"] = key_record()
    signed_by_sub = mail(
        received("198.51.100.66"), raw=signed(make_mail(), domain="mail.example.com")
    )
    assert verdict(signed_by_sub, dkim_strict).dmarc == "fail"


def test_a_subdomain_follows_the_organisations_sp():
    dns = world("v=DMARC1; p=reject; sp=none")
    raw = mail(received("198.51.100.66"), sender="Lan <lan@support.example.com>")
    result = verdict(raw, dns, envelope="lan@support.example.com")
    assert (result.dmarc, result.state) == ("none", "unverified")
    assert ("_dmarc.support.example.com.", 1) in dns.asked  # its own record first
    dns.records["_dmarc.support.example.com"] = "v=DMARC1; p=quarantine"
    assert verdict(raw, dns, envelope="lan@support.example.com").state == "failed"


def test_the_envelope_falls_back_to_return_path_and_the_hop_is_configurable():
    raw = mail(
        "Return-Path: <lan@example.com>",
        "Received: from localhost by mx.helpdesk-host.test (local delivery)",
        received(),
    )
    assert verdict(raw, world(), envelope=None, hop=2).spf == "pass"
    result = verdict(raw, world(), envelope=None, hop=1)  # that header names no IP
    assert result.spf == "none" and "no connecting IP in Received header number 1" in result.reason
    nothing = verdict(mail(received()), world(), envelope=None)
    assert nothing.spf == "none" and "no envelope sender" in nothing.reason


def test_an_exim_received_header_gives_its_helo_and_ip():
    dns = world()
    dns.records["helo.example.com"] = "v=spf1 ip4:192.0.2.10 -all"
    header = (
        "Received: from host.example.com ([192.0.2.10] helo=helo.example.com)\r\n"
        "\tby mx.helpdesk-host.test with esmtps id 1kA; Sun, 6 Dec 2026 08:00:00 +0000"
    )
    result = verdict(mail(header), dns, envelope="")  # a bounce: the HELO name is checked
    assert result.spf == "pass" and "SPF of helo.example.com" in result.reason


def test_without_the_setting_no_spf_lookup_is_made():
    dns = world()
    result = verdict(mail(received()), dns, hop=0)
    assert result.spf == "none" and dns.looked_up == []


# -- through intake ---------------------------------------------------------------------------


@pytest.fixture
def spf_dns(app):
    fake = world()
    config = app.extensions["helpdesk"].config
    config["HELPDESK_MAIL_DNS_RESOLVER"] = fake
    config["HELPDESK_MAIL_RECEIVED_HOP"] = 1
    return fake


def test_intake_checks_spf_of_the_envelope_sender_it_was_handed(app, support, spf_dns):
    row = ingest(mail(received()), envelope_sender="lan@example.com")
    assert row.status == InboundStatus.PROCESSED, row.reason
    assert (row.auth_spf, row.auth_dmarc, row.sender_verified) == ("pass", "pass", True)
    forged = ingest(
        mail(received("198.51.100.66"), raw=make_mail(subject="Forged")),
        envelope_sender="lan@example.com",
    )
    assert (forged.auth_spf, forged.auth_dmarc, forged.sender_verified) == ("fail", "fail", False)
    cached = len(spf_dns.looked_up)
    ingest(mail(received(), raw=make_mail(subject="Again")), envelope_sender="lan@example.com")
    assert len(spf_dns.looked_up) == cached  # the SPF record came from the process's cache


@pytest.mark.parametrize("value", [-1, "two", 99])
def test_a_wrong_hop_setting_is_refused_at_start(app, value):
    with pytest.raises(ConfigError, match="HELPDESK_MAIL_RECEIVED_HOP"):
        check_settings(
            {**app.extensions["helpdesk"].config, "HELPDESK_MAIL_RECEIVED_HOP": value}, DEFAULTS
        )
