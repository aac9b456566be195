"""Every page a customer and an agent see, in a real browser, at 1,280 px and on a 390 px phone,
in English, Vietnamese and Persian: nothing scrolls sideways, no string of our catalogue is left
in English, and axe-core finds no accessibility violation of any impact.

Each page state is also saved as a PNG under ``docs/_static/pages/`` (not committed: CI keeps
them as artifacts; ``docs/screenshots.py --pages`` copies a few into the docs).

axe-core comes from the npm registry (``.ci/node``, installed by ``.ci/run``);
``HELPDESK_TEST_AXE`` names its ``axe.min.js`` when it lives elsewhere.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from flask_helpdesk.models import Department, Message, MessageKind, Ticket
from flask_helpdesk.services import contact_requests
from flask_helpdesk.services.base import session
from flask_helpdesk.services.reply_ratings import rating_token
from tests.untranslated import untranslated

from .conftest import log_in

ROOT = Path(__file__).resolve().parents[2]
AXE_VARIABLE = "HELPDESK_TEST_AXE"
AXE_DEFAULT = ROOT / ".ci" / "node" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ROOT / "docs" / "_static" / "pages"
WIDTHS = (1280, 390)

CUSTOMER_PAGES: list[tuple[str, str]] = [
    ("portal-list", "/support/"),
    ("portal-new", "/support/new"),
    ("portal-ticket", "ticket:Campaign stuck in review"),
    ("portal-closed", "ticket:How do I add a second user?"),
    ("portal-new-suggestions", "/support/new?q=cant+reset+passw"),
    ("help-center", "/support/help/"),
    ("help-category", "/support/help/categories/billing"),
    ("help-article", "/support/help/articles/en/refund-policy"),
    ("help-article-fa", "/support/help/articles/fa/سیاست-بازپرداخت"),
    ("help-search", "/support/help/search?q=password"),
]
AGENT_PAGES: list[tuple[str, str]] = [
    ("desk-queue", "/support/desk/"),
    ("desk-queue-filtered", "/support/desk/?status=open&priority=3&q=partnership"),
    ("desk-ticket", "desk-ticket:Reconciliation for October differs"),
    ("desk-new", "/support/desk/new?customer_q=lan"),
    ("desk-canned", "/support/desk/canned"),
    ("desk-articles", "/support/desk/articles"),
    ("desk-article-new", "/support/desk/articles/new"),
    ("desk-kb-categories", "/support/desk/articles/categories"),
    ("admin-agents", "/support/desk/admin/agents"),
    ("admin-departments", "/support/desk/admin/departments"),
    ("admin-inbound-mail", "/support/desk/inbound-mail/"),
    ("desk-api-tokens", "/support/desk/api-tokens"),
    ("admin-webhooks", "/support/desk/admin/webhooks"),
    ("desk-reports", "/support/desk/reports"),
    ("admin-rules", "/support/desk/admin/rules"),
    ("admin-rule-new", "/support/desk/admin/rules/new"),
    ("admin-house-rules", "/support/desk/admin/house-rules"),
    ("admin-sla", "/support/desk/admin/sla"),
    ("admin-sla-calendar", "sla:calendars"),
    ("admin-sla-policy", "sla:policies"),
    ("admin-sla-new-policy", "/support/desk/admin/sla/policies/new"),
]


@pytest.fixture(scope="module")
def axe_source() -> str:
    path = Path(os.environ.get(AXE_VARIABLE) or AXE_DEFAULT)
    if not path.exists():
        pytest.skip(f"set {AXE_VARIABLE} to axe-core's axe.min.js (npm install axe-core)")
    return path.read_text()


def violations(page: Page, axe_source: str) -> list[str]:
    """axe-core's violations on the page as it is now, one line each."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=axe_source)
    found = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
             .map(v => v.impact + " " + v.id + ": "
                  + v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(" | "))"""
    )
    return list(found)


def check(
    page: Page, lang: str, name: str, axe_source: str, problems: list[str], shots: Path = SHOTS
) -> None:
    """Overflow, untranslated strings and axe on the page now shown; then a screenshot."""
    width = page.viewport_size["width"]
    where = f"{lang} {width}px {name} ({page.url})"
    scroll = page.evaluate("document.documentElement.scrollWidth")
    if scroll > width:
        problems.append(f"{where}: {scroll}px wide, scrolls sideways")
    if lang != "en":
        left = untranslated(page.content(), lang)
        if left:
            problems.append(f"{where}: left in English {left}")
    problems.extend(f"{where}: axe {v}" for v in violations(page, axe_source))
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / f"{name}-{lang}-{width}.png"))


def visit(page: Page, target: str) -> None:
    """A path, or "ticket:<subject>" / "desk-ticket:<subject>": the ticket with that subject;
    "sla:calendars" / "sla:policies": the first one listed on the Service levels page."""
    if target.startswith("sla:"):
        kind = target.split(":", 1)[1]
        page.goto("/support/desk/admin/sla")
        links = page.locator(f"a[href*='/admin/sla/{kind}/']:not([href$='/new'])")
        page.goto(links.first.get_attribute("href"))
    elif ":" in target and not target.startswith("/"):
        kind, subject = target.split(":", 1)
        page.goto("/support/desk/" if kind == "desk-ticket" else "/support/")
        page.goto(page.get_by_role("link", name=subject).first.get_attribute("href"))
        expect(page.get_by_role("heading", level=1)).to_contain_text(subject)
    else:
        page.goto(target)


def walk(
    new_page: Callable[..., Page],
    email: str,
    lang: str,
    pages: list[tuple[str, str]],
    axe_source: str,
    extra: Callable[[Page, list[str]], None] | None = None,
) -> list[str]:
    problems: list[str] = []
    page = new_page()
    log_in(page, email)
    page.goto(f"/support/?lang={lang}")  # the demo's language switch, remembered
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        for name, target in pages:
            visit(page, target)
            check(page, lang, name, axe_source, problems)
        if extra is not None:
            extra(page, problems)
    return problems


def rate_reply_page(app) -> tuple[str, str]:
    """The page a reply mail's "helpful?" link opens (its token made as the mail makes it)."""
    with app.app_context():
        reply = session().scalar(
            select(Message)
            .where(Message.author_agent_id.is_not(None), Message.kind == MessageKind.REPLY)
            .join(Ticket)
            .where(Ticket.subject == "Campaign stuck in review")
        )
        return ("portal-rate-reply", f"/support/rate-reply/{rating_token(reply)}?v=good")


