"""Turn the raw bytes of an inbound mail into what a ticket needs: :func:`parse_message`.

Pure functions over the standard library's :mod:`email` package (HTML goes through
:mod:`.html`, hence the project's one sanitizer; ticket codes follow
:mod:`flask_helpdesk.services.codes`): no database access, so the intake channels (IMAP poll,
webhook, stdin pipe), the benchmark and the tests share one parser.

Inbound mail is hostile or broken often enough that robustness is the main requirement. Headers
are read with the modern ``email.policy.default`` where it works and decoded by hand from their
raw form where it raises; bodies in wrong or unknown charsets are decoded with a fallback chain
and replacement characters; every stage that fails is recorded in :attr:`ParsedMail.defects`
and degrades to an empty value. Only input with no headers at all raises
:class:`MailParseError`. Returned strings never contain NUL characters or lone surrogates,
so they can be stored in any database as they are.
"""

from __future__ import annotations

import binascii
import email
import email.errors
import email.header
import email.parser
import email.policy
import email.utils
import hashlib
import mimetypes
import re
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from functools import lru_cache
from urllib.parse import unquote

from ..inputs import JOINERS
from ..models.ticket import CODE_ALPHABET, CODE_LENGTH
from .charsets import MailCharset, clean_text, decode_bytes, decode_header_value, has_surrogates
from .charsets import fix_raw_header as _fix_raw_header
from .fingerprint import clean_message_id
from .headerblock import repair_header_block
from .html import html_to_text, sanitize_mail_html, sanitize_mail_html_counting
from .noise import NoiseReason, detect_noise
from .peek import (
    MAX_MIME_HEADER,
    SENDER_HEADERS,
    bounded_mime_header,
    bracket_bare_address,
    encoded_word_in_address,
    escape_encoded_words,
    usable_address,
)
from .quotes import strip_quotes

__all__ = [
    "Attachment",
    "MailParseError",
    "NoiseReason",
    "ParsedMail",
    "detect_noise",
    "extract_ticket_code",
    "html_to_text",
    "parse_message",
    "sanitize_mail_html",
    "strip_quotes",
]


