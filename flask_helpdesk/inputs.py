"""Untrusted text turned into the numbers and search strings the helpdesk works with.

The one place that decides what an id, a bounded number or a search text from a URL, a query
string or a form may be, so that no value a visitor types reaches the database in a shape it
refuses (an id beyond the INTEGER columns, a NUL byte PostgreSQL will not store, a pattern too
long for SQLite's ``LIKE``): such a value reads as "no such thing", never as a server error.
Views, services and the URL converter (``views/converters.py``) all use it.
"""

from __future__ import annotations

import re
from typing import Any

# Ids are INTEGER columns: 32-bit signed on PostgreSQL (SQLite's 64-bit limit is further out).
MAX_ID = 2**31 - 1
# Longer search text is cut here: enough for a sentence, far below SQLite's LIKE pattern limit
# (50,000 bytes) and cheap to match.
MAX_SEARCH_LENGTH = 200
# ASCII digits only, at most 18: longer is refused before int() (slow on thousands of digits,
# an error beyond Python's limit), and no helpdesk number needs more.
_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")
# C0/C1 control characters (NUL included) and the Unicode line/paragraph separators: never
# part of what anyone searches for, and NUL breaks PostgreSQL text parameters.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
# The invisible characters words need: the zero-width non-joiner (Persian writes "می‌خواهم"
# with one; without it the letters join into another spelling) and joiner (emoji sequences).
# Every other control or format character (NUL, line breaks, the bidi overrides that make
# "invoice\u202egpj.exe" read as "invoiceexe.jpg") is no part of a name.
JOINERS = frozenset("\u200c\u200d")


def parse_int(value: Any, minimum: int | None = None, maximum: int | None = None) -> int | None:
    """*value* as an int within [*minimum*, *maximum*], else None (missing, not an ASCII
    decimal, too long or out of range). ``True``/``False`` are not numbers here."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        number = value
    else:
        text = str(value).strip()
        if not _INTEGER.fullmatch(text):
            return None
        number = int(text)
    if minimum is not None and number < minimum:
        return None
    if maximum is not None and number > maximum:
        return None
    return number


def parse_id(value: Any) -> int | None:
    """A row id (1 to :data:`MAX_ID`) from untrusted input, else None."""
    return parse_int(value, 1, MAX_ID)


def clean_search(text: Any, max_length: int = MAX_SEARCH_LENGTH) -> str:
    """Search text as the database can take it: control characters (NUL included) become
    spaces, the ends are trimmed and the rest is cut to *max_length* characters."""
    if not isinstance(text, str):
        return ""
    return _CONTROL.sub(" ", text).strip()[:max_length].strip()


def is_printable_name(text: str) -> bool:
    """Whether *text* is fit for a name: printable (``str.isprintable``) but for the
    :data:`JOINERS` words need."""
    return all(ch.isprintable() or ch in JOINERS for ch in text)


__all__ = [
    "JOINERS",
    "MAX_ID",
    "MAX_SEARCH_LENGTH",
    "clean_search",
    "is_printable_name",
    "parse_id",
    "parse_int",
]
