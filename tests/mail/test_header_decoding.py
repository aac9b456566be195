"""Header decoding and the lenient header block, on realistic shapes and on arbitrary bytes.

The realistic mails live in ``real_mails.py`` (with where each shape comes from); here the
pieces that read them are checked one by one, and Hypothesis throws arbitrary bytes at them:
whatever arrives, reading it never raises, never yields text a database refuses, and a
well-formed mail passes through the repairs byte for byte.
"""

from __future__ import annotations

import base64
from email.message import EmailMessage

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flask_helpdesk.mail.charsets import (
    MailCharset,
    decode_header_value,
    detect_codec,
)
from flask_helpdesk.mail.headerblock import repair_header_block
from flask_helpdesk.mail.parsing import MailParseError, parse_message
from flask_helpdesk.mail.peek import ascii_domain, peek_headers, usable_address
from tests.mail import real_mails as mails


def _db_safe(text: str) -> bool:
    return "\x00" not in text and not any("\ud800" <= c <= "\udfff" for c in text)


# -- encoded-words ----------------------------------------------------------------------------


def _b64(text: str, charset: str = "utf-8") -> str:
    return base64.b64encode(text.encode(charset)).decode("ascii")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # GB2312 label on GBK text, as Chinese clients write it
        (f"=?GB2312?B?{_b64('王喆', 'gbk')}?=", "王喆"),
        # base64 without its padding (PHP mailers cutting at 75 characters)
        ("=?utf-8?B?w6lsw6h2ZQ?=", "élève"),
        # an unknown charset label over UTF-8 bytes, then one over Latin-1 bytes
        ("=?x-unknown?Q?Caf=C3=A9?=", "Café"),
        ("=?unknown-8bit?Q?caf=E9?=", "café"),
        # a multi-byte character split across two encoded-words (RFC 2047 forbids it)
        ("=?utf-8?B?5pc=?= =?utf-8?Q?=A0=E6=B3=95?=", "无法"),
        # the closing "?=" lost to a length limit
        ("=?utf-8?B?w6lsw6h2ZQ==", "élève"),
        # RFC 2231 language suffix in the charset
        ("=?utf-8*vi?Q?Xin_ch=C3=A0o?=", "Xin chào"),
        # raw text between encoded-words keeps its own characters
        ("Ré: =?utf-8?Q?caf=C3=A9?=", "Ré: café"),
    ],
)
def test_broken_encoded_words_decode_as_mail_clients_show_them(raw, expected):
    assert decode_header_value(raw) == expected


@pytest.mark.parametrize(
    ("text", "charset"),
    [
        ("无法登录系统，请帮忙 张三丰", "gbk"),
        ("帳戶被鎖定 陳大文", "big5"),
        ("ログインできません 山田太郎", "shift_jis"),
        ("Не могу войти в личный кабинет Иван Петров", "koi8_r"),
        ("Problème de facturation Renée Lefèvre", "latin-1"),
    ],
)
def test_raw_8bit_headers_without_a_declared_charset_are_detected(text, charset):
    """No body charset to go by: the detector reads the subject and the name together."""
    sample = text.encode(charset)
    guess = MailCharset(None, sample)
    assert guess.decode(sample) == text


def test_the_bodys_declared_charset_wins_over_detection():
    """Two Han characters are valid GBK and Big5 alike; the body says which one was meant."""
    raw = "陳大".encode("big5")
    assert MailCharset("big5", raw).decode(raw) == "陳大"
    assert detect_codec(b"plain ascii") is None


# -- addresses ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("root@localhost", "root@localhost"),
        ("user@intranet", "user@intranet"),
        ('"john smith"@example.com', '"john smith"@example.com'),
        ("jm@Bücher.Example", "jm@xn--bcher-kva.example"),
        ("jm@XN--BCHER-KVA.example.", "jm@xn--bcher-kva.example"),
        ("+84901234567", None),
        ("@example.com", None),
        ("x@" + "a" * 260 + ".example", None),  # longer than SMTP allows
    ],
)
def test_intake_accepts_every_address_a_mail_server_delivers(address, expected):
    assert usable_address(address) == expected


@pytest.mark.parametrize(
    ("value", "address", "name"),
    [
        # a web form's script writing the name and the address without brackets
        (b"Lan Nguyen lan@example.com", "lan@example.com", "Lan Nguyen"),
        # a broken display name with a stray "<" (seen from a Hungarian billing system)
        (
            b"=?utf-8?Q?Telenor_Sz=C3=A1mla?=\n\t<Telenor Sz#mla <eszamla@telenor.example>",
            "eszamla@telenor.example",
            None,
        ),
        (b"lan@example.com (Lan Nguyen)", "lan@example.com", None),
        (b"<lan@[192.0.2.1]>", "lan@[192.0.2.1]", None),
    ],
)
def test_malformed_from_values_still_give_the_address(value, address, name):
    raw = b"From: " + value + b"\nSubject: x\n\nbody\n"
    parsed = parse_message(raw)
    assert (parsed.from_address, parsed.from_name) == (address, name)
    assert peek_headers(raw).sender == address