class MailParseError(ValueError):
    """The input is not a mail at all (empty, or no header could be read)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Attachment:
    """A file sent with the mail, or an image shown inside its HTML body.

    ``is_inline`` is true only for images the HTML body actually displays (referenced by
    ``cid:``), so a ticket can show those in place and list every other file as an attachment.
    """

    filename: str
    content_type: str
    payload: bytes = field(repr=False)
    is_inline: bool = False
    content_id: str | None = None

    @property
    def size(self) -> int:
        return len(self.payload)


@dataclass
class ParsedMail:
    """Everything a ticket needs from one inbound mail, decoded and made safe to display."""

    message_id: str | None  # without angle brackets, domain lowercased; None if absent
    in_reply_to: str | None
    references: list[str]
    subject: str
    from_address: str | None
    from_name: str | None
    to: list[tuple[str, str]]  # (display name, address) pairs
    cc: list[tuple[str, str]]
    reply_to: list[tuple[str, str]]
    date: datetime | None  # timezone-aware; None when absent or unreadable
    text: str  # the whole plain-text body (derived from the HTML when there is no text part)
    html: str | None  # sanitized HTML body, or None when the mail has no HTML part
    new_text: str  # what the sender just wrote: no quoted history, no signature
    attachments: list[Attachment]
    headers: list[tuple[str, str]]  # every header, decoded, in order
    fingerprint: str  # SHA-256 of the raw bytes
    is_forward: bool = False  # the subject says "Fwd:"/"FW:"
    remote_images_blocked: int = 0  # remote images removed from the HTML (see sanitize)
    defects: list[str] = field(default_factory=list)  # what was broken and worked around

    @property
    def full_text(self) -> str:
        """The whole body including quoted history (same as :attr:`text`)."""
        return self.text

    @property
    def idempotency_key(self) -> str:
        """A key that identifies this mail across retries: its Message-ID, else its hash."""
        return self.message_id or f"sha256:{self.fingerprint}"

    @property
    def thread_ids(self) -> list[str]:
        """Message-IDs this mail answers, most specific first, for finding its ticket."""
        ids = [self.in_reply_to] if self.in_reply_to else []
        ids += [ref for ref in reversed(self.references) if ref not in ids]
        return ids

    @property
    def attachment_files(self) -> list[Attachment]:
        """Attachments a ticket should list (inline body images excluded)."""
        return [item for item in self.attachments if not item.is_inline]

    def header(self, name: str) -> str | None:
        """The first value of header *name* (case-insensitive), or ``None``."""
        lowered = name.lower()
        return next((value for key, value in self.headers if key.lower() == lowered), None)


# --------------------------------------------------------------------------- headers


def _raw_headers(message: Message) -> list[tuple[str, str]]:
    return [(name, str(value)) for name, value in message.raw_items()]


def _first_raw(message: Message, name: str) -> str | None:
    lowered = name.lower()
    return next((v for k, v in _raw_headers(message) if k.lower() == lowered), None)


def _normalize_id(token: str) -> str | None:
    """Normalise a Message-ID (:func:`~.fingerprint.clean_message_id`), at most 998 long."""
    normalized = clean_message_id(token)
    return normalized if normalized and len(normalized) <= 998 else None


def _message_ids(raw: str | None, *, limit: int = 200) -> list[str]:
    """All Message-IDs in a header value, in order, without duplicates.

    At most the last *limit* are kept: a References header lists the thread oldest first,
    and an endless one must not cost unbounded work downstream.
    """
    if not raw:
        return []
    value = _fix_raw_header(raw)
    tokens = re.findall(r"<([^<>]+)>", value)
    if not tokens:
        # Some clients omit the brackets; accept bare tokens that look like ids.
        tokens = [tok for tok in re.split(r"[\s,]+", value) if "@" in tok]
    # A dict keeps the first place of each id in linear time (a list's "in" made 50,000 ids
    # take 47 seconds).
    ids = dict.fromkeys(normalized for token in tokens if (normalized := _normalize_id(token)))
    return list(ids)[-limit:]


# One address in plain ASCII, with or without a display name of words (letters, digits,
# spaces, hyphens and apostrophes: atoms, nothing a parser could read two ways), or bare.
_DOT_ATOM_ADDRESS = r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
_PLAIN_ADDRESS = re.compile(
    rf"[ \t]*(?:([A-Za-z0-9' -]*?)[ \t]*<({_DOT_ATOM_ADDRESS})>|({_DOT_ATOM_ADDRESS}))[ \t]*\Z"
)


def _addresses(
    message: Message, name: str, defects: list[str], guess: MailCharset | None = None
) -> list[tuple[str, str]]:
    """Read an address header: the modern policy's parser first, the lenient one if it fails.

    Any address with a local part and a domain is kept, as mail servers deliver them:
    ``root@localhost``, ``"john smith"@example.com``, IDN domains (made ASCII, see
    :func:`~.peek.ascii_domain`, so both spellings of one address are the same person).
    """
    result: list[tuple[str, str]] = []
    raw_values = [v for k, v in _raw_headers(message) if k.lower() == name.lower()]
    if not raw_values:
        return result
    raw_values, cut = _bounded_addresses(raw_values)
    if cut:
        defects.append(f"{name}: more than {MAX_ADDRESSES} addresses, the rest ignored")
    plain = [_PLAIN_ADDRESS.match(value) for value in raw_values]
    if all(plain):
        # Most senders write "Name <local@domain>" in plain ASCII: that is what the modern
        # parser would return, a tenth of its cost (a new sender's From is parsed from scratch).
        for match in plain:
            display, addr = match.group(1) or "", match.group(2) or match.group(3)
            result.append((" ".join(display.split()), addr))
        raw_values = []
    unfolded = [
        re.sub(r"\r?\n[ \t]*", " ", escape_encoded_words(_fix_raw_header(v, guess)))
        for v in raw_values
    ]
    bracketed = [bracket_bare_address(value) for value in unfolded]
    # The modern parser reads the whole header: not one that was cut, nor a long one.
    compat = cut or sum(map(len, raw_values)) > _MODERN_ADDRESS_TEXT
    lenient = compat or bracketed != unfolded  # "Name addr@host": the modern parser misreads it
    # "lan@=?utf-8?q?example.com?=": the modern parser decodes it, the peek and the DMARC
    # check do not; read as they do (a forgery in a customer's name, else).
    lenient = lenient or any(encoded_word_in_address(value) for value in unfolded)
    try:
        for header in message.get_all(name, []) if raw_values and not compat else ():
            for address in getattr(header, "addresses", ()):  # Return-Path has none
                # A name whose encoded-word the modern parser could not decode (GBK text
                # labelled GB2312) comes back with surrogates: decode it here instead.
                lenient = lenient or has_surrogates(address.display_name or "")
                addr = clean_text(_fix_raw_header(address.addr_spec, guess))
                result.append((decode_header_value(address.display_name or "", guess), addr))
    except Exception as exc:  # the modern parser raises assorted errors on junk input
        defects.append(f"{name}: {type(exc).__name__}, read leniently")
        result = []
    if lenient or not any("@" in addr for _, addr in result):
        # Fall back to the compat32-era parser, on the raw value with encoded words intact.
        try:
            pairs = email.utils.getaddresses(bracketed)
        except RecursionError:  # comments nested a thousand deep: "((((…" (as the peek)
            defects.append(f"{name}: comments nested too deep, not read")
            pairs = []
        result = [
            (decode_header_value(display, guess), clean_text(addr))
            for display, addr in pairs
            if addr
        ]
    cleaned = []
    for display, addr in result:
        usable = usable_address(addr)
        if usable:
            cleaned.append((_display_name(display), usable))
        elif "@" in addr:
            defects.append(f"{name}: address not usable, skipped")
    return cleaned[:MAX_ADDRESSES]


# Addresses read from one header (all its lines) at most. The modern parser takes half a
# millisecond an address: a Cc of 20,000 people took ten seconds of a worker, a 25 MB one
# would pass the processing time limit on every try (and each would be a participant).
MAX_ADDRESSES = 1000
# About what MAX_ADDRESSES take, "Name <local@domain>" each: more is cut before parsing.
_MAX_ADDRESS_TEXT = MAX_ADDRESSES * 64


def _display_name(display: str) -> str:
    """A display name as a person's name is kept (see :func:`~..inputs.is_printable_name`):
    line breaks and other blanks one space, control and format characters dropped (an
    encoded-word may hold them: escapes for a terminal, bidi overrides that turn a name around
    on screen), but the joiners words need; no quotes around it."""
    name = " ".join(display.split())
    name = "".join(ch for ch in name if ch in JOINERS or unicodedata.category(ch)[0] != "C")
    return name.strip().strip('"').strip()


# The longest address header the modern parser reads (about 45 people as "Name <address>");
# longer ones are read by the compat32 parser, as a cut one is. The modern parser copies the
# rest of the value at each word: 64,000 characters of quotes took 38 s, of backslashes or
# dots 25 s, of "a " 7 s (the crowd of 1,400 people in as many 0.35 s), on every try.
_MODERN_ADDRESS_TEXT = 2048


def _bounded_addresses(values: list[str]) -> tuple[list[str], bool]:
    """*values* (one header's lines) up to :data:`_MAX_ADDRESS_TEXT` characters and
    :data:`MAX_ADDRESSES` lines, the last one cut after a comma; and whether any was cut."""
    kept: list[str] = []
    room = _MAX_ADDRESS_TEXT
    for value in values[:MAX_ADDRESSES]:
        if len(value) > room:
            comma = value.rfind(",", 0, room)
            if comma > 0:
                kept.append(value[:comma])
            return kept, True
        kept.append(value)
        room -= len(value)
    return kept, len(values) > MAX_ADDRESSES


def _sender(
    message: Message, defects: list[str], guess: MailCharset | None, envelope: str | None
) -> tuple[str | None, str | None]:
    """The author's (address, name): ``From``, else ``Reply-To``, ``Sender``, ``Return-Path``
    and the envelope sender of an mbox ``From `` line, as other help desks file such mail."""
    for name in SENDER_HEADERS:
        found = _addresses(message, name, defects, guess)
        if found:
            if name != "From":
                defects.append(f"no usable From: sender taken from {name}")
            return found[0][1], found[0][0] or None
    address = usable_address(envelope or "")
    if address:
        defects.append("no usable From: sender taken from the envelope")
    return address, None


def _date(raw: str | None, defects: list[str]) -> datetime | None:
    if not raw:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(_fix_raw_header(raw).strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        defects.append("Date: unreadable")
        return None
    # "-0000" means "time zone unknown"; the value is UTC then (RFC 5322 section 3.3).
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


_FORWARD_SUBJECT = re.compile(
    r"^\s*(?:\[[^\]]{0,40}\]\s*)*(?:fwd?|fw|tr|wg|rv|enc|vs|chuyển tiếp)\s*:", re.IGNORECASE
)

# "Re:" in the languages of common mail clients (Outlook localises it).
_REPLY_SUBJECT = re.compile(
    r"^\s*(?:\[[^\]]{0,40}\]\s*)*(?:re|aw|sv|odp|antw|rif|r|res|ynt|trả lời|پاسخ|ответ)"
    r"\s*(?:\[\d+\])?\s*:",
    re.IGNORECASE,
)


def extract_ticket_code(subject: str, prefix: str = "HD") -> str | None:
    """Return the ticket code tagged in *subject* as ``[HD-4F7K2Q]``, e.g. ``"HD-4F7K2Q"``.

    Only a bracketed code counts, so a customer quoting a code in running text does not thread
    a new request into an old ticket. Case is forgiven; the result is canonical upper case.
    """
    if not subject:
        return None
    pattern = rf"\[\s*({re.escape(prefix)})\s*-\s*([{CODE_ALPHABET}]{{{CODE_LENGTH}}})\s*\]"
    match = re.search(pattern, subject, re.IGNORECASE)
    if not match:
        return None
    return f"{prefix}-{match.group(2).upper()}"


# --------------------------------------------------------------------------- MIME structure

_SIGNATURE_TYPES = {
    "application/pgp-signature",
    "application/pkcs7-signature",
    "application/x-pkcs7-signature",
}


# Parts of delivery reports and read receipts: text, but without a name of their own.
_REPORT_NAMES = {
    "message/delivery-status": "delivery-status.txt",
    "message/global-delivery-status": "delivery-status.txt",
    "message/disposition-notification": "disposition-notification.txt",
    "text/rfc822-headers": "original-headers.txt",
    "message/global-headers": "original-headers.txt",
}


_MIME_HEADERS = frozenset(("content-type", "content-disposition"))


def _mime_view(part: Message, guess: Callable[[], MailCharset] | None = None) -> Message:
    """A compat32 copy of *part*'s MIME headers, whose parameter parsing never raises.

    Raw 8-bit values (Outlook on Chinese Windows names files in GBK, unencoded) are decoded
    first with what *guess* returns, as the compat32 parser would turn them into "\ufffd".
    """
    holder = Message()
    for name, value in _raw_headers(part):
        if name.lower() in ("content-type", "content-disposition", "content-transfer-encoding"):
            if guess is not None and has_surrogates(value):
                value = _fix_raw_header(value, guess())
            holder[name] = bounded_mime_header(value)
    holder.set_default_type(part.get_default_type())
    return holder


def _base64_payload(part: Message) -> bytes | None:
    """A base64 part decoded in one pass, or None to let the standard library try.

    ``get_payload(decode=True)`` splits the text into lines and joins them before decoding:
    for a 25 MB attachment that is five copies at once; ``a2b_base64`` skips line breaks."""
    payload = part._payload  # the raw text: get_payload() would copy it once more
    if part.get("Content-Transfer-Encoding", "").strip().lower() != "base64":
        return None
    if not isinstance(payload, str) or part.is_multipart():
        return None
    try:
        return binascii.a2b_base64(payload.encode("ascii", "surrogateescape"))
    except (binascii.Error, UnicodeEncodeError):  # bad padding or 8-bit junk: the lenient way
        return None


def _payload_bytes(part: Message, defects: list[str]) -> bytes:
    """The decoded payload (base64, quoted-printable, 7bit, 8bit, binary) of a leaf part."""
    data = _base64_payload(part)
    if data is not None:
        return data
    try:
        data = part.get_payload(decode=True)
    except Exception as exc:
        defects.append(f"body: {type(exc).__name__} while decoding, kept raw")
        data = None
    if data is None:
        payload = part.get_payload()
        if isinstance(payload, str):
            data = payload.encode("utf-8", "surrogateescape")
        elif isinstance(payload, list):
            # message/delivery-status and friends are parsed into header blocks; put the
            # blocks back together as the text the reporting server sent.
            data = b"".join(_message_bytes(block) for block in payload)
        else:
            data = b""
    return data


def _message_bytes(message: Message) -> bytes:
    """Serialize a (sub)message, keeping its raw header values as they arrived."""
    try:
        return message.as_bytes(policy=email.policy.compat32)
    except RecursionError:  # the generator recurses a few frames a level: 250 levels deep
        try:
            return _deep_message_bytes(message)
        except RecursionError:  # a last guard: the mail's other parts are still read
            return b""
    except Exception:
        try:
            return message.as_string(policy=email.policy.compat32).encode(
                "utf-8", "surrogateescape"
            )
        except Exception:
            return b""


# Levels of a message the generator serializes at once when it nests deeper than the
# generator can recurse (forwarded mails forwarded again, hundreds of times: a mail loop).
_SERIALIZED_LEVELS = 40


def _deep_message_bytes(message: Message) -> bytes:
    """:func:`_message_bytes` of a message nested deeper than the generator recurses: the
    same bytes, serialized :data:`_SERIALIZED_LEVELS` levels at a time. Each part that many
    levels below the last cut is stood in for by a marker while its parents are serialized,
    serialized itself the same way, and put in the marker's place."""
    marker = f"\x00deep-{secrets.token_hex(8)}-"
    plain = email.policy.compat32
    # Below a multipart/signed the generator writes every header line as it came (no new
    # fold, which would break the signature): so are the pieces cut there.
    as_signed = plain.clone(max_line_length=0)
    cuts: list[tuple[list[Message], int, Message, email.policy.Policy]] = []
    stack: list[tuple[Message, int, bool]] = [(message, 0, False)]
    while stack:
        node, depth, signed = stack.pop()
        children = node._payload if isinstance(node._payload, list) else []
        # The generator writes each child of a multipart or a message/* part as on its own
        # (signed ones included, S/MIME gateways nest them hundreds deep in a loop); not the
        # header blocks of a delivery report.
        maintype, ctype = node.get_content_maintype(), node.get_content_type()
        whole = maintype == "multipart" or (
            maintype == "message" and ctype != "message/delivery-status"
        )
        signed = signed or ctype == "multipart/signed"
        for index, child in enumerate(children):
            if not isinstance(child, Message):
                continue
            if whole and depth + 1 >= _SERIALIZED_LEVELS:
                cuts.append((children, index, child, as_signed if signed else plain))
                stack.append((child, 0, signed))
            else:
                stack.append((child, depth + 1, signed))
    for number, (children, index, _child, _policy) in enumerate(cuts, start=1):  # 0: the top's
        stand_in = Message()
        stand_in.set_payload(f"{marker}{number}\x00")
        children[index] = stand_in
    try:
        pieces = [message.as_bytes(policy=plain)]
        pieces += [child.as_bytes(policy=policy) for _c, _i, child, policy in cuts]
    finally:
        for children, index, child, _policy in cuts:
            children[index] = child
    # A stand-in is written as an empty header block and its text: "\n" and the marker.
    split = re.compile(re.escape(b"\n" + marker.encode()) + rb"(\d+)\x00")
    out: list[bytes] = []
    pending: list[bytes | int] = [0]
    while pending:
        item = pending.pop()
        if isinstance(item, bytes):
            out.append(item)
            continue
        fields = split.split(pieces[item])
        # Text, then (the number of a piece, text) pairs: pushed so they come out in order.
        for position in range(len(fields) - 1, -1, -1):
            field = fields[position]
            pending.append(int(field) if position % 2 else field)
    return b"".join(out)


# Text bodies: plain, HTML, and the styled text of Eudora and early Apple Mail (RFC 1896's
# text/enriched, RFC 1341's text/richtext), read as plain text without their formatting.
_BODY_TYPES = frozenset(("text/plain", "text/html", "text/enriched", "text/richtext"))
_ENRICHED_TOKEN = re.compile(r"<<|<(/?)([A-Za-z0-9-]{1,60})>|\n+")


def _enriched_text(text: str, richtext: bool) -> str:
    """The words of a text/enriched body (RFC 1896): its commands dropped, ``<<`` a "<",
    the contents of ``<param>`` left out, a lone line break a space and each further one a
    line break (kept as they are inside ``<nofill>``). *richtext* (RFC 1341): line breaks are
    spaces, ``<nl>`` a line break, ``<lt>`` a "<"."""
    out: list[str] = []
    param = nofill = 0
    position = 0
    for token in _ENRICHED_TOKEN.finditer(text):
        if not param:
            out.append(text[position : token.start()])
        position = token.end()
        closing, command = token.group(1), (token.group(2) or "").lower()
        if token.group() == "<<":
            out.append("" if param else "<")
        elif command:
            step = -1 if closing else 1
            if command == "param":
                param = max(param + step, 0)
            elif command == "nofill":
                nofill = max(nofill + step, 0)
            elif richtext and not param and command in ("nl", "lt"):
                out.append("\n" if command == "nl" else "<")
        elif not param:  # line breaks
            breaks = len(token.group())
            if richtext:
                out.append(" ")
            else:
                out.append("\n" * breaks if nofill else ("\n" * (breaks - 1) or " "))
    if not param:
        out.append(text[position:])
    return "".join(out)


def _unflow(text: str, delsp: bool) -> str:
    """Join the soft line breaks of format=flowed text (RFC 3676)."""
    out: list[str] = []
    paragraph: str | None = None
    paragraph_depth = 0
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):
            content = content[1:]  # space-stuffing
        if paragraph is not None and depth != paragraph_depth:
            out.append(">" * paragraph_depth + (" " if paragraph_depth else "") + paragraph)
            paragraph = None
        paragraph = content if paragraph is None else paragraph + content
        paragraph_depth = depth
        if content.endswith(" ") and content != "-- ":
            if delsp:
                paragraph = paragraph[:-1]
            continue
        out.append(">" * depth + (" " if depth else "") + paragraph)
        paragraph = None
    if paragraph is not None:
        out.append(">" * paragraph_depth + (" " if paragraph_depth else "") + paragraph)
    return "\n".join(out)


