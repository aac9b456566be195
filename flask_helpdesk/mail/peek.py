"""What a stored mail says about itself before it is parsed: :func:`peek_headers`.

Intake stores every mail before processing it and shows admins its sender and subject at
once, also for mail that later fails. Only the header block is read (cheap for a 25 MB
mail), mended and decoded exactly as :func:`~.parsing.parse_message` does, so the admin's
list shows the same subject the ticket gets.
"""

from __future__ import annotations

import email.message
import email.parser
import email.policy
import email.utils
import re
from dataclasses import dataclass, field

from .charsets import MailCharset, clean_text, decode_header_value, fix_raw_header, has_surrogates
from .headerblock import repair_header_block

_BLOCK_END = re.compile(rb"(\r?\n)\r?\n")  # the empty line after the headers

# Where the author's address is taken from, in order, when ``From`` is missing or has none:
# the order other help desks file such mail in (RFC 5322 section 3.6.2, RFC 5321 4.4).
SENDER_HEADERS = ("From", "Reply-To", "Sender", "Return-Path")


@dataclass
class PeekedHeaders:
    """The few values intake stores on arrival, and the decoded headers on demand."""

    message_id: str | None  # the raw Message-ID value
    sender: str | None  # lowercased address (see SENDER_HEADERS), None if there is none
    subject: str  # decoded, on one line
    raw_items: list[tuple[str, str]] = field(repr=False, default_factory=list)
    guess: MailCharset | None = field(repr=False, default=None)

    @property
    def headers(self) -> list[tuple[str, str]]:
        """Every header, decoded, in order (for the admin's page; not needed on arrival)."""
        return [(name, decode_header_value(value, self.guess)) for name, value in self.raw_items]


def ascii_domain(domain: str) -> str:
    """A mail domain lowercased, an internationalized one in its ASCII (punycode) form.

    ``bücher.example`` and ``xn--bcher-kva.example`` are the same domain; the ASCII form is
    what any mail server accepts when the helpdesk writes back.
    """
    domain = domain.strip().rstrip(".").lower()
    if domain.isascii():
        return domain
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:  # not a valid IDN (e.g. a label too long): keep what was written
        return domain


# MIME headers with parameters longer than this are cut after their last parameter that fits:
# the standard library's parameter parsers take about 25 microseconds a byte (a 1 MB
# Content-Type took half a minute). Real ones are a few hundred bytes; a long file name in
# RFC 2231 continuations a few kilobytes.
MAX_MIME_HEADER = 8192


def bounded_mime_header(value: str) -> str:
    """*value* (a Content-Type or Content-Disposition) at most :data:`MAX_MIME_HEADER` long."""
    if len(value) <= MAX_MIME_HEADER:
        return value
    cut = value.rfind(";", 0, MAX_MIME_HEADER)
    return value[: cut if cut > 0 else MAX_MIME_HEADER]


def usable_address(address: str) -> str | None:
    """*address* with its domain normalized, or ``None`` when it is not one a reply can go
    to: no local part or domain, or longer than SMTP allows (RFC 5321 section 4.5.3.1)."""
    local, at, domain = clean_text(address).strip().rpartition("@")
    if not (at and local and domain.strip()):
        return None
    result = f"{local}@{ascii_domain(domain)}"
    return result if len(result) <= 254 else None


NULL_SENDER = "<>"


class BadEnvelopeSender(ValueError):
    """An envelope sender no mail server would send (longer than SMTP allows)."""


