"""Take the screenshots of docs/account-access.rst and docs/email.rst in a real browser
(``--pages``: copy those of docs/screens.rst from the browser suite's output; ``--sla``: those
of docs/sla.rst).

    python docs/screenshots.py                      # Chromium at /usr/bin/chromium
    python docs/screenshots.py --browser /path/to/chromium --out docs/_static

Builds the demo host (``example_app``) on a throwaway SQLite database, fills it with
``flask helpdesk seed-demo``'s data, serves it from a thread and walks Chromium, driven by
Playwright, through the consent flow: the agent asks, the customer accepts, the agent acts as the
customer and stops, the customer reads the log. Playwright launches the given Chromium binary; it
never downloads one. ``tests/browser/test_access_journey.py`` runs the same :func:`journey`, so the
pictures in the docs show what the suite checks.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout: the demo host and the package

from flask import Flask  # noqa: E402
from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from example_app import DEMO_PASSWORD, create_app  # noqa: E402
from example_app.models import db  # noqa: E402

REASON = "I need to see what happens when you save a new email on your profile page."
TICKET_SUBJECT = "Cannot change my account email"  # a ticket of Lan's in the demo data
VIEWPORT = {"width": 1200, "height": 760}


def demo_app(folder: Path) -> Flask:
    """The demo host on a fresh SQLite file in *folder*, seeded like ``example_app/run``."""
    from flask_helpdesk.services.demo import seed_demo

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'demo.sqlite'}",
            "HELPDESK_STORAGE_PATH": str(folder / "files"),
            "HELPDESK_REDIS_URL": None,
        }
    )
    with app.app_context():
        db.create_all()
        app.extensions["helpdesk"].create_all()
        seed_demo()
        db.session.remove()
    return app


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """Serve *app* on 127.0.0.1:<free port> from a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="docs-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


def log_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/$"))


def journey(browser: Browser, base_url: str, shoot: Callable[[Page, str, str | None], None]):
    """The consent flow in two browser contexts (two people); ``shoot(page, name, selector)``
    is called where the docs show a picture. Returns the ticket code."""
    contexts = [
        browser.new_context(base_url=base_url, viewport=VIEWPORT, locale="en-US") for _ in range(2)
    ]
    agent, customer = (context.new_page() for context in contexts)
    try:
        # The agent asks from the ticket's workspace in the desk.
        log_in(agent, "minh@example.com")
        agent.goto("/support/desk/")
        agent.get_by_role("link", name=TICKET_SUBJECT).first.click()
        code = re.search(r"/tickets/(HD-\w+)", agent.url).group(1)
        panel = agent.locator("#access")
        panel.get_by_label("Why do you need access?").fill(REASON)
        panel.get_by_label("Access", exact=True).select_option("act")
        panel.get_by_label("For how many hours").fill("24")
        panel.get_by_role("button", name="Ask for access").click()
        expect(agent.locator("#access")).to_contain_text("Waiting for the customer's answer")
        shoot(agent, "access-request", "#access")

        # The customer sees the request on the portal's first page and accepts it.
        log_in(customer, "lan@example.com")
        customer.goto("/support/")
        prompt = customer.locator(".hd-access-prompts")
        expect(prompt).to_contain_text("Support asks for access to your account")
        expect(prompt).to_contain_text(REASON)
        shoot(customer, "access-consent", ".hd-access-prompts")
        prompt.get_by_role("button", name="Accept").click()
        expect(customer.locator("#access")).to_contain_text("Accepted")

        # The agent starts a session as the customer: the banner on every page.
        agent.reload()
        agent.get_by_role("button", name="Start session as customer").click()
        banner = agent.locator(".hd-acting-banner")
        expect(banner).to_contain_text("Minh Tran is acting as Lan Nguyen")
        shoot(agent, "access-banner", None)

        # What the host marked never allowed is refused, with a page that says why.
        agent.goto("/account/password")
        expect(agent.get_by_role("heading", level=1)).to_have_text(
            "Not allowed while acting as the customer"
        )
        shoot(agent, "access-refused", None)
        agent.get_by_role("button", name="Stop acting as the customer").click()
        expect(agent.locator(".hd-acting-banner")).to_have_count(0)
        expect(agent.locator("#access")).to_contain_text("Requests made as the customer")

        # The customer reads everything that was done in her account.
        customer.goto(f"/support/tickets/{code}")  # (only a new #fragment would not reload)
        log = customer.locator(".hd-access-log")
        expect(log).to_contain_text("Refused: change password")
        shoot(customer, "access-log", "#access")
        return code
    finally:
        for context in contexts:
            context.close()