def _safe_filename(name: str | None) -> str | None:
    """Reduce a sender-chosen file name to a plain, bounded base name (no path, no controls)."""
    if not name:
        return None
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip().strip(".").strip()
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = stem[:190] + dot + ext[:9] if dot and len(ext) < 10 else name[:200]
    return name or None


def _filename(view: Message, guess: MailCharset | None = None) -> str | None:
    try:
        raw = view.get_filename()
    except Exception:
        raw = None
    if raw is None:
        return None
    return _safe_filename(decode_header_value(str(raw), guess))


# MIME levels walked part by part (alternatives, signatures); deeper ones are read flat. Real
# mail nests a few levels (a forward of a signed reply with its alternatives: about six).
_WALKED_LEVELS = 40


@dataclass
class _Body:
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)


class _Walker:
    """Collects body texts and attachments from a MIME tree."""

    def __init__(
        self, defects: list[str], guess: MailCharset | None = None, root: Message | None = None
    ) -> None:
        self.defects = defects
        self.guess = guess
        self.root = root
        self._part_guess: MailCharset | None = None
        self.attachments: list[Attachment] = []

    def part_guess(self) -> MailCharset:
        """How raw 8-bit part headers are read: as the mail's headers, else by the declared
        body charset and detection (made on first need: most mail has no such header)."""
        if self.guess is not None:
            return self.guess
        if self._part_guess is None:
            declared = _declared_charset(self.root) if self.root is not None else None
            self._part_guess = MailCharset(declared)
        return self._part_guess

    def walk(self, part: Message, body: _Body, depth: int = 0) -> None:
        if depth > _WALKED_LEVELS:
            self.defects.append(f"MIME nesting deeper than {_WALKED_LEVELS}, parts read flat")
            self._walk_flat(part, body)
            return
        view = _mime_view(part, self.part_guess)
        ctype = view.get_content_type()
        children = part.get_payload() if part.is_multipart() else None
        if isinstance(children, list) and ctype.startswith("multipart/"):
            if ctype == "multipart/alternative":
                self._alternative(children, body, depth)
            elif ctype == "multipart/signed":
                for child in children[:1]:  # the second part is the signature itself
                    self.walk(child, body, depth + 1)
            else:
                for child in children:
                    self.walk(child, body, depth + 1)
            return
        if ctype in ("message/rfc822", "message/global") and isinstance(children, list):
            self._attached_message(part, view, children)
            return
        self._leaf(part, view, ctype, body)

    def _walk_flat(self, part: Message, body: _Body) -> None:
        """The leaves under *part* in order, every multipart level read as a mixed one
        (without recursion: the parser reads a thousand levels, the walk's stack would not)."""
        stack = [part]
        while stack:
            node = stack.pop()
            view = _mime_view(node, self.part_guess)
            ctype = view.get_content_type()
            children = node.get_payload() if node.is_multipart() else None
            if isinstance(children, list) and ctype.startswith("multipart/"):
                stack.extend(reversed(children))
            elif ctype in ("message/rfc822", "message/global") and isinstance(children, list):
                self._attached_message(node, view, children)
            else:
                self._leaf(node, view, ctype, body)

    def _alternative(self, children: list[Message], body: _Body, depth: int) -> None:
        # Alternatives are the same content in different formats: take the plain text from
        # the first that has one and the HTML from the last (the richest) that has one.
        versions = []
        for child in children:
            version = _Body()
            self.walk(child, version, depth + 1)
            versions.append(version)
        plain = next((v.plain for v in versions if "".join(v.plain).strip()), [])
        html = next((v.html for v in reversed(versions) if v.html), [])
        body.plain += plain
        body.html += html

    def _attached_message(self, part: Message, view: Message, children: list[Message]) -> None:
        inner = children[0] if children else Message()
        data = _message_bytes(inner)
        if not data:
            self.defects.append("attached message could not be re-encoded")
        name = _filename(view, self.guess)
        if not name:
            subject = decode_header_value(_first_raw(inner, "Subject") or "", self.guess)
            name = _safe_filename(re.sub(r'[<>:"/\\|?*]', "_", subject)[:120])
        name = name or "forwarded-message"
        if not name.lower().endswith(".eml"):
            name += ".eml"
        self.attachments.append(Attachment(name, "message/rfc822", data))

    def _leaf(self, part: Message, view: Message, ctype: str, body: _Body) -> None:
        if ctype in _SIGNATURE_TYPES:
            return
        disposition = (view.get_content_disposition() or "").lower()
        filename = _filename(view, self.guess)
        data = _payload_bytes(part, self.defects)
        is_body_text = ctype in _BODY_TYPES or ctype.startswith("multipart/")
        if is_body_text and disposition != "attachment" and not filename:
            if ctype.startswith("multipart/"):
                self.defects.append(f"{ctype} without usable boundary, read as text")
            charset = view.get_content_charset()
            if charset is None and ctype == "text/html":
                # Some clients declare the charset only in the document's <meta> tag.
                declared = re.search(
                    rb"<meta[^>]{0,200}charset=[\"']?([\w.:-]+)", data[:4096], re.I
                )
                charset = declared.group(1).decode("ascii") if declared else None
            text = decode_bytes(data, charset, self.guess or _undeclared(charset, data))
            text = text.replace("\r\n", "\n").replace("\r", "\n")
            if ctype == "text/html":
                body.html.append(text)
                return
            if ctype in ("text/enriched", "text/richtext"):
                text = _enriched_text(text, ctype == "text/richtext")
            elif str(view.get_param("format", "")).lower() == "flowed":
                text = _unflow(text, str(view.get_param("delsp", "")).lower() == "yes")
            body.plain.append(text)
            return
        content_id = _first_raw(part, "Content-ID")
        if content_id:
            content_id = re.sub(r"\s+", "", _fix_raw_header(content_id)).strip("<>") or None
        if ctype == "application/octet-stream" and filename:
            ctype = mimetypes.guess_type(filename)[0] or ctype
        if not filename:
            extension = mimetypes.guess_extension(ctype) or ".bin"
            filename = _REPORT_NAMES.get(
                ctype, f"attachment-{len(self.attachments) + 1}{extension}"
            )
        self.attachments.append(Attachment(filename, ctype, data, content_id=content_id))


