"""Read a broken header block the way mail clients do: :func:`repair_header_block`.

The standard library stops reading headers at the first line that is neither ``Name: value``
nor indented, and treats everything after it as the body. Real mail breaks that rule often
enough: an mbox ``From `` line or a stray line a pipe or webhook put before the headers, a
header folded without indenting the continuation (some PHP mailers, old Lotus Notes gateways),
``Subject :`` with a space before the colon (obsolete RFC 822 syntax). Such a mail then has no
``From``, no ``Subject`` and a body full of headers. Here the header block is mended before
parsing, and only when something is wrong: well-formed mail costs one scan of its headers.
"""

from __future__ import annotations

import email.message
import email.parser
import email.policy
import re
from dataclasses import dataclass, field

# A field name (printable ASCII but the colon, RFC 5322 section 2.2), optionally followed by
# blanks before the colon (obs-optional, RFC 5322 section 4.5).
_HEADER_LINE = re.compile(rb"^[\x21-\x39\x3b-\x7e]+[ \t]*:")
_STRICT_HEADER_LINE = re.compile(rb"^[\x21-\x39\x3b-\x7e]+:")
_SPACE_BEFORE_COLON = re.compile(rb"^([\x21-\x39\x3b-\x7e]+)[ \t]+:")
# Header names mail systems write. A line is taken for a header *after junk or after a broken
# line* only with one of these names: body text such as "Note: the server is down" after a
# missing blank line must stay body text.
_KNOWN_HEADER = re.compile(
    rb"^(?:from|to|cc|bcc|subject|date|message-id|mime-version|received|return-path|"
    rb"reply-to|sender|references|in-reply-to|delivered-to|envelope-to|dkim-signature|"
    rb"authentication-results|importance|priority|organization|user-agent|auto-submitted|"
    rb"precedence|errors-to|thread-[a-z]+|(?:x|content|list|resent|arc)-[!-9;-~]+)[ \t]*:",
    re.IGNORECASE,
)
# "From sender@example.com Mon Jan  1 00:00:00 2024": the mbox separator, whose first word
# is the envelope sender (MAILER-DAEMON or an empty "<>" for bounces).
_MBOX_FROM = re.compile(rb"^>?From +(\S+)")
_BLOCK_END = re.compile(rb"\r?\n\r?\n")
# Lines of junk looked through before the headers; a mail whose headers start later is
# not a mail with junk in front but something else, left to the parser as it is.
MAX_LEADING_LINES = 8
# How far to look for the end of the header block; a larger block is left as it is.
MAX_HEADER_BLOCK = 1 << 20


@dataclass
class RepairedMail:
    """The mail with its header block mended, and what was done to it."""

    raw: bytes
    envelope_sender: str | None = None
    defects: list[str] = field(default_factory=list)


def _lines(block: bytes) -> list[bytes]:
    """Split keeping each line's own ending, so untouched lines come back byte for byte."""
    return block.splitlines(keepends=True)


def _drop_leading_junk(raw: bytes, repaired: RepairedMail) -> bytes:
    """Remove mbox ``From `` lines, blank lines and junk before the first header line."""
    offset = 0
    for _ in range(MAX_LEADING_LINES):
        end = raw.find(b"\n", offset)
        line = raw[offset : end + 1 if end >= 0 else len(raw)]
        if _KNOWN_HEADER.match(line) or (offset == 0 and _HEADER_LINE.match(line)):
            break
        if end < 0:
            return raw  # no header line at all: not ours to guess
        mbox = _MBOX_FROM.match(line)
        if mbox and repaired.envelope_sender is None:
            sender = mbox.group(1).decode("ascii", "replace").strip("<>")
            repaired.envelope_sender = sender if "@" in sender else None
            repaired.defects.append("mbox From line before the headers, removed")
        elif line.strip():
            repaired.defects.append("junk line before the headers, removed")
        offset = end + 1
    else:
        return raw
    return raw[offset:]