def _reject_policy(name: str, timeout: float) -> bytes | None:
    """The demo's DNS: example.com publishes a strict DMARC policy and no DKIM key."""
    return b"v=DMARC1; p=reject" if name.rstrip(".") == "_dmarc.example.com" else None


def held_mail(app: Flask, browser: Browser, base_url: str, shoot) -> None:
    """A mail forged in Lan's name answering her ticket is held; Minh sees it on the ticket
    (docs/email.rst), in English and in Persian."""
    from flask_helpdesk.services import intake
    from tests.mail.mails import make_mail

    app.extensions["helpdesk"].config["HELPDESK_MAIL_DNS_RESOLVER"] = _reject_policy
    with app.app_context():
        from flask_helpdesk.models import Ticket

        code = db.session.scalar(db.select(Ticket.code).where(Ticket.subject == TICKET_SUBJECT))
        forged = make_mail(
            subject=f"Re: [{code}] {TICKET_SUBJECT}",
            body="Please send the refund to my new bank account instead.",
        )
        intake.receive(forged, "webhook")
        db.session.remove()
    for locale in ("en-US", "fa-IR"):
        context = browser.new_context(base_url=base_url, viewport=VIEWPORT, locale=locale)
        page = context.new_page()
        try:
            log_in(page, "minh@example.com")
            page.goto(f"/support/desk/tickets/{code}?lang={locale[:2]}")
            expect(page.locator(".hd-held-mail")).to_be_visible()
            shoot(page, f"held-mail-{locale[:2]}", ".hd-held-mail")
        finally:
            context.close()


def sender_badges(app: Flask, browser: Browser, base_url: str, shoot) -> None:
    """Two mails answering Lan's ticket: one her domain signed (verified), one forged and
    posted anyway under the ``off`` policy (failed); Minh sees a badge on each (docs/email.rst),
    in English and in Persian, the failed one opened to show its reason."""
    from flask_helpdesk.services import intake
    from tests.mail.mails import make_mail
    from tests.mail.senders import FakeDns, key_record, signed

    config = app.extensions["helpdesk"].config
    config["HELPDESK_MAIL_DNS_RESOLVER"] = FakeDns(
        {"s1._domainkey.example.com": key_record(), "_dmarc.example.com": "v=DMARC1; p=reject"}
    )
    config["HELPDESK_MAIL_SENDER_POLICY"] = "off"
    with app.app_context():
        from flask_helpdesk.models import Ticket

        subject = "Invoice address"
        intake.receive(signed(make_mail(subject=subject, body="Please fix my invoice.")), "pipe")
        code = db.session.scalar(db.select(Ticket.code).where(Ticket.subject == subject))
        forged = make_mail(subject=f"Re: [{code}] {subject}", body="Send it to my new IBAN.")
        intake.receive(forged, "webhook")
        db.session.remove()
    for locale in ("en-US", "fa-IR"):
        context = browser.new_context(base_url=base_url, viewport=VIEWPORT, locale=locale)
        page = context.new_page()
        try:
            log_in(page, "minh@example.com")
            page.goto(f"/support/desk/tickets/{code}?lang={locale[:2]}")
            failed = page.locator('[data-sender="failed"]').first
            expect(failed).to_be_visible()
            failed.locator("summary").click()
            shoot(page, f"sender-badges-{locale[:2]}", ".hd-thread")
        finally:
            context.close()


def screenshot_saver(folder: Path) -> Callable[[Page, str, str | None], None]:
    folder.mkdir(parents=True, exist_ok=True)

    def shoot(page: Page, name: str, selector: str | None) -> None:
        target = page.locator(selector) if selector else page
        target.screenshot(path=str(folder / f"{name}.png"), animations="disabled")

    return shoot