def _cid_references(html: str) -> set[str]:
    return {unquote(ref).lower() for ref in re.findall(r"cid:([^\"'\s)>]+)", html, re.I)}


def _declared_charset(message: Message, limit: int = 20) -> str | None:
    """The charset the mail declares for its first text part (its writer's code page)."""
    for index, part in enumerate(message.walk()):
        if index >= limit:
            break
        view = _mime_view(part)
        charset = view.get_content_charset() if view.get_content_maintype() == "text" else None
        if charset:
            return charset
    return None


def _mail_charset(message: Message, raw_headers: list[tuple[str, str]]) -> MailCharset | None:
    """How this mail's raw 8-bit header text is read; ``None`` when it has none (most mail)."""
    eight_bit = [value for _, value in raw_headers if has_surrogates(value)]
    if not eight_bit:
        return None
    sample = b"\n".join(value.encode("utf-8", "surrogateescape") for value in eight_bit)
    return MailCharset(_declared_charset(message), sample)


def _undeclared(charset: str | None, data: bytes) -> MailCharset | None:
    """A guess for a text part that declares no charset, from its own bytes."""
    return MailCharset(None, data[:8192]) if charset is None else None


# --------------------------------------------------------------------------- entry point


# The feed parser splits what it is fed into lines at once: fed a 25 MB mail whole, it holds
# the text, all its lines and their join (eight times the mail); fed 1 MB at a time, under three.
FEED_CHUNK = 1 << 20


