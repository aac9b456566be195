"""Markdown as agents write it in knowledge-base articles, turned into safe HTML and plain text.

markdown-it-py (CommonMark, plus tables and strikethrough) with raw HTML switched off: what an
agent types as ``<script>`` is shown as text, never run. The result still goes through the one
sanitizer (:mod:`flask_helpdesk.sanitize`) when it is stored and again when it is shown.

Images may name a file uploaded to the article (``![Screen](screen.png)``): they are
written as ``cid:`` references, which the sanitizer turns into the file's download URL when the
page is shown (the URLs depend on where the helpdesk is mounted, so they are not stored).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from html import unescape

import nh3
from markdown_it import MarkdownIt

from .sanitize import clean_html

_parser = (
    MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    .enable("table")
    .enable("strikethrough")
)
_WHITESPACE = re.compile(r"\s+")


def markdown_to_html(source: str, file_names: Iterable[str] = ()) -> str:
    """Sanitized HTML of *source*; references to *file_names* become ``cid:`` references."""
    names = {name.lower() for name in file_names}
    tokens = _parser.parse(source)
    for token in tokens:
        for child in token.children or ():
            if child.type != "image":
                continue
            target = str(child.attrGet("src") or "")
            if target.lower() in names:
                child.attrSet("src", f"cid:{target}")
    return clean_html(_parser.renderer.render(tokens, _parser.options, {}))


def html_to_text(html: str) -> str:
    """The words of *html*, for the search index and for snippets."""
    # A space before every tag: "<p>a</p><p>b</p>" is two words, not "ab".
    text = nh3.clean(html.replace("<", " <"), tags=set(), clean_content_tags={"script", "style"})
    return _WHITESPACE.sub(" ", unescape(text)).strip()


def snippet(text: str, length: int = 180) -> str:
    """The start of *text*, cut at a word boundary."""
    if len(text) <= length:
        return text
    cut = text[:length].rsplit(" ", 1)[0]
    return cut + "…"


# A slug keeps letters and digits of every script (Vietnamese, Persian), lowercased; the rest
# becomes single hyphens. Zero-width joiners (Persian's ZWNJ) vanish instead of splitting a word.
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200c\u200d\u200b\ufeff"))
SLUG_MAX = 120


def slugify(title: str) -> str:
    """A URL path segment from *title*: ``"Đặt lại mật khẩu"`` → ``"đặt-lại-mật-khẩu"``.

    NFC-normalized (a title pasted in decomposed form gets the same slug), never empty (the
    caller gives a fallback when this returns ``""``), never longer than :data:`SLUG_MAX`.
    """
    text = unicodedata.normalize("NFC", title).translate(_ZERO_WIDTH).lower()
    words: list[str] = []
    current: list[str] = []
    for char in text:
        category = unicodedata.category(char)
        if category[0] in "LN" or (category == "Mn" and current):
            current.append(char)
        elif current:
            words.append("".join(current))
            current = []
    if current:
        words.append("".join(current))
    slug = "-".join(words)
    if len(slug) > SLUG_MAX:
        slug = slug[:SLUG_MAX].rsplit("-", 1)[0] if "-" in slug[:SLUG_MAX] else slug[:SLUG_MAX]
    return slug.strip("-")
