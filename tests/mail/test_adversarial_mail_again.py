"""Mail shaped by other systems and by hostile senders, second pass (session 15's adversary):
the leftovers of session 14's pass and what the world's mailers send besides. Each test says
where its mail's shape comes from. Runs on SQLite and, with HELPDESK_TEST_DATABASE_URL,
PostgreSQL.
"""

from __future__ import annotations

import email.parser
import email.policy

import pytest

from flask_helpdesk.mail.authenticity import from_domain
from flask_helpdesk.mail.noise import detect_noise
from flask_helpdesk.mail.parsing import parse_message
from flask_helpdesk.mail.peek import peek_headers
from flask_helpdesk.models import InboundStatus
from tests.mail.conftest import ingest, ticket_of

TAIL = (
    b"To: support@example.com\r\nSubject: Printer on floor 3 is offline\r\n"
    b"Message-ID: <%s@client.example.com>\r\n\r\nThe printer shows error 41.\r\n"
)

# Display names "Q"-encoded with a ":" (or ";", ",") left as it is: RFC 2047 (section 5(3))
# forbids specials in an encoded-word of a phrase, but mailers that encode the whole name
# byte by byte write them anyway ("Support: Team", "Nguyen, Lan"). An address parser reads
# the ":" as the start of a group, and the name and the address split in the wrong place.
ENCODED_SPECIALS = {
    # A web form's script: the encoded name and the address without angle brackets.
    "bare": b"From: =?UTF-8?Q?Support:_Team?= support@vendor.example\r\n",
    # Outlook 2003 on Thai Windows: a raw 8-bit word after the encoded one.
    "8-bit": b"From: =?UTF-8?Q?Support:_Team?= \xe9 <support@vendor.example>\r\n",
    "comma": b"From: =?UTF-8?Q?Nguyen,_Lan?= support@vendor.example\r\n",
}


@pytest.mark.parametrize("name", list(ENCODED_SPECIALS))
def test_an_encoded_name_with_a_colon_keeps_name_and_address_apart(name):
    raw = ENCODED_SPECIALS[name] + TAIL % name.encode()
    parsed = parse_message(raw)
    assert parsed.from_address == "support@vendor.example"
    assert parsed.from_name.startswith(("Support: Team", "Nguyen, Lan")), parsed.from_name
    assert peek_headers(raw).sender == "support@vendor.example"  # the admin's list


def test_a_mail_from_an_encoded_name_with_a_colon_is_filed_under_its_sender(app, support):
    row = ingest(ENCODED_SPECIALS["bare"] + TAIL % b"bare")
    assert row.status == InboundStatus.PROCESSED, row.reason
    assert row.sender == "support@vendor.example"  # was "_team?= support@vendor.example"
    requester = ticket_of(row).requester
    assert (requester.email, requester.name) == ("support@vendor.example", "Support: Team")


def test_every_reader_of_from_finds_the_same_address_behind_an_encoded_group():
    # A name that reads as a group holding another address to an older parser: the ticket's
    # requester, the admin's list, the bounce check and the DMARC check read different
    # senders (b@bank.example, x@evil.example, or none), the shape of parser-differential
    # spoofing. One reading for all: the address in the angle brackets.
    raw = b"From: =?UTF-8?Q?a:mailer-daemon@bank.example;?= <lan@example.com>\r\n" + TAIL % b"g"
    assert parse_message(raw).from_address == "lan@example.com"
    assert peek_headers(raw).sender == "lan@example.com"
    assert detect_noise(raw) is None  # was "bounce": the person's mail ignored
    headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
    assert from_domain(headers) == ("example.com", "")