# The modern policy builds a parsed header object on every read of a header (half of
# parsing's time): the feed parser and the walker read each part's Content-Type several times,
# and intake reads the addresses more than once. Each parse keeps the objects it built (parsed
# headers are immutable), and the MIME structure's values that repeat from mail to mail
# ("text/plain; charset=utf-8", "base64", and To: the support address) are kept for the next
# mails too. A parsed header holds its parse tree (5 to 15 kB): only short values, never a
# multipart boundary (unique to each mail), and at most 32 of them, well under 1 MB a process.
_SHARED_HEADERS = frozenset(
    ("content-type", "content-transfer-encoding", "content-disposition", "mime-version", "to")
)
_SHARED_HEADER_MAX = 100


@lru_cache(maxsize=32)
def _shared_header(name: str, value: str) -> object:
    return email.policy.default.header_fetch_parse(name, value)


# A Content-Transfer-Encoding is read up to this length ("quoted-printable" is the longest
# of RFC 2045's): the modern parser took 22 s for one of 64,000 characters, on every try.
_ENCODING = "content-transfer-encoding"
MAX_ENCODING = 256


class _MailPolicy(email.policy.EmailPolicy):
    """``email.policy.default``, reusing the parsed headers (one instance per parse)."""

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)
        # Policies refuse new attributes (they are meant to be immutable); this one is private.
        object.__setattr__(self, "_parsed", {})

    def header_fetch_parse(self, name: str, value: str):  # type: ignore[no-untyped-def]
        if type(value) is not str:  # already a parsed header
            return super().header_fetch_parse(name, value)
        key = (name, value)
        parsed = self._parsed.get(key)
        if parsed is None and len(value) > MAX_MIME_HEADER and name.lower() in _MIME_HEADERS:
            parsed = super().header_fetch_parse(name, bounded_mime_header(value))
            self._parsed[key] = parsed
        if parsed is None and len(value) > MAX_ENCODING and name.lower() == _ENCODING:
            parsed = super().header_fetch_parse(name, value[:MAX_ENCODING])
            self._parsed[key] = parsed
        if parsed is None:
            if (
                len(value) <= _SHARED_HEADER_MAX
                and name.lower() in _SHARED_HEADERS
                and "boundary" not in value.lower()
            ):
                parsed = _shared_header(name, value)
            else:
                parsed = super().header_fetch_parse(name, value)
            self._parsed[key] = parsed
        return parsed