def clean_envelope_sender(value: str | None) -> str | None:
    """The SMTP envelope sender (``MAIL FROM``) an MTA or a provider handed over, as stored.

    ``None`` when none was given, or only NULs, control characters and other unprintable
    ones (``?sender=%00``: a script's empty C string or junk, not a mail server's word: the
    mail is filed by its headers like any other, never taken for a bounce). The null
    reverse-path of bounces and delivery reports, given as ``<>`` or as an empty value
    (Postfix's ``${sender}`` of a bounce; spaces, tabs and line breaks only), is ``"<>"``
    (RFC 5321 section 4.5.5). Otherwise the address without its angle brackets, its domain
    normalized, control characters and NULs dropped; anything without an ``@`` (an MTA's
    ``MAILER-DAEMON``) is kept as given, for loop detection and for admins to read. Raises
    :class:`BadEnvelopeSender` above 254 characters (RFC 5321 section 4.5.3.1).
    """
    if value is None:
        return None
    text = "".join(c for c in clean_text(str(value)) if c.isprintable()).strip()
    # Empty is "" or spaces, tabs and line breaks; not every character str.strip() takes for
    # white space (the file and unit separators, NEL, a no-break space): junk like NULs.
    if not text and str(value).strip(" \t\r\n"):
        return None  # junk only: no sender given, certainly not the null one
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    if not text:
        return NULL_SENDER
    if len(text) > 254:
        raise BadEnvelopeSender(f"envelope sender longer than 254 characters ({len(text)})")
    return usable_address(text) or text


# "Lan Nguyen lan@example.com": a name and an address without the angle brackets, as some
# web forms and scripts write From. Parsers read it as one odd local part "Lan Nguyen lan".
# Read in linear time: the name is all before the last blank, the address the last word (a
# regular expression of both backtracked: a From of a letter and 20,000 blanks took seconds).
_BARE_ADDRESS = re.compile(r'[^\s<>"@,;:]+@[^\s<>"@,;:]+')
_NAME_SPECIALS = re.compile(r'[<>"@,;:]')


# A "Q" encoded-word (RFC 2047): its text may not hold specials in a phrase, but mailers write
# "=?UTF-8?Q?Support:_Team?=" anyway, and an address parser reads the ":" as a group's
# (and "," or ";" or "<" as its own): the name and the address split in the wrong place.
_Q_WORD = re.compile(r"(=\?[^?\s]+\?[qQ]\?)([^?\s]*)(\?=)")
_ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")
_SPECIALS = re.compile(r'[()<>@,;:\\".\[\]]')
# What ends an address written around an encoded-word ("lan@=?utf-8?q?example.com?="); an
# address is at most 254 characters, so no further is looked.
_ADDRESS_END = re.compile(r'[\s<>(),;:"]')
_ADDRESS_REACH = 255


def escape_encoded_words(value: str) -> str:
    """*value* (an address header) with the specials inside its "Q" encoded-words written
    as ``=XX`` (``Support=3A_Team``): the same text once decoded, one reading for parsers.
    An encoded-word that is part of an address is left as written (see
    :func:`encoded_word_in_address`)."""
    if "=?" not in value:
        return value

    def escaped(word: re.Match[str]) -> str:
        if _in_address(value, word.start(), word.end()):
            return word[0]
        return word[1] + _SPECIALS.sub(_hex, word[2]) + word[3]

    return _Q_WORD.sub(escaped, value)


def encoded_word_in_address(value: str) -> bool:
    """Does an encoded-word stand inside an address of *value* (``lan@=?utf-8?q?example.com?=``,
    ``<=?utf-8?q?lan?=@example.com>``)? RFC 2047 (section 5) forbids it there: the modern
    parser decodes it, the others read it as written, and a ticket filed under the decoded
    address while the DMARC check looks up the written domain is a forgery in a customer's
    name that no domain policy stops. Every reader takes it as written."""
    return "=?" in value and any(
        _in_address(value, word.start(), word.end()) for word in _ENCODED_WORD.finditer(value)
    )


def _in_address(value: str, start: int, end: int) -> bool:
    """Is the encoded-word at ``value[start:end]`` glued to an ``@`` (no blank nor special
    between them)?"""
    stop = _ADDRESS_END.search(value, end, end + _ADDRESS_REACH)
    if "@" in value[end : stop.start() if stop else end + _ADDRESS_REACH]:
        return True
    before = value[max(0, start - _ADDRESS_REACH) : start]
    at = before.rfind("@")
    return at >= 0 and not _ADDRESS_END.search(before, at)


