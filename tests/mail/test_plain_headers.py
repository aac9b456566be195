"""The intake reads a plain header block without the standard library's parser (issue 11: every
mail's headers are read before it is stored): what it stores (sender, subject, Message-ID, the
duplicate check's key) is what the parser's reading gave, for every mail of the corpus, the
real-world shapes and the odd ones; anything odd (8-bit bytes, a NUL, a lone CR, a junk or
broken line, a continuation first, an mbox ``From`` line) still goes to the parser."""

from __future__ import annotations

import email.parser
import email.policy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flask_helpdesk.mail import fingerprint, headerblock
from flask_helpdesk.services import intake
from tests.mail import real_mails
from tests.mail.conftest import CORPUS
from tests.mail.mails import make_mail

REAL = {
    name: value
    for name, value in vars(real_mails).items()
    if name.isupper() and isinstance(value, bytes) and b"\n" in value
}
ODD = {
    "eight-bit subject": b"From: a@example.com\r\nSubject: Caf\xc3\xa9\r\n\r\nBody\r\n",
    "nul in a header": b"From: a@example.com\r\nSubject: a\x00b\r\n\r\nBody\r\n",
    "lone cr": b"From: a@example.com\r\nSubject: a\rb\r\n\r\nBody\r\n",
    "junk line": b"From: a@example.com\r\nthis is no header\r\nSubject: x\r\n\r\nBody\r\n",
    "continuation first": b" folded: x\r\nFrom: a@example.com\r\n\r\nBody\r\n",
    "space before colon": b"From: a@example.com\r\nSubject : x\r\n\r\nBody\r\n",
    "mbox from line": b"From a@example.com Mon Jan  1 00:00:00 2024\nFrom: a@example.com\n\nB\n",
    "empty name": b"From: a@example.com\r\n: x\r\n\r\nBody\r\n",
    "no blank line": b"From: a@example.com\r\nSubject: x\r\nBody line\r\n",
}
PLAIN = {
    "folded": b"From: a@example.com\r\nSubject: Subj\r\n folded twice\r\n\tand tabbed\r\n\r\nB",
    "folded by the client": make_mail(subject="A long subject " * 12, references="<a@x> " * 20),
    "lf only": b"From: A <a@example.com>\nSubject: x\n  y\nMessage-ID: <A@Example.COM>\n\nB\n",
    "empty values": b"From: a@example.com\r\nSubject:\r\nX-Empty:   \r\nCc:\r\n \r\n\r\nBody",
    "colon in value": b"From: a@example.com\r\nSubject: a: b: c\r\nX-A:b\r\n\r\nBody\r\n",
    "headers only": b"From: a@example.com\r\nSubject: nothing more",
    "leading newlines": b"\r\n\r\nFrom: a@example.com\r\nSubject: late\r\n\r\nBody\r\n",
    "two message-ids": b"Message-ID: <one@x>\r\nmessage-id: <two@x>\r\nFrom: a@x.org\r\n\r\nB",
    "encoded words": make_mail(subject="Café au lait", sender="Lê An <le@example.vn>"),
}


def corpus_mails() -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(CORPUS.glob("*.eml"))}


def what_is_stored(raw: bytes, plain: bool) -> tuple:
    headers, message_id, key = intake._read_head(raw, plain=plain)
    return headers.sender, headers.subject, headers.message_id, headers.raw_items, message_id, key


@pytest.mark.parametrize(
    "raw", [*corpus_mails().values(), *REAL.values(), *ODD.values(), *PLAIN.values()]
)
def test_what_is_stored_is_what_the_parser_read(raw):
    assert what_is_stored(raw, plain=True) == what_is_stored(raw, plain=False)


@pytest.mark.parametrize("name", sorted(ODD))
def test_an_odd_header_block_goes_to_the_parser(name):
    head, _body_start = fingerprint.split(ODD[name])
    assert headerblock.plain_header_items(head) is None