# The pages docs/screens.rst shows, picked from what tests/browser/test_every_page.py saves in
# _static/pages/ (every page, three languages, two widths) and copied to _static/screens/.
GALLERY = [
    "desk-queue-en-1280",
    "desk-ticket-vi-1280",
    "desk-queue-fa-390",
    "portal-list-vi-390",
    "portal-ticket-fa-390",
    "portal-new-en-1280",
    "desk-reports-en-1280",
    "desk-reports-fa-390",
    "help-center-en-1280",
    "help-article-fa-fa-390",
    "portal-new-suggestions-en-1280",
    "desk-articles-en-1280",
]


def copy_gallery(source: Path = HERE / "_static" / "pages") -> None:
    """Copy the browser suite's screenshots of GALLERY into _static/screens/."""
    target = HERE / "_static" / "screens"
    target.mkdir(exist_ok=True)
    for name in GALLERY:
        (target / f"{name}.png").write_bytes((source / f"{name}.png").read_bytes())
    print(f"{len(GALLERY)} screenshots copied to {target}")


# docs/sla.rst: the SLA admin pages and the queue's due badges, whole pages, English and
# Persian, at 1280 and 390 px; each language with a browser in a zone of its own (the pages
# write times in the reader's zone once zone.js has told it).
SLA_ZONES = {"en": "Europe/Berlin", "fa": "Asia/Tehran"}
SLA_PAGES = [
    ("queue", "/support/desk/?sort=due"),
    ("overview", "/support/desk/admin/sla"),
    ("calendar", "calendars"),
    ("policy", "policies"),
]


def sla_pages(browser: Browser, base_url: str, folder: Path) -> None:
    """Save sla-<page>-<lang>-<width>.png of SLA_PAGES into *folder*."""
    folder.mkdir(parents=True, exist_ok=True)
    for lang, zone in SLA_ZONES.items():
        for width in (1280, 390):
            context = browser.new_context(
                base_url=base_url, viewport={"width": width, "height": 800}, timezone_id=zone
            )
            page = context.new_page()
            try:
                log_in(page, "admin@example.com")
                page.goto(f"/support/desk/?lang={lang}")  # also stores the browser's zone
                for name, target in SLA_PAGES:
                    if not target.startswith("/"):  # the first calendar or policy listed
                        page.goto("/support/desk/admin/sla")
                        links = page.locator(f"a[href*='/admin/sla/{target}/']:not([href$='/new'])")
                        target = links.first.get_attribute("href")
                    page.goto(target)
                    path = folder / f"sla-{name}-{lang}-{width}.png"
                    page.screenshot(path=str(path), full_page=True, animations="disabled")
            finally:
                context.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--browser", default="/usr/bin/chromium", help="Chromium binary")
    parser.add_argument("--out", default=str(HERE / "_static"), help="folder for the PNGs")
    parser.add_argument(
        "--pages",
        action="store_true",
        help="copy the browser suite's page screenshots (run tests/browser first) for screens.rst",
    )
    parser.add_argument(
        "--sla", action="store_true", help="the SLA pages of docs/sla.rst, not the consent flow"
    )
    parser.add_argument(
        "--badges", action="store_true", help="only the sender badges of docs/email.rst"
    )
    args = parser.parse_args(argv)
    if args.pages:
        copy_gallery()
        return
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        app = demo_app(Path(folder))
        browser = playwright.chromium.launch(executable_path=args.browser)
        try:
            with serve(app) as url:
                if args.sla:
                    sla_pages(browser, url, Path(args.out) / "sla")
                elif args.badges:
                    sender_badges(app, browser, url, screenshot_saver(Path(args.out)))
                else:
                    journey(browser, url, screenshot_saver(Path(args.out)))
                    held_mail(app, browser, url, screenshot_saver(Path(args.out)))
                    sender_badges(app, browser, url, screenshot_saver(Path(args.out)))
        finally:
            browser.close()
            with app.app_context():
                db.engine.dispose()
    print(f"screenshots saved in {args.out}")


if __name__ == "__main__":
    main()