# Mails of these sizes are tried by _parse_large_multipart first (larger ones are read by the
# feed parser in chunks, as memory allows: see FEED_CHUNK).
LARGE_MULTIPART = (16 << 10, 4 << 20)
# The end of a header block: a line with nothing but its line break.
_BLANK_LINE = re.compile(r"\n\r?\n")


def _parse_large_multipart(raw: bytes) -> Message | None:
    """*raw*, a large multipart mail whose parts are single parts (text, HTML, files), parsed
    as the feed parser parses it, in a fraction of its CPU: the feed parser reads a part's
    body line by line (a 60 kB file is a thousand lines of base64), here it is given each
    part's headers and the bodies are set afterwards, whole, as the feed parser would have
    set them (the line break before the next boundary belongs to the boundary). None when
    the mail is not so simple (line breaks other than LF and CRLF, no closing boundary, a
    part with no header block, a part that is multipart or a mail itself...): the feed
    parser then reads it all, as for any other mail."""
    text = raw.decode("ascii", "surrogateescape")  # as BytesFeedParser decodes what it is fed
    if text.count("\r") != text.count("\r\n"):
        return None
    found = _BLANK_LINE.search(text)
    if found is None:
        return None
    policy = _MailPolicy()
    parser = email.parser.FeedParser(policy=policy)
    parser._set_headersonly()
    parser.feed(text[: found.end()])
    head = parser.close()
    if head.get_payload() != "" or head.get_content_maintype() != "multipart":
        return None
    boundary = head.get_boundary()
    if not boundary:
        return None
    separator = "--" + boundary
    # A boundary line as the feed parser matches one (line breaks are LF or CRLF here).
    line = re.compile(rf"{re.escape(separator)}(--)?[ \t]*\r?(?:\n|\Z)")
    reduced = [text[: found.end()]]
    bodies: list[str] = []
    position = searched = found.end()
    started = closed = False
    while (start := text.find(separator, searched)) >= 0:
        match = line.match(text, start)
        searched = start + 1
        if match is None or text[start - 1] != "\n":  # not a line of its own
            continue
        if not started:
            reduced.append(text[position:start])  # the preamble, as it is
            started = True
        else:
            part_head = _BLANK_LINE.search(text, position, start)
            if part_head is None or start == position or text[position] in "\r\n":
                return None
            reduced.append(text[position : part_head.end()])
            # The body whole, but for its last line break, which belongs to the boundary
            # (as the feed parser strips it): one copy of it.
            end = start - (2 if text.startswith("\r\n", start - 2) else 1)
            bodies.append(text[part_head.end() : max(end, part_head.end())])
        position = searched = match.end()
        reduced.append(text[start:position])
        if match.group(1):
            closed = True
            break
    if not closed or not bodies:
        return None
    reduced.append(text[position:])  # the epilogue, as it is
    parser = email.parser.FeedParser(policy=policy)
    parser.feed("".join(reduced))
    message = parser.close()
    parts = message.get_payload()
    if not isinstance(parts, list) or len(parts) != len(bodies):
        return None
    for part, body in zip(parts, bodies, strict=True):
        if part.is_multipart() or part.get_content_maintype() in ("multipart", "message"):
            return None
        if part.get_payload() != "":
            return None
        part.set_payload(body)
    return message


