"""Find strings of the helpdesk's catalogue left in English on a page in another language.

Shared by the page tests and the browser journeys. A string counts as left in English when a
whole piece of visible text (a text node, or a title/placeholder/aria-label) is one of our
msgids whose translation differs from it, or when a text node matches a msgid of three words or
more with its placeholders filled in ("Lan Nguyen closed the ticket.").
"""

from __future__ import annotations

import functools
import re
from html.parser import HTMLParser
from pathlib import Path

from babel.messages.pofile import read_po

TRANSLATIONS = Path(__file__).resolve().parent.parent / "flask_helpdesk" / "translations"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]")
ATTRIBUTES = ("title", "placeholder", "aria-label", "alt")
SKIPPED_TAGS = {"script", "style", "code", "textarea"}


@functools.cache
def _catalogue(lang: str) -> tuple[frozenset[str], tuple[re.Pattern[str], ...]]:
    with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale=lang)
    exact, patterns = set(), []
    for message in catalog:
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        for msgid in ids:
            if not msgid or msgid in strings:
                continue  # "KB", "Email" in Vietnamese: the same word, not a miss
            if not PLACEHOLDER.search(msgid):
                exact.add(msgid)
            elif len(PLACEHOLDER.sub("", msgid).split()) >= 3:
                parts = [re.escape(p) for p in PLACEHOLDER.split(msgid)]
                patterns.append(re.compile("^" + ".+?".join(parts) + "$", re.S))
    return frozenset(exact), tuple(patterns)


class _Texts(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in SKIPPED_TAGS:
            self._skip += 1
        for name, value in attrs:
            if name in ATTRIBUTES and value:
                self.texts.append(value)

    def handle_endtag(self, tag):
        if tag in SKIPPED_TAGS and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.texts.append(data)


def untranslated(html: str, lang: str, ignore: tuple[str, ...] = ()) -> list[str]:
    """The catalogue strings shown in English on *html*, a page in *lang* (vi or fa)."""
    exact, patterns = _catalogue(lang)
    parser = _Texts()
    parser.feed(html)
    found = []
    for raw in parser.texts:
        text = " ".join(raw.split()).strip(" :·+×")
        if not text or text in ignore:
            continue
        if text in exact or any(p.match(text) for p in patterns):
            found.append(text)
    return sorted(set(found))
