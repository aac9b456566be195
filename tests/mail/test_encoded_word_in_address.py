"""An encoded-word inside an address (RFC 2047 section 5: never in an addr-spec) is read as
written by every reader of From (review of 74fba82). The modern parser decoded it, the
others did not: ``lan@=?utf-8?q?example.com?=`` was filed as Lan (lan@example.com) while the
DMARC check looked up the domain "=?utf-8?q?example.com?=", which has no policy: a forged
mail in the name of a customer whose domain publishes p=reject was not held. Runs on
SQLite and, with HELPDESK_TEST_DATABASE_URL, PostgreSQL.
"""

from __future__ import annotations

import email.parser
import email.policy
import email.utils
import re

import pytest

from flask_helpdesk.mail.authenticity import from_domain
from flask_helpdesk.mail.noise import detect_noise
from flask_helpdesk.mail.parsing import parse_message
from flask_helpdesk.mail.peek import peek_headers
from tests.mail.conftest import ingest, make_mail, ticket_of
from tests.mail.test_sender_policy import lan_ticket, messages_of

__all__ = ["lan_ticket"]  # a fixture, used by name

FROMS = {
    "domain": b"Lan Nguyen <lan@=?utf-8?q?example.com?=>",
    "domain-bare": b"lan@=?utf-8?q?example.com?=",
    "domain-b": b"Lan Nguyen <lan@=?utf-8?b?ZXhhbXBsZS5jb20=?=>",
    "subdomain": b"Lan Nguyen <lan@mail.=?utf-8?q?example.com?=>",
    "local-part": b"<=?utf-8?q?mailer-daemon?=@bank.example>",
}


def with_from(raw: bytes, value: bytes) -> bytes:
    return re.sub(rb"(?m)^From: [^\r\n]*", lambda _m: b"From: " + value, raw, count=1)


@pytest.mark.parametrize("name", list(FROMS))
def test_every_reader_of_from_reads_an_encoded_word_in_an_address_as_written(name):
    raw = with_from(make_mail(subject="Refund"), FROMS[name])
    written = email.utils.parseaddr(FROMS[name].decode())[1].lower()
    assert "=?" in written
    assert parse_message(raw).from_address == written  # the ticket's requester
    assert peek_headers(raw).sender == written  # the admin's list
    headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
    assert from_domain(headers) == (written.rpartition("@")[2], "")  # the DMARC check
    assert detect_noise(raw) is None  # no mailer daemon read out of the encoded-word


@pytest.mark.parametrize("name", ["domain", "domain-b", "subdomain"])
def test_a_forged_mail_with_an_encoded_domain_is_not_filed_as_the_customer(app, lan_ticket, name):
    # An attacker who saw Lan's ticket code writes from "her" address, the domain written as
    # an encoded-word: example.com publishes p=reject, the spelled-out domain nothing.
    before = len(messages_of(lan_ticket))
    forged = make_mail(
        subject=f"Re: [{lan_ticket.code}] Refund for order 1042",
        body="Please send the refund to my new IBAN DE00 1234.",
    )
    row = ingest(with_from(forged, FROMS[name]))
    assert row.sender != "lan@example.com"
    assert row.ticket_id != lan_ticket.id and len(messages_of(lan_ticket)) == before
    assert ticket_of(row) is None or ticket_of(row).requester.email != "lan@example.com"


def test_an_encoded_name_next_to_the_address_is_still_decoded():
    raw = with_from(make_mail(), b"=?UTF-8?Q?Nguy=E1=BB=85n_Lan?= <lan@example.com>")
    parsed = parse_message(raw)
    assert (parsed.from_address, parsed.from_name) == ("lan@example.com", "Nguyễn Lan")