def _parse_in_chunks(raw: bytes) -> Message:
    if LARGE_MULTIPART[0] <= len(raw) < LARGE_MULTIPART[1]:
        try:
            large = _parse_large_multipart(raw)
        except Exception:  # the feed parser's own reading below, whatever this did not foresee
            large = None
        if large is not None:
            return large
    parser = email.parser.BytesFeedParser(policy=_MailPolicy())
    view = memoryview(raw)
    for start in range(0, len(raw), FEED_CHUNK):
        parser.feed(bytes(view[start : start + FEED_CHUNK]))
    return parser.close()


def _parse_headers_only(raw: bytes) -> Message:
    """*raw*'s header block parsed, its body the payload as text (never split into parts)."""
    parser = email.parser.BytesFeedParser(policy=_MailPolicy())
    parser._set_headersonly()
    parser.feed(raw)
    return parser.close()


_BOUNDARY_PARAMETER = re.compile(rb"""boundary\s*=\s*"?([^"\s;]+)""", re.IGNORECASE)


def _parse_flattened(raw: bytes) -> Message:
    """*raw*, nested too deep for the feed parser, read without recursion: its header block,
    and as its parts every part between any two of its boundary lines (the multipart levels
    in between are dropped, their leaves kept in order): a multipart/mixed of them."""
    message = _parse_headers_only(raw)
    boundaries = {b"--" + found for found in _BOUNDARY_PARAMETER.findall(raw)}
    body = message.get_payload()
    if not boundaries or not isinstance(body, str):
        return message
    segments: list[list[str]] = [[]]
    for line in body.splitlines(keepends=True):
        token = line.rstrip().encode("ascii", "surrogateescape")
        if token.startswith(b"--") and token.removesuffix(b"--") in boundaries:
            segments.append([])
        else:
            segments[-1].append(line)
    parts = [
        _parse_headers_only("".join(lines).encode("ascii", "surrogateescape"))
        for lines in segments[1:]  # the first is the preamble
        if "".join(lines).strip()
    ]
    leaves = [part for part in parts if part.get_content_maintype() != "multipart"]
    if leaves:
        message.replace_header("Content-Type", "multipart/mixed")
        message.set_payload(leaves)
    return message


