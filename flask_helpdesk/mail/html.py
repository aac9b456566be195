"""HTML in mail: sanitized for display (through :mod:`flask_helpdesk.sanitize`, the project's
one sanitizer, in its wide "rich" form) and rendered as plain text for HTML-only mail, whose
text is what quote stripping, search and the text part of the ticket work on."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from ..sanitize import clean_html_counting, cut_too_deep


def sanitize_mail_html_counting(html: str, allow_remote_images: bool = False) -> tuple[str, int]:
    """:func:`sanitize_mail_html`, and how many remote images it removed."""
    return clean_html_counting(cut_too_deep(html), allow_remote_images, rich=True)


def sanitize_mail_html(html: str, *, allow_remote_images: bool = False) -> str:
    """Make mail HTML safe to embed in a page.

    Removes scripts, event handlers, forms, frames and styles that could load anything; keeps
    formatting, links (made ``rel="noopener noreferrer nofollow"``) and images that travel with
    the mail (``cid:``, ``data:``). Remote images are removed unless *allow_remote_images*,
    because loading them tells the sender when and where the mail was opened. Elements
    nested deeper than browsers nest them are cut off (see :func:`~..sanitize.cut_too_deep`).
    """
    return sanitize_mail_html_counting(html, allow_remote_images)[0]


class _HtmlToText(HTMLParser):
    """Render HTML as plain text: one line per block, blockquotes as ">" quoting."""

    _BLOCKS = {
        "address", "article", "aside", "blockquote", "center", "dd", "div", "dl", "dt",
        "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li",
        "main", "nav", "ol", "p", "pre", "section", "table", "tr", "ul",
    }  # fmt: skip
    _PARAGRAPHS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "blockquote"}
    _SKIP = {"script", "style", "title", "template", "noscript", "svg", "head"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.current_has_text = False  # whether "".join(current).strip(), kept as it grows
        self.quote_depth = 0
        self.skip_depth = 0
        self.pre_depth = 0
        # Each open link: its href and where its label starts in current (a piece's index:
        # joining the paragraph so far at each link made 20,000 links take six seconds).
        self.links: list[tuple[str, int]] = []

    def _prefix(self) -> str:
        return "> " * self.quote_depth

    def _flush(self, keep_empty: bool = False) -> None:
        text = "".join(self.current)
        self.current = []
        self.current_has_text = False
        rows = text.split("\n") if self.pre_depth else [text.strip()]
        for row in rows:
            if row.strip() or keep_empty:
                self.lines.append((self._prefix() + row).rstrip())

    def _paragraph_break(self) -> None:
        if self.lines and self.lines[-1].strip("> "):
            self.lines.append(self._prefix().rstrip())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            # <head> is often left unclosed; only skip it until <body> shows up.
            self.skip_depth += 1
            return
        if tag == "body" and self.skip_depth:
            self.skip_depth = 0
        if tag == "br":
            self._flush(keep_empty=True)
        elif tag in self._BLOCKS:
            self._flush()
        if tag == "blockquote":
            self.quote_depth += 1
        elif tag == "pre":
            self.pre_depth += 1
        elif tag == "li":
            self._append("- ")
        elif tag in ("td", "th") and self.current_has_text:
            self._append("  ")
        elif tag == "a":
            href = dict(attrs).get("href") or ""
            self.links.append((href, len(self.current)))
        elif tag == "hr":
            self.lines.append(self._prefix() + "---")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self.skip_depth = max(0, self.skip_depth - 1)
            return
        if tag == "a" and self.links:
            href, start = self.links.pop()
            label = "".join(self.current[start:]).strip()
            if href.lower().startswith(("http://", "https://")) and href not in label:
                self._append(f" <{href}>")
        if tag in self._BLOCKS:
            self._flush()
            if tag in self._PARAGRAPHS:
                self._paragraph_break()
        if tag == "blockquote":
            self.quote_depth = max(0, self.quote_depth - 1)
        elif tag == "pre":
            self.pre_depth = max(0, self.pre_depth - 1)

    def handle_data(self, data: str) -> None:
        if self.skip_depth:
            return
        data = data.replace("\xa0", " ")
        if not self.pre_depth:
            data = re.sub(r"\s+", " ", data)
        self._append(data)

    def _append(self, piece: str) -> None:
        self.current.append(piece)
        if not self.current_has_text and piece.strip():
            self.current_has_text = True

    def text(self) -> str:
        self._flush()
        # Collapse runs of empty (or empty quoted) lines to one.
        out: list[str] = []
        for line in self.lines:
            if not line.strip("> ") and out and not out[-1].strip("> "):
                continue
            out.append(line)
        while out and not out[-1].strip("> "):
            out.pop()
        while out and not out[0].strip("> "):
            out.pop(0)
        return "\n".join(out)


def html_to_text(html: str) -> str:
    """Plain-text rendering of *html* for HTML-only mail: used for quote stripping and search."""
    parser = _HtmlToText()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # HTMLParser is lenient, but never let a body break intake
        pass
    return parser.text()
