"""Text out of mail bytes whatever charset they claim, or fail to claim: :func:`decode_bytes`,
:func:`decode_header_value` and, for raw 8-bit headers, :class:`MailCharset`.

Pure functions, no database. Mail headers are ASCII by the standard, but real clients write
raw 8-bit bytes in the sender's Windows code page (Outlook 2003 on Chinese Windows: GBK;
old Japanese mailers: Shift-JIS; Russian ones: KOI8-R) without any encoded-word saying so. A
mail client guesses; so do we, in the order a person reading the mail would: valid UTF-8
first, then the charset the mail declares for its body, then a detector over all the mail's
undeclared 8-bit text, then Windows-1252. Every result is free of NULs and lone surrogates.
"""

from __future__ import annotations

import codecs
import email.errors
import email.header
import itertools
import re
import unicodedata
from functools import cached_property

# Labels mail clients put in charset= that Python does not know, or knows under a narrower
# meaning than senders intend (e.g. "iso-8859-1" usually means Windows-1252 in practice).
_CHARSET_ALIASES = {
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "ascii",
    "ascii": "ascii",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "euc-kr": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "big5": "big5hkscs",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "windows-31j": "cp932",
    "iso-2022-jp": "iso2022_jp_ext",
    "tis-620": "cp874",
    "windows-874": "cp874",
    "iso-8859-8-i": "iso-8859-8",
    "utf8": "utf-8",
    "unicode-1-1-utf-7": "utf-7",
}
# Declared single-byte charsets for which valid UTF-8 bytes mean the declaration is wrong:
# UTF-8's multi-byte sequences almost never occur by chance in Western text.
_LATIN_FAMILY = {"ascii", "cp1252", "iso8859-15", "iso-8859-15", "latin-9"}
# A 7-bit declaration cannot describe 8-bit header bytes; the 8-bit code page of the same
# language usually does (a Japanese mailer declaring ISO-2022-JP writes Shift-JIS headers).
_EIGHT_BIT_SIBLING = {"iso2022_jp_ext": "cp932", "ascii": None}

# The charsets a detector may answer for mail, most common first: the order breaks ties
# between decodings that look equally plausible (a short Latin-1 "café" is also valid
# Windows-1250). Double-byte Asian code pages and Cyrillic ones cover the mail seen in the wild.
DETECTABLE = (
    "cp1252",
    "gb18030",
    "big5hkscs",
    "cp932",
    "euc_jp",
    "cp949",
    "koi8_r",
    "cp1251",
    "cp1250",
    "iso8859_7",
    "cp1254",
    "cp1257",
    "cp1255",
    "cp1256",
    "cp874",
    "cp1258",
)


