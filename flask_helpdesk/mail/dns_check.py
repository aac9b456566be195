"""Are the support address's DNS records in place so that receivers accept our mail?

What ``flask helpdesk check-mail-dns`` reports: the domain's SPF record (and whether it allows
the hosts that send our mail), the DKIM key record of the selector we sign with (and whether
it holds the public half of the configured key), and the DMARC record. Pure logic over the
injectable resolvers of :mod:`.authenticity`; the service gathers the settings.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from . import dmarc
from .spf import PASS, Lookup, check_host

OK, WARN, MISSING = "ok", "warn", "missing"


@dataclass(frozen=True)
class Finding:
    status: str  # ok, warn (works, could be better) or missing (receivers will object)
    record: str  # "SPF", "DKIM" or "DMARC"
    text: str


def _spf_records(domain: str, lookup: Lookup, timeout: float) -> list[str]:
    return [
        r.strip()
        for r in lookup(domain, "TXT", timeout)
        if r.strip().lower() == "v=spf1" or r.strip().lower().startswith("v=spf1 ")
    ]


def check_spf(domain: str, sending_ips: list[str], lookup: Lookup, timeout: float) -> list[Finding]:
    try:
        records = _spf_records(domain, lookup, timeout)
    except Exception as error:
        return [Finding(MISSING, "SPF", f"the TXT lookup of {domain} failed: {error}")]
    if not records:
        return [
            Finding(
                MISSING,
                "SPF",
                f"{domain} publishes no SPF record: add a TXT record"
                f' "v=spf1 ... -all" listing the hosts that send its mail',
            )
        ]
    if len(records) > 1:
        return [Finding(MISSING, "SPF", f"{domain} publishes {len(records)} SPF records: keep one")]
    findings = [Finding(OK, "SPF", f"{domain}: {records[0]}")]
    if not sending_ips:
        findings.append(
            Finding(
                WARN,
                "SPF",
                "which IP sends our mail is not known (MAIL_SERVER is local or unset):"
                " give it with --sending-ip to check that SPF allows it",
            )
        )
    for ip in sending_ips:
        result = check_host(ip, f"postmaster@{domain}", domain, lookup, timeout)
        if result.result == PASS:
            findings.append(Finding(OK, "SPF", f"{ip} may send for {domain}"))
        else:
            findings.append(
                Finding(
                    MISSING,
                    "SPF",
                    f"{ip} (a host that sends our mail) is not allowed by the SPF record of"
                    f" {domain}: {result.result} ({result.reason})",
                )
            )
    return findings


def _key_tags(record: bytes) -> dict[str, str]:
    text = record.decode("ascii", "replace")
    tags = {}
    for part in text.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep:
            tags[key.strip().lower()] = re.sub(r"\s+", "", value)
    return tags


def check_dkim(
    domain: str,
    selector: str | None,
    private_key: bytes | None,
    txt,
    timeout: float,
) -> list[Finding]:
    if not selector:
        return [
            Finding(
                MISSING,
                "DKIM",
                "nothing signs our mail that we know of: set HELPDESK_MAIL_DKIM_KEY and"
                " HELPDESK_MAIL_DKIM_SELECTOR, or give your mail server's selector with"
                " --dkim-selector",
            )
        ]
    name = f"{selector}._domainkey.{domain}"
    try:
        record = txt(name + ".", timeout)
    except Exception as error:
        return [Finding(MISSING, "DKIM", f"the TXT lookup of {name} failed: {error}")]
    if not record:
        return [Finding(MISSING, "DKIM", f"no key record at {name}: publish the public key there")]
    tags = _key_tags(record)
    if not tags.get("p"):
        return [Finding(MISSING, "DKIM", f"the record at {name} holds no key (p= is empty)")]
    if private_key is None:
        return [Finding(OK, "DKIM", f"a key is published at {name}")]
    from dkim.crypto import parse_pem_private_key, parse_public_key

    try:
        published = parse_public_key(base64.b64decode(tags["p"]))
    except Exception:
        return [Finding(MISSING, "DKIM", f"the key at {name} cannot be read (p= is no RSA key)")]
    ours = parse_pem_private_key(private_key)
    if published["modulus"] != ours["modulus"]:
        return [
            Finding(
                MISSING,
                "DKIM",
                f"the key at {name} is not the public half of HELPDESK_MAIL_DKIM_KEY:"
                " receivers will find our signatures invalid",
            )
        ]
    return [Finding(OK, "DKIM", f"{name} holds the public half of HELPDESK_MAIL_DKIM_KEY")]


def check_dmarc(domain: str, txt, timeout: float) -> list[Finding]:
    try:
        policy = dmarc.fetch_policy(domain, txt, timeout)
    except Exception as error:
        return [Finding(MISSING, "DMARC", f"the DMARC lookup for {domain} failed: {error}")]
    if policy is None:
        return [
            Finding(
                MISSING,
                "DMARC",
                f"no DMARC record for {domain}: add _dmarc.{domain} TXT"
                ' "v=DMARC1; p=none; rua=mailto:..." (then quarantine, then reject)',
            )
        ]
    if not policy.enforced:
        return [
            Finding(
                WARN,
                "DMARC",
                f"_dmarc.{policy.domain}: p=none, monitoring only: anyone can still send mail as"
                f" {domain}; move to p=quarantine or p=reject once reports are clean",
            )
        ]
    return [Finding(OK, "DMARC", f"_dmarc.{policy.domain}: p={policy.policy}")]
