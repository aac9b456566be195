"""Forwards nested hundreds deep are written back as the generator writes them, whatever
their parts (review of db2692f: the pieces were cut only below rfc822 forwards and mixed
parts, and written with the wrong line length below a signed part). Runs on SQLite and,
with HELPDESK_TEST_DATABASE_URL, PostgreSQL.
"""

from __future__ import annotations

import email.policy

from flask_helpdesk.mail import parsing
from flask_helpdesk.mail.parsing import parse_message
from flask_helpdesk.models import InboundStatus, Message
from flask_helpdesk.services.base import session
from tests.mail.conftest import ingest

SIGNATURE = b"Content-Type: application/pkcs7-signature; name=smime.p7s\r\n\r\nMIAGCSqGSIb3\r\n"


def signed_again(levels: int) -> bytes:
    """A mail signed again at every hop of a loop between two S/MIME gateways that sign what
    they pass on: each hop wraps the signed mail it got in a new multipart/signed."""
    raw = b"Content-Type: text/plain\r\n\r\nThe printer shows error 41.\r\n"
    for level in range(levels):
        raw = (
            b'Content-Type: multipart/signed; protocol="application/pkcs7-signature";'
            b" boundary=s%d\r\n\r\n--s%d\r\n"
            % (level, level)
            + raw
            + b"\r\n--s%d\r\n%s--s%d--\r\n" % (level, SIGNATURE, level)
        )
    return raw


def forward_between_lines(inner: bytes) -> bytes:
    """A customer's mail: a line, the looping mail forwarded as an attachment, a line."""
    return (
        b"From: Lan Nguyen <lan@example.com>\r\nTo: support@example.com\r\n"
        b"Subject: Fwd: this came back a few hundred times\r\n"
        b"Message-ID: <loop@client.example.com>\r\n"
        b"Content-Type: multipart/mixed; boundary=OUT\r\n\r\n"
        b"--OUT\r\nContent-Type: text/plain\r\n\r\nSee the mail below.\r\n"
        b"--OUT\r\nContent-Type: message/rfc822\r\n\r\n"
        b"From: gateway@vendor.example\r\nSubject: looped\r\n" + inner + b"\r\n"
        b"--OUT\r\nContent-Type: text/plain\r\n\r\nWhat should we do about it?\r\n--OUT--\r\n"
    )


def test_a_forward_signed_again_hundreds_of_times_is_kept_with_the_rest_of_the_mail():
    # 260 signed parts one inside the other: no level was cut (a signed part was not one
    # the pieces started at), writing the forward recursed again, and the error ended the
    # whole mail's reading: the .eml and the customer's line after it were lost (before
    # db2692f the .eml was only kept empty).
    parsed = parse_message(forward_between_lines(signed_again(260)))
    assert "What should we do about it?" in parsed.text
    [attached] = parsed.attachments
    assert attached.filename.endswith(".eml")
    assert attached.payload.count(b"MIAGCSqGSIb3") == 260
    assert b"The printer shows error 41." in attached.payload
    assert not any("partly read" in defect for defect in parsed.defects), parsed.defects


def test_a_forward_signed_hundreds_of_times_becomes_a_ticket_with_the_whole_file(app, support):
    row = ingest(forward_between_lines(signed_again(260)))
    assert row.status == InboundStatus.PROCESSED, row.reason
    posted = session().get(Message, row.posted_message_id)
    assert "What should we do about it?" in posted.body
    [attached] = posted.attachments
    assert attached.filename.endswith(".eml") and attached.size > 30_000


LONG_SUBJECT = b"Subject: " + b" ".join(b"word%d" % n for n in range(30)) + b"\r\n"


def test_a_forward_inside_a_signed_part_is_written_with_its_lines_as_signed(monkeypatch):
    # Below a multipart/signed the generator writes header lines as they came (a new fold
    # would break the signature); a piece cut there was written on its own, refolded at 78.
    monkeypatch.setattr(parsing, "_SERIALIZED_LEVELS", 2)
    raw = (
        b"From: lan@example.com\r\nSubject: signed\r\n"
        b'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; boundary=S'
        b"\r\n\r\n--S\r\nContent-Type: multipart/mixed; boundary=M\r\n\r\n"
        b"--M\r\nContent-Type: message/rfc822\r\n\r\nFrom: minh@example.com\r\n"
        + LONG_SUBJECT
        + b"\r\nThe printer again.\r\n--M--\r\n\r\n--S\r\n"
        + SIGNATURE
        + b"--S--\r\n"
    )
    message = parsing._parse_in_chunks(raw)
    whole = message.as_bytes(policy=email.policy.compat32)
    assert LONG_SUBJECT.rstrip().decode() in whole.decode()  # one line, as signed
    assert parsing._deep_message_bytes(message) == whole