def codec_for(label: str | None) -> str | None:
    """Return a Python text codec for a charset label, or ``None`` if it names none."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    name = _CHARSET_ALIASES.get(name, name)
    try:
        codecs.lookup(name)
        b"a".decode(name)  # also rejects bytes-to-bytes codecs such as "base64"
    except UnicodeDecodeError:
        pass  # a real codec (e.g. UTF-16) that merely needs more than one byte
    except (LookupError, ValueError):
        return None
    return name


def clean_text(text: str) -> str:
    """Drop NULs and lone surrogates and a leading BOM: databases reject the first two."""
    text = text.replace("\x00", "")
    if text.startswith("\ufeff"):
        text = text[1:]
    return text.encode("utf-8", "replace").decode("utf-8") if has_surrogates(text) else text


_SURROGATE = re.compile("[\ud800-\udfff]")


def has_surrogates(text: str) -> bool:
    """Does *text* hold raw bytes the parser kept as surrogate escapes (or lone surrogates)?"""
    return not text.isascii() and _SURROGATE.search(text) is not None


def _strict(data: bytes, codec: str | None) -> str | None:
    if not codec:
        return None
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def decode_bytes(data: bytes, charset: str | None, guess: MailCharset | None = None) -> str:
    """Decode *data* declared as *charset*, never failing.

    Tries the declared charset (UTF-8 first when the declaration is a Western single-byte one
    or missing), then what *guess* found for the whole mail, then UTF-8 and Windows-1252, and
    finally decodes with replacement characters.
    """
    codec = codec_for(charset)
    candidates: list[str | None] = []
    if codec is None or codec in _LATIN_FAMILY:
        candidates.append("utf-8")
    candidates.append(codec)
    if guess is not None and (codec is None or codec in ("ascii", "iso2022_jp_ext")):
        candidates.append(guess.codec)
    candidates += ["utf-8", "cp1252"]
    for candidate in candidates:
        text = _strict(data, candidate)
        if text is not None:
            return clean_text(text)
    try:
        return clean_text(data.decode(codec or "utf-8", errors="replace"))
    except (LookupError, ValueError):
        return clean_text(data.decode("utf-8", errors="replace"))


# --------------------------------------------------------------------------- detection

# Unicode character-name prefixes grouped by writing system: a right decoding of one
# person's text uses one or two of them, a wrong one scatters (GBK read as Korean gives
# Hangul mixed with Han, KOI8-R read as Shift-JIS gives Han mixed with half-width kana).
_SCRIPTS = (
    ("CJK", "cjk"),
    ("HIRAGANA", "cjk"),
    ("KATAKANA", "cjk"),
    ("HALFWIDTH KATAKANA", "halfwidth"),
    ("HANGUL", "hangul"),
    ("CYRILLIC", "cyrillic"),
    ("GREEK", "greek"),
    ("HEBREW", "hebrew"),
    ("ARABIC", "arabic"),
    ("THAI", "thai"),
    ("LATIN", "latin"),
)


def _scatter(text: str) -> tuple[int, int]:
    """How many writing systems the non-ASCII letters of *text* use, and how many characters
    are ones real text rarely has (half-width kana, private use, controls)."""
    scripts: set[str] = set()
    odd = 0
    for char in text:
        if char < "\x80":
            continue
        category = unicodedata.category(char)
        if category in ("Co", "Cc", "Cs", "Cn"):
            odd += 1
            continue
        if not category.startswith("L"):
            continue
        name = unicodedata.name(char, "")
        for prefix, script in _SCRIPTS:
            if name.startswith(prefix):
                scripts.add(script)
                odd += script == "halfwidth"
                break
        else:
            scripts.add(name.split(" ", 1)[0])
    return len(scripts), odd


def detect_codec(sample: bytes) -> str | None:
    """The charset *sample* (undeclared 8-bit mail text) is most likely in, or ``None``.

    ``charset-normalizer`` proposes decodings ranked by how chaotic they read; short samples
    (a subject and a name) leave several equally clean, so ties go to the decoding that keeps
    to fewest writing systems, then to the charset more common in mail.
    """
    if not sample or max(sample) < 0x80:
        return None
    from charset_normalizer import from_bytes  # imported on first 8-bit header only

    try:
        results = list(from_bytes(sample[:8192], cp_isolation=list(DETECTABLE)))
    except Exception:  # a detector bug must not cost the mail
        results = []
    ranked = []
    for result in results:
        codec = codec_for(result.encoding)
        text = _strict(sample, codec)
        if codec is None or text is None:
            continue
        order = DETECTABLE.index(result.encoding) if result.encoding in DETECTABLE else 99
        scripts, odd = _scatter(text)
        ranked.append((round(result.chaos, 1), odd, scripts, order, codec))
    return min(ranked)[-1] if ranked else None


class MailCharset:
    """How one mail's undeclared 8-bit text is read.

    *declared* is the charset the mail declares for its text body; *sample* holds the mail's
    raw 8-bit header values (and undeclared body text), detected once, on first need.
    """

    def __init__(self, declared: str | None, sample: bytes = b"") -> None:
        self.declared = codec_for(declared)
        self.declared = _EIGHT_BIT_SIBLING.get(self.declared or "", self.declared)
        self.sample = sample

    @cached_property
    def codec(self) -> str | None:
        return detect_codec(self.sample)

    def decode(self, data: bytes) -> str:
        """Decode raw 8-bit bytes that came with no charset of their own."""
        for codec in ("utf-8", self.declared):
            text = _strict(data, codec)
            if text is not None:
                return clean_text(text)
        return decode_bytes(data, self.codec if self.sample else detect_codec(data))


def fix_raw_header(value: str, guess: MailCharset | None = None) -> str:
    """Repair a raw header value that carried undeclared 8-bit bytes.

    The bytes parser keeps such bytes as surrogate escapes; turn them back into bytes and
    decode them as the rest of the mail suggests (see :class:`MailCharset`).
    """
    if has_surrogates(value):
        data = value.encode("utf-8", "surrogateescape")
        value = guess.decode(data) if guess is not None else decode_bytes(data, None)
    return value


# An encoded-word whose closing "?=" got lost (cut by a length limit, or never written).
_UNTERMINATED = re.compile(r"(=\?[^?\s]+\?[bBqQ]\?[^?\s]*)$")


# Characters of a header value the standard library's decode_header reads at once. It takes
# the value's words off the front of a list one by one: 1 MB of encoded-words took 10 s.
_WORDS_AT_ONCE = 2048


def _decode_words(value: str) -> list[tuple[str | bytes, str | None]]:
    """``email.header.decode_header(value)``, the same pairs, in time linear in the value:
    a long one-line value is decoded in pieces cut right after an encoded-word, where the
    next piece begins with text (kept as it is) or with blanks before another encoded-word
    (dropped either way); the pieces' pairs are joined as decode_header joins its words (the
    bytes of two encoded-words in one charset run together)."""
    if len(value) <= _WORDS_AT_ONCE or value.splitlines() != [value]:
        return email.header.decode_header(value)
    cuts = [0]
    for word in email.header.ecre.finditer(value):
        end = word.end()
        if end - cuts[-1] < _WORDS_AT_ONCE or end == len(value):
            continue
        ahead = value[end : end + _WORDS_AT_ONCE]
        blanks = len(ahead) - len(ahead.lstrip())
        after = email.header.ecre.match(value, end + blanks) if blanks < len(ahead) else None
        # decode_header drops a word of blanks between two encoded-words, even an encoded one
        # ("=?utf-8?q?_?=" is not, "=?utf-8?q?  ?=" is): no cut beside such a word.
        if word.group("encoded").isspace() or (after and after.group("encoded").isspace()):
            continue
        if blanks == 0 or after:
            cuts.append(end)
    cuts.append(len(value))
    pairs: list[tuple[list[bytes] | str | bytes, str | None]] = []
    for start, end in itertools.pairwise(cuts):
        for text, charset in email.header.decode_header(value[start:end]):
            if isinstance(text, str) and start:  # a last piece without encoded-words
                text = bytes(text, "raw-unicode-escape")  # as in the whole value's pairs
            if pairs and charset is not None and pairs[-1][1] == charset:
                pairs[-1][0].append(text)  # type: ignore[union-attr]
            else:
                pairs.append(([text], charset) if charset is not None else (text, charset))
    return [(b"".join(text) if isinstance(text, list) else text, c) for text, c in pairs]


def decode_header_value(raw: str, guess: MailCharset | None = None) -> str:
    """Decode a header value: RFC 2047 encoded-words, raw 8-bit text, broken encoded-words
    (unknown charsets, wrong padding, no closing ``?=``), never raising."""
    value = re.sub(r"\r?\n[ \t]*", " ", fix_raw_header(raw, guess))
    if "=?" not in value:
        return clean_text(value.strip())
    value = _UNTERMINATED.sub(r"\1?=", value.rstrip())
    try:
        parts = _decode_words(value)
    except (email.errors.HeaderParseError, ValueError, LookupError, AssertionError):
        return clean_text(value.strip())
    pieces = []
    for chunk, charset in parts:
        if isinstance(chunk, str):
            pieces.append(chunk)
        elif charset is None:
            # Text between encoded-words: the standard library turned it (already decoded
            # above) into bytes with "raw-unicode-escape"; turn it back the same way.
            pieces.append(chunk.decode("raw-unicode-escape", "replace"))
        else:
            pieces.append(decode_bytes(chunk, charset, guess))
    return clean_text("".join(pieces).strip())