def _mend_block(block: bytes, repaired: RepairedMail) -> bytes:
    """Indent continuation lines that lost their indentation and drop blanks before colons.

    A non-header line counts as a broken continuation only when a line with a well-known
    header name follows it in the same block; otherwise it is where the body starts (a mail
    without the blank line between headers and body), which the parser already reads right.
    """
    lines = _lines(block)
    header_after = [False] * (len(lines) + 1)
    for index in range(len(lines) - 1, -1, -1):
        header_after[index] = header_after[index + 1] or bool(_KNOWN_HEADER.match(lines[index]))
    out: list[bytes] = []
    changed = False
    for index, line in enumerate(lines):
        if line[:1] in (b" ", b"\t") or _STRICT_HEADER_LINE.match(line):
            out.append(line)
        elif _HEADER_LINE.match(line):
            out.append(_SPACE_BEFORE_COLON.sub(rb"\1:", line))
            changed = True
        elif index and header_after[index + 1]:
            out.append(b" " + line)
            changed = True
        else:
            out.extend(lines[index:])
            break
    if not changed:
        return block
    repaired.defects.append("malformed header lines, read leniently")
    return b"".join(out)


def repair_header_block(raw: bytes) -> RepairedMail:
    """Mend the header block of *raw* (see the module's docstring); the body is untouched."""
    repaired = RepairedMail(raw)
    raw = _drop_leading_junk(raw, repaired)
    separator = _BLOCK_END.search(raw, 0, MAX_HEADER_BLOCK)
    split = separator.end() if separator else len(raw)
    if split > MAX_HEADER_BLOCK:
        repaired.raw = raw
        return repaired
    block = raw[:split]
    mended = _mend_block(block, repaired)
    repaired.raw = raw if mended is block else mended + raw[split:]
    return repaired


# The header block parsed last and what the parser made of it: inline intake parses a mail's
# block on arrival and the sender check parses the same bytes again a moment later (0.05 ms
# of CPU a mail). One entry, replaced as a whole; the callers only read the headers.
_LAST_PARSED: tuple[bytes, email.message.Message] | None = None


def parse_block(head: bytes) -> email.message.Message:
    """*head* (a header block) parsed with ``email.policy.compat32``; not to be changed."""
    global _LAST_PARSED
    last = _LAST_PARSED
    if last is not None and last[0] == head:
        return last[1]
    parsed = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(head)
    _LAST_PARSED = (head, parsed)
    return parsed


# A line of a plain header block: ``Name:`` (RFC 5322's field name) or a folded line's
# continuation (RFC 5322 section 2.2.3).
_PLAIN_LINE = re.compile(rb"[\x21-\x39\x3b-\x7e]+:|[ \t]")


def plain_header_items(head: bytes) -> list[tuple[str, str]] | None:
    """The headers of *head* (a header block, as :func:`fingerprint.split` cuts it) as
    :func:`parse_block`'s ``raw_items()`` would give them, read without the standard library's
    parser, or None when the block is anything but plain: a byte that is not ASCII (8-bit
    headers), a NUL, a CR that does not end a line, a line that is neither ``Name:`` and its
    value nor a continuation, a continuation first. Those go to the parser (and the mending
    of :func:`repair_header_block`, which leaves a plain block as it is).

    The values as the parser's ``compat32`` policy keeps them: what follows the first colon,
    its leading blanks dropped, then each continuation line with the line break before it,
    the trailing line breaks dropped (issue 11: the intake reads every mail's headers before
    storing it, and the parser took about half of that)."""
    if not head.isascii() or b"\0" in head or head.count(b"\r") != head.count(b"\r\n"):
        return None
    match = _PLAIN_LINE.match
    items: list[tuple[str, str]] = []
    name = b""
    value: list[bytes] = []
    for line in head.split(b"\n"):
        found = match(line)
        if found is None:
            return None
        cut = found.end()
        if line[cut - 1] != 58:  # ":" ends a name; a blank starts a continuation
            if not value:
                return None
            value.append(line)
            continue
        if value:
            items.append((name.decode(), b"\n".join(value).rstrip(b"\r\n").decode()))
        name, value = line[: cut - 1], [line[cut:].lstrip(b" \t")]
    if value:
        items.append((name.decode(), b"\n".join(value).rstrip(b"\r\n").decode()))
    return items