@pytest.mark.parametrize("lang", ["en", "vi", "fa"])
def test_customer_pages(new_page, axe_source, lang, live_server):
    pages = [*CUSTOMER_PAGES, rate_reply_page(live_server.app)]
    problems = walk(new_page, "lan@example.com", lang, pages, axe_source)
    assert not problems, "\n".join(problems)


def contact_pages(app) -> list[tuple[str, str]]:
    """The contact form's pages a visitor who is not logged in sees: the form, the page its
    mailed link opens, and that of a link that is not valid."""
    with app.app_context():
        department = session().scalar(
            select(Department).where(Department.is_active.is_(True)).order_by(Department.id)
        )
        data = contact_requests.ContactData(
            "Hoa Pham", "hoa@example.net", department.id, "I cannot log in", "No reset mail."
        )
        token = contact_requests.confirmation_token(contact_requests.submit(data))
        session().remove()  # the server's threads write to the same database
    return [
        ("help-contact", "/support/help/contact"),
        ("help-contact-confirm", f"/support/help/contact/confirm/{token}"),
        ("help-contact-invalid", "/support/help/contact/confirm/not-a-link"),
    ]


@pytest.mark.parametrize("lang", ["en", "vi", "fa"])
def test_visitor_pages(new_page, axe_source, lang, live_server):
    pages = [("help-center-visitor", "/support/help/"), *contact_pages(live_server.app)]
    problems: list[str] = []
    page = new_page()
    page.goto(f"/support/help/?lang={lang}")
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        for name, target in pages:
            visit(page, target)
            check(page, lang, name, axe_source, problems)
        # Sent empty: every field says what it needs, the honeypot stays out of sight.
        page.goto("/support/help/contact")
        page.locator(".hd-contact-form button[type=submit]").click()
        expect(page.locator(".hd-error").first).to_be_visible()
        expect(page.locator("#hd-contact-website")).not_to_be_in_viewport()
        check(page, lang, "help-contact-errors", axe_source, problems)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("lang", ["en", "vi", "fa"])
def test_agent_pages(new_page, axe_source, lang):
    def with_selection(page: Page, problems: list[str]) -> None:
        # The bulk toolbar appears only once a ticket is ticked (and is checked then too).
        page.goto("/support/desk/")
        toolbar = page.locator("#hd-bulk-toolbar")
        expect(toolbar).to_be_hidden()
        page.locator("input[name=ticket_ids]").first.check()
        expect(toolbar).to_be_visible()
        check(page, lang, "desk-queue-selected", axe_source, problems)

    problems = walk(new_page, "admin@example.com", lang, AGENT_PAGES, axe_source, with_selection)
    assert not problems, "\n".join(problems)


def test_queue_keyboard_j_k_x_and_enter(new_page):
    page = new_page()
    log_in(page, "minh@example.com")
    page.goto("/support/desk/")
    rows = page.locator("tr.hd-queue-row")
    expect(page.locator("#hd-keys")).to_be_visible()
    page.keyboard.press("j")
    expect(rows.nth(0).locator("a.hd-code")).to_be_focused()
    page.keyboard.press("j")
    expect(rows.nth(1).locator("a.hd-code")).to_be_focused()
    page.keyboard.press("k")
    expect(rows.nth(0).locator("a.hd-code")).to_be_focused()
    page.keyboard.press("x")
    expect(rows.nth(0).locator("input[name=ticket_ids]")).to_be_checked()
    expect(page.locator("#hd-bulk-toolbar")).to_be_visible()
    expect(page.locator("#hd-bulk-toolbar")).to_contain_text("1 selected")
    code = rows.nth(0).get_attribute("data-code")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(f"/tickets/{code}$"))


def test_the_checks_catch_what_they_look_for(new_page, axe_source, tmp_path):
    """The checker itself: a page with an unlabelled image, an English string on a Persian page
    and a too-wide block is reported three times."""
    page = new_page()
    page.set_viewport_size({"width": 390, "height": 600})
    page.set_content(
        '<html lang="fa"><head><title>t</title></head><body><main>'
        '<img src="data:,"><p>Close ticket</p><div style="width: 900px">wide</div>'
        "</main></body></html>"
    )
    problems: list[str] = []
    # Its screenshot goes to tmp_path, not among the pages' (CI runs the SQLite and PostgreSQL
    # suites at once: one run's copy of the tree must not see the other's file vanish).
    check(page, "fa", "checker-self-test", axe_source, problems, shots=tmp_path)
    assert (tmp_path / "checker-self-test-fa-390.png").stat().st_size > 0
    assert any("scrolls sideways" in p for p in problems), problems
    assert any("left in English ['Close ticket']" in p for p in problems), problems
    assert any("axe critical image-alt" in p for p in problems), problems