def _hex(special: re.Match[str]) -> str:
    return f"={ord(special.group()):02X}"


def bracket_bare_address(value: str) -> str:
    """``Lan Nguyen lan@example.com`` → ``Lan Nguyen <lan@example.com>``; others unchanged."""
    words = value.strip().rsplit(None, 1)
    if len(words) != 2 or not _BARE_ADDRESS.fullmatch(words[1]):
        return value
    name, address = words
    return value if _NAME_SPECIALS.search(name) else f"{name} <{address}>"


def _same_block(block: bytes, other: bytes) -> bool:
    """Whether *other* is *block*, but perhaps for the line break that ends its last line
    (which the parser leaves out of the header's value either way)."""
    if len(block) - len(other) not in (0, 1, 2) or not block.startswith(other):
        return False
    return block[len(other) :] in (b"", b"\n", b"\r\n")


def peek_headers(
    raw: bytes, parsed_block: tuple[bytes, email.message.Message] | None = None
) -> PeekedHeaders:
    """Read the header block of *raw* only; never raises. *parsed_block*: a header block the
    caller parsed already (``email.policy.compat32``) and what the parser made of it, used if
    it is the block read here (no mending needed)."""
    repaired = repair_header_block(raw.lstrip(b"\r\n"))
    # The header block only: the parser would read the rest line by line as the payload,
    # unused here (a quarter of a millisecond for a mail with a file attached). It ends the
    # headers at the first empty line anyway.
    end = _BLOCK_END.search(repaired.raw)
    block = repaired.raw[: end.end(1)] if end is not None else repaired.raw
    if parsed_block is not None and _same_block(block, parsed_block[0]):
        parsed = parsed_block[1]
    else:
        parsed = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(block)
    raw_items = [(name, str(value)) for name, value in parsed.raw_items()]
    guess = None
    eight_bit = [value for _, value in raw_items if has_surrogates(value)]
    if eight_bit:
        mime = email.message.Message()
        mime["Content-Type"] = bounded_mime_header(_first(raw_items, "Content-Type") or "")
        declared = mime.get_content_charset() if mime.get_content_maintype() == "text" else None
        sample = b"\n".join(value.encode("utf-8", "surrogateescape") for value in eight_bit)
        guess = MailCharset(declared, sample)
    return peek_items(raw_items, guess, repaired.envelope_sender)


def _first(raw_items: list[tuple[str, str]], name: str) -> str | None:
    return next((v for k, v in raw_items if k.lower() == name.lower()), None)


def peek_items(
    raw_items: list[tuple[str, str]],
    guess: MailCharset | None = None,
    envelope_sender: str | None = None,
) -> PeekedHeaders:
    """:func:`peek_headers` of a header block read already: its *raw_items* (as the parser's
    ``raw_items()``, or :func:`~.headerblock.plain_header_items` of a plain block, which needs
    no mending and has no 8-bit bytes), the charset *guess* for 8-bit values, the
    *envelope_sender* of an mbox ``From`` line mended away."""
    sender = None
    for name in SENDER_HEADERS:
        values = [
            bracket_bare_address(escape_encoded_words(fix_raw_header(v, guess)))
            for k, v in raw_items
            if k.lower() == name.lower()
        ]
        try:
            found = [usable_address(addr) for _, addr in email.utils.getaddresses(values)]
        except RecursionError:  # comments nested a thousand deep: "((((…"
            found = []
        sender = next((addr for addr in found if addr), None)
        if sender:
            break
    sender = sender or usable_address(envelope_sender or "")
    subject = re.sub(r"\s+", " ", decode_header_value(_first(raw_items, "Subject") or "", guess))
    return PeekedHeaders(
        message_id=_first(raw_items, "Message-ID"),
        sender=sender.lower() if sender else None,
        subject=subject.strip(),
        raw_items=raw_items,
        guess=guess,
    )