@pytest.mark.parametrize("name", sorted(PLAIN))
def test_a_plain_header_block_is_read_as_the_parser_reads_it(name):
    head, _body_start = fingerprint.split(PLAIN[name])
    parsed = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(head)
    items = headerblock.plain_header_items(head)
    assert items is not None
    assert items == [(name, str(value)) for name, value in parsed.raw_items()]
    assert not parsed.get_payload()  # nothing of the block left over as a body


def test_most_of_the_corpus_is_read_without_the_parser():
    plain = [
        name
        for name, raw in corpus_mails().items()
        if headerblock.plain_header_items(fingerprint.split(raw)[0]) is not None
    ]
    assert len(plain) >= len(corpus_mails()) // 2


def test_a_plain_mail_is_stored_without_the_parser(app, monkeypatch):
    """receive() of a plain mail never calls the header parser; the row is as before."""

    def refuse(_head):
        raise AssertionError("the parser read a plain header block")

    raw = make_mail(subject="Plain", sender="Lan <lan@example.com>")
    monkeypatch.setattr(intake, "parse_block", refuse)
    received = intake.receive(raw, "pipe")
    monkeypatch.undo()
    headers, message_id, key = intake._read_head(raw, plain=False)
    row = received.inbound
    assert (row.sender, row.subject, row.message_id, row.dedup_key) == (
        headers.sender,
        headers.subject,
        message_id,
        key,
    )
    assert intake.receive(raw, "pipe").duplicate


# Generated header blocks (review of 92ea6db): plain ones (ASCII names, values with any control
# character but CR, LF and NUL, folded with blanks or tabs, LF or CRLF, duplicates, empty
# values, long lines) and odd ones (8-bit bytes, lone CRs, names with blanks or none, junk
# lines, continuations first, blank lines inside): what is stored is what the parser's reading
# gave, and a plain block's items are the parser's raw items.
_NAME = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=":"),
    min_size=1,
    max_size=12,
)
_KNOWN = st.sampled_from(
    ["From", "Subject", "Message-ID", "message-id", "Sender", "Reply-To", "Content-Type", "Cc"]
)
_VALUE = st.one_of(
    st.text(
        alphabet=st.characters(min_codepoint=1, max_codepoint=0x7F, exclude_characters="\r\n"),
        max_size=40,
    ),
    st.sampled_from(
        ["", " ", "\t", " a@example.com", " <X@Ex.COM>", " Lan lan@example.com", " ((((a@b.c"]
    ),
    st.sampled_from([" =?utf-8?b?w6k=?=", " Caf\u00e9", " " + "y" * 3000]),
)


@st.composite
def header_blocks(draw, odd: bool) -> bytes:
    lines = []
    for i in range(draw(st.integers(1, 8))):
        if i and draw(st.integers(0, 3)) == 0:
            lines.append(draw(st.sampled_from([" ", "\t", "  "])) + draw(_VALUE))
            continue
        separator = ":"
        if odd:
            separator = draw(st.sampled_from([":", ":", " :", ""]))
        lines.append(draw(st.one_of(_NAME, _KNOWN)) + separator + draw(_VALUE))
        if odd and draw(st.integers(0, 6)) == 0:
            lines.append(draw(st.sampled_from(["junk", " lead", "", " ", "From a@b Mon"])))
    ends = ["\r\n", "\n", "\r", "\n\r"] if odd else ["\r\n", "\n"]
    raw = "".join(line + draw(st.sampled_from(ends)) for line in lines)
    raw += draw(st.sampled_from(["", "\r\nBody\r\n", "\nB", "\n \n", "\r\n\nB"]))
    return raw.encode(draw(st.sampled_from(["utf-8", "latin-1"])) if odd else "utf-8")


@settings(max_examples=300, deadline=None)
@given(st.one_of(header_blocks(odd=False), header_blocks(odd=True)))
def test_generated_header_blocks_are_stored_as_the_parser_read_them(raw):
    head, _body_start = fingerprint.split(raw)
    items = headerblock.plain_header_items(head)
    if items is not None:
        parsed = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(head)
        assert items == [(name, str(value)) for name, value in parsed.raw_items()]
        assert not parsed.get_payload()
    assert what_is_stored(raw, plain=True) == what_is_stored(raw, plain=False)