def test_a_label_too_long_for_idna_is_kept_as_written():
    assert ascii_domain("ü" * 70 + ".example") == "ü" * 70 + ".example"


# -- the header block ----------------------------------------------------------------------------


def test_an_unindented_continuation_before_more_headers_is_joined():
    repaired = repair_header_block(mails.BROKEN_CONTINUATION)
    assert b"and the wrong\r\n company address" in repaired.raw
    assert repaired.defects == ["malformed header lines, read leniently"]


def test_a_mail_without_the_blank_line_keeps_its_body():
    """A non-header line with no header after it is where the body starts, not a fold."""
    raw = b"From: a@example.com\nSubject: hi\nThis is the body.\nSecond line.\n"
    parsed = parse_message(raw)
    assert parsed.subject == "hi"
    assert parsed.text.startswith("This is the body.")


def test_body_lines_that_look_like_headers_stay_in_the_body():
    """No blank line after the headers, and the body has a "Word: text" line: that line is
    no header (only well-known names are taken after a broken line)."""
    raw = b"From: a@example.com\nSubject: hi\nHello team,\nNote: the server is down\n"
    parsed = parse_message(raw)
    assert parsed.subject == "hi"
    assert "Note: the server is down" in parsed.text


def test_the_mbox_envelope_sender_is_kept():
    repaired = repair_header_block(mails.MBOX_ENVELOPE_ONLY)
    assert repaired.envelope_sender == "nagios@monitor.intranet"
    assert repaired.raw.startswith(b"To: support@example.com")


def test_a_null_envelope_sender_is_no_sender():
    """Bounces travel with an empty envelope sender ("From <>" / MAILER-DAEMON)."""
    assert (
        repair_header_block(b"From MAILER-DAEMON Mon Jan 1\nSubject: x\n\n").envelope_sender is None
    )
    assert peek_headers(b"Return-Path: <>\nSubject: x\n\nbody").sender is None


# -- arbitrary input ----------------------------------------------------------------------------

header_lines = st.lists(
    st.one_of(
        st.binary(max_size=80),
        st.builds(
            lambda name, value: name + b": " + value,
            st.sampled_from([b"From", b"Subject", b"To", b"Reply-To", b"Sender", b"Return-Path"]),
            st.binary(max_size=60),
        ),
    ),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(lines=header_lines, body=st.binary(max_size=200))
def test_arbitrary_header_bytes_never_raise_and_give_storable_text(lines, body):
    raw = b"\r\n".join(lines) + b"\r\n\r\n" + body
    try:
        parsed = parse_message(raw)
    except MailParseError:
        return  # only for input without any header; intake keeps such mail as failed
    for text in (parsed.subject, parsed.text, parsed.from_name or "", parsed.from_address or ""):
        assert _db_safe(text)
    for _name, value in parsed.headers:
        assert _db_safe(value)
    peeked = peek_headers(raw)
    assert _db_safe(peeked.subject)
    assert peeked.sender is None or _db_safe(peeked.sender)


@settings(max_examples=300, deadline=None)
@given(value=st.binary(max_size=120))
def test_any_header_value_decodes_without_raising(value):
    text = decode_header_value(value.decode("ascii", "surrogateescape"), MailCharset(None, value))
    assert _db_safe(text)


@settings(max_examples=150, deadline=None)
@given(
    subject=st.text(
        alphabet=st.characters(exclude_categories=["C", "Zl", "Zp"]), min_size=1, max_size=60
    ).filter(str.strip),
    name=st.text(alphabet=st.characters(categories=["L", "N", "Zs"]), max_size=30),
)
def test_well_formed_mail_passes_the_repairs_untouched_and_decodes_exactly(subject, name):
    message = EmailMessage()
    message["From"] = f'"{name.strip()}" <lan@example.com>' if name.strip() else "lan@example.com"
    message["To"] = "support@example.com"
    message["Subject"] = subject
    message.set_content("body")
    raw = message.as_bytes()
    assert repair_header_block(raw).raw == raw  # good mail costs one scan, no copy
    parsed = parse_message(raw)
    assert parsed.subject == " ".join(subject.split())
    assert parsed.from_address == "lan@example.com"
    assert peek_headers(raw).subject == parsed.subject


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(lines=header_lines, body=st.binary(max_size=100))
def test_intake_never_loses_a_mail_whatever_its_bytes(app, support, lines, body):
    from flask_helpdesk.models import InboundMail, InboundStatus
    from flask_helpdesk.services.intake import _key as intake_key
    from tests.mail.conftest import ingest

    raw = b"\r\n".join(lines) + b"\r\n\r\n" + body
    if not raw.strip():
        return
    row = ingest(raw)
    assert isinstance(row, InboundMail)
    # Stored as it came, or it is a mail stored before: the same but for what transports
    # change (line endings, folding, trailing line breaks, trace fields such as Return-Path;
    # see mail/fingerprint.py and tests/mail/test_intake_safety.py).
    assert row.raw == raw or intake_key(row.raw) == intake_key(raw)
    assert row.status in (InboundStatus.PROCESSED, InboundStatus.IGNORED, InboundStatus.FAILED)
    assert row.status != InboundStatus.FAILED or row.reason
