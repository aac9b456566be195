"""A real browser against a live demo host: Playwright drives the Chromium named by
HELPDESK_TEST_BROWSER (Debian's package in CI; Playwright never downloads a browser here).

The site is the test app of ``tests/conftest.py`` (same factory, same database: the SQLite file
or HELPDESK_TEST_DATABASE_URL), served by werkzeug from a thread on a free port, filled with the
demo data ``flask helpdesk seed-demo`` creates, so the journeys see what a visitor of the demo sees.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask
from werkzeug.serving import make_server

from example_app import DEMO_PASSWORD
from example_app.models import db
from flask_helpdesk.services.demo import seed_demo

BROWSER_VARIABLE = "HELPDESK_TEST_BROWSER"

# The journeys wait for pages, never for fixed times; this caps one wait when something is wrong.
TIMEOUT_MS = 10_000


# Package scope: Chromium and Playwright's event loop stop when the browser tests are done, so
# the rest of the run (asyncio mail servers) never shares the process with them.
@pytest.fixture(scope="package")
def browser():
    executable = os.environ.get(BROWSER_VARIABLE)
    if not executable:
        pytest.skip(f"set {BROWSER_VARIABLE} to a Chromium binary")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class LiveServer:
    app: Flask
    url: str  # http://127.0.0.1:<port>, also the base URL of every page new_page opens


@pytest.fixture
def live_server(app: Flask) -> Iterator[LiveServer]:
    """The test app on 127.0.0.1:<free port>, seeded with the demo data."""
    seed_demo()
    db.session.commit()
    # The server thread uses its own sessions; this thread must not hold a transaction open
    # (SQLite would lock the file against the server's writes).
    db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(app, f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()
        db.session.remove()


@pytest.fixture
def new_page(browser, live_server: LiveServer):
    """Open a page in a fresh browser context (own cookies: one person per context)."""
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    contexts = []

    def open_page(locale: str = "en-US"):
        context = browser.new_context(
            base_url=live_server.url, locale=locale, viewport={"width": 1280, "height": 800}
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def log_in(page, email: str, password: str = DEMO_PASSWORD) -> None:
    """Log in through the demo host's own login form, as a visitor does."""
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/$"))


def open_avatar_menu(page, name: str) -> None:
    """Unfold the host's avatar menu (a <details> whose summary shows the user's name)."""
    page.locator("summary", has_text=name).click()
