"""Mail whose sender can be verified in the tests: a resolver serving the test key and DMARC
policy of ``example.com`` (no network), and mails signed with that key."""

from __future__ import annotations

import dkim
import pytest

from tests.mail.dkim_keys import GOOD_PRIVATE, GOOD_PUBLIC


class FakeDns:
    """TXT records by name; a name listed in *timeouts* times out like a dead server.

    *other*: the answers of SPF's lookups, by ``(name, type)`` (``"A"``, ``"AAAA"``, ``"MX"``
    or ``"TXT"``: a TXT lookup of a name not listed there answers *records*' value)."""

    def __init__(
        self,
        records: dict[str, str] | None = None,
        timeouts: set[str] = frozenset(),
        other: dict[tuple[str, str], list[str]] | None = None,
    ):
        self.records = {k.rstrip("."): v for k, v in (records or {}).items()}
        self.other = {(k.rstrip("."), t): v for (k, t), v in (other or {}).items()}
        self.timeouts = timeouts
        self.asked: list[tuple[str, float]] = []
        self.looked_up: list[tuple[str, str]] = []

    def __call__(self, name: str, timeout: float) -> bytes | None:
        self.asked.append((name, timeout))
        name = name.rstrip(".")
        if name in self.timeouts:
            raise dkim.DnsTimeoutError(f"{name}: timed out")
        value = self.records.get(name)
        return value.encode() if value is not None else None

    def lookup(self, name: str, rdtype: str, timeout: float) -> list[str]:
        self.looked_up.append((name, rdtype))
        name = name.rstrip(".").lower()
        if name in self.timeouts:
            raise TimeoutError(f"{name}: timed out")
        if (name, rdtype) in self.other:
            return list(self.other[name, rdtype])
        if rdtype == "TXT" and name in self.records:
            return [self.records[name]]
        return []


def key_record(public: str = GOOD_PUBLIC) -> str:
    return f"v=DKIM1; k=rsa; p={public}"


def signed(raw: bytes, domain: str = "example.com", selector: str = "s1") -> bytes:
    header = dkim.sign(
        raw,
        selector.encode(),
        domain.encode(),
        GOOD_PRIVATE,
        include_headers=[b"from", b"to", b"subject", b"date", b"message-id"],
    )
    return header + raw


@pytest.fixture
def dns(app) -> FakeDns:
    """example.com publishes the test key and a p=reject DMARC policy."""
    fake = FakeDns(
        {
            "s1._domainkey.example.com": key_record(),
            "_dmarc.example.com": "v=DMARC1; p=reject; rua=mailto:d@example.com",
        }
    )
    app.extensions["helpdesk"].config["HELPDESK_MAIL_DNS_RESOLVER"] = fake
    return fake
