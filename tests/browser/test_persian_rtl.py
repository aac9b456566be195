"""Persian reads right to left: with a Persian browser the page says dir="rtl" and the layout
really is mirrored (measured in Chromium, compared with the same page in English)."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import force_locale
from playwright.sync_api import expect

from flask_helpdesk.i18n import gettext

from .conftest import log_in, open_avatar_menu


@dataclass
class Layout:
    """Where things are on the "Support requests" page, as x coordinates of their centres."""

    width: float
    site_name: float
    avatar: float
    badge: float
    badge_text_start: float  # where the menu entry's words begin (left edge in LTR, right in RTL)
    heading: float
    new_button: float
    first_column: float
    second_column: float


# Helpdesk words the test looks for, in English; the Persian comes from the shipped catalogue.
WORDS = ("Support requests", "Support request", "Unread replies")


def centre(locator) -> float:
    box = locator.bounding_box()
    assert box is not None, f"{locator} is not displayed"
    return box["x"] + box["width"] / 2


def measure(page, words: dict[str, str], name: str = "Lan Nguyen") -> Layout:
    open_avatar_menu(page, name)
    badge = page.get_by_title(words["Unread replies"])
    expect(badge).to_be_visible()
    entry = page.locator("a", has=badge)
    # The words of the menu entry (its first text node), measured with a DOM range.
    text_box = entry.evaluate(
        """a => { const r = document.createRange(); r.selectNodeContents(a.firstChild);
                  const b = r.getBoundingClientRect(); return [b.left, b.right]; }"""
    )
    rtl = page.locator("html").get_attribute("dir") == "rtl"
    headers = page.get_by_role("columnheader")
    return Layout(
        width=page.viewport_size["width"],
        site_name=centre(page.get_by_role("link", name="Demo Shop")),
        avatar=centre(page.locator("summary", has_text=name)),
        badge=centre(badge),
        badge_text_start=text_box[1] if rtl else text_box[0],
        heading=centre(page.get_by_role("heading", level=1)),
        new_button=centre(page.get_by_role("link", name="+ " + words["Support request"])),
        first_column=centre(headers.nth(0)),
        second_column=centre(headers.nth(1)),
    )


def test_persian_page_is_right_to_left_and_mirrored(new_page, live_server):
    app = live_server.app
    english_words = {text: text for text in WORDS}
    with app.test_request_context(), force_locale("fa"):
        persian_words = {text: gettext(text) for text in WORDS}
    assert persian_words != english_words, "the Persian catalogue lost its translations"

    english = new_page(locale="en-US")
    log_in(english, "lan@example.com")
    english.goto("/support/")
    expect(english.locator("html")).to_have_attribute("dir", "ltr")
    expect(english.get_by_role("heading", level=1)).to_have_text("Support requests")
    ltr = measure(english, english_words)

    # A Persian browser (Accept-Language: fa-IR) gets the page in Persian, right to left.
    persian = new_page(locale="fa-IR")
    log_in(persian, "lan@example.com")
    persian.goto("/support/")
    expect(persian.locator("html")).to_have_attribute("dir", "rtl")
    expect(persian.locator("html")).to_have_attribute("lang", "fa")
    expect(persian.locator(".helpdesk")).to_have_attribute("dir", "rtl")
    expect(persian.get_by_role("heading", level=1)).to_have_text(persian_words["Support requests"])
    rtl = measure(persian, persian_words)

    half = ltr.width / 2
    # English: site name left, avatar menu and its badge right; the badge after the words.
    assert ltr.site_name < half < ltr.avatar, ltr
    assert ltr.badge > half, ltr
    assert ltr.badge > ltr.badge_text_start, ltr
    assert ltr.heading < ltr.new_button, ltr
    assert ltr.first_column < ltr.second_column, ltr
    # Persian: all of it mirrored.
    assert rtl.avatar < half < rtl.site_name, rtl
    assert rtl.badge < half, rtl
    assert rtl.badge < rtl.badge_text_start, rtl
    assert rtl.heading > rtl.new_button, rtl
    assert rtl.first_column > rtl.second_column, rtl