def parse_message(
    raw: bytes, *, allow_remote_images: bool = False, envelope_sender: str | None = None
) -> ParsedMail:
    """Parse one raw RFC 5322 mail into a :class:`ParsedMail`.

    Never raises for malformed content: broken headers, bodies and attachments are read as
    well as possible and noted in :attr:`ParsedMail.defects`. Raises :class:`MailParseError`
    only when *raw* is empty or has no header at all. *allow_remote_images* keeps remote
    images in the sanitized HTML (off by default, see :func:`sanitize_mail_html`).
    *envelope_sender* (the SMTP ``MAIL FROM`` the mail server handed over) is the author's
    address of last resort, before an mbox ``From `` line's.
    """
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogateescape")
    raw = bytes(raw)
    fingerprint = hashlib.sha256(raw).hexdigest()
    # Some pipes and webhooks prepend blank lines, which would end the header section at once.
    stripped = raw.lstrip(b"\r\n")
    if not stripped.strip():
        raise MailParseError("empty message")
    repaired = repair_header_block(stripped)
    stripped = repaired.raw
    too_deep = False
    try:
        try:
            message = _parse_in_chunks(stripped)
        except RecursionError:
            # Parts nested about a thousand deep (a MIME bomb, or a loop wrapping the mail at
            # each hop): the feed parser recurses once a level. Its leaves are read flat.
            message = _parse_flattened(stripped)
            too_deep = True
    except Exception as exc:  # the feed parser is lenient; this is only a last resort
        raise MailParseError(f"unreadable message: {type(exc).__name__}") from exc
    raw_headers = _raw_headers(message)
    if not raw_headers:
        raise MailParseError("no headers")

    defects = repaired.defects + [type(defect).__name__ for defect in message.defects]
    defects += [
        f"{name}: longer than {MAX_MIME_HEADER} characters, cut after a parameter"
        for name, value in raw_headers
        if len(value) > MAX_MIME_HEADER and name.lower() in _MIME_HEADERS
    ]
    if too_deep:
        defects.append("MIME nesting too deep to parse, parts read flat")
    if any(len(value) > MAX_ENCODING for name, value in raw_headers if name.lower() == _ENCODING):
        defects.append(f"Content-Transfer-Encoding: longer than {MAX_ENCODING} characters, cut")
    guess = _mail_charset(message, raw_headers)
    headers = [(name, decode_header_value(value, guess)) for name, value in raw_headers]

    def first(name: str) -> str | None:
        return _first_raw(message, name)

    message_ids = _message_ids(first("Message-ID"))
    in_reply_to = _message_ids(first("In-Reply-To"))
    subject = re.sub(r"\s+", " ", decode_header_value(first("Subject") or "", guess))
    envelope = envelope_sender or repaired.envelope_sender
    from_address, from_name = _sender(message, defects, guess, envelope)

    body = _Body()
    walker = _Walker(defects, guess, message)
    try:
        walker.walk(message, body)
    except Exception as exc:  # a last guard: keep what was collected so far
        defects.append(f"body: {type(exc).__name__}, partly read")

    html: str | None = None
    blocked = 0
    raw_html = "\n".join(body.html)
    if body.html:
        try:
            html, blocked = sanitize_mail_html_counting(raw_html, allow_remote_images)
            html = html.strip()
        except Exception as exc:
            defects.append(f"html: {type(exc).__name__}, dropped")
    shown_cids = _cid_references(raw_html) if html else set()
    for attachment in walker.attachments:
        if attachment.content_id and attachment.content_id.lower() in shown_cids:
            attachment.is_inline = True

    text = "\n\n".join(part.strip("\n") for part in body.plain if part.strip())
    if not text.strip() and html:
        text = html_to_text(html)
    is_forward = bool(_FORWARD_SUBJECT.match(subject))
    references = _message_ids(first("References"))
    is_reply = bool(in_reply_to or references or _REPLY_SUBJECT.match(subject))
    return ParsedMail(
        message_id=message_ids[0] if message_ids else None,
        in_reply_to=in_reply_to[0] if in_reply_to else None,
        references=references,
        subject=subject,
        from_address=from_address,
        from_name=from_name,
        to=_addresses(message, "To", defects, guess),
        cc=_addresses(message, "Cc", defects, guess),
        reply_to=_addresses(message, "Reply-To", defects, guess),
        date=_date(first("Date"), defects),
        text=text,
        html=html,
        new_text=strip_quotes(text, forward=is_forward, reply=is_reply),
        attachments=walker.attachments,
        headers=headers,
        fingerprint=fingerprint,
        is_forward=is_forward,
        remote_images_blocked=blocked,
        defects=defects,
    )
