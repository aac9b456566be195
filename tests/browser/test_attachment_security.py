"""Attachments in a real browser: an uploaded HTML or SVG file is never a page of the site.

Opening an attachment's address (a link opened in a tab, a link someone sent) must start a
download: if the browser rendered the file instead, its script would run on the helpdesk's
origin with the reader's session. The script here sets a cookie, so it would show if it ran.
"""

from __future__ import annotations

import re

from flask import url_for
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from .conftest import log_in

PAYLOAD = "document.cookie = 'pwned=1; path=/'"
FILES = {
    "invoice.html": f"<!doctype html><title>pwned</title><script>{PAYLOAD}</script>".encode(),
    "logo.svg": (
        '<svg xmlns="http://www.w3.org/2000/svg" onload="' + PAYLOAD + '">'
        "<script>" + PAYLOAD + "</script></svg>"
    ).encode(),
}
SUBJECT = "Files from our designer"


def send_request_with_files(page, paths) -> None:
    page.goto("/support/new")
    page.get_by_label("Department").select_option(label="Reports")
    page.get_by_label("Subject").fill(SUBJECT)
    page.get_by_label("Message").fill("The invoice page and our logo are attached.")
    page.get_by_label("Attachments").set_input_files(paths)
    page.get_by_role("button", name="Send").click()


def open_address_of(page, link) -> None:
    """Go to where *link* points, as a new tab or a pasted address would (the link's own
    ``download`` attribute is bypassed: only the server's headers decide)."""
    href = link.get_attribute("href")
    assert href
    title = page.title()
    with page.expect_download() as download:
        try:
            page.goto(href)
        except PlaywrightError as error:  # Chromium reports a navigation that became a download
            assert "Download is starting" in str(error), error
    name = link.inner_text()
    assert download.value.suggested_filename == name
    path = download.value.path()
    assert path is not None and path.read_bytes() == FILES[name]
    assert page.title() == title, "the file replaced the page"

    response = page.request.get(href)
    assert response.status == 200
    assert response.headers["content-disposition"].startswith("attachment")
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["x-content-type-options"] == "nosniff"
    # Even a browser that ignored all that would run the file without scripts, as a sandbox.
    assert "sandbox" in response.headers["content-security-policy"]


def no_script_ran(page) -> None:
    assert "pwned" not in {cookie["name"] for cookie in page.context.cookies()}


def test_html_and_svg_attachments_download_and_never_render(new_page, live_server, tmp_path):
    paths = []
    for name, content in FILES.items():
        (tmp_path / name).write_bytes(content)
        paths.append(tmp_path / name)

    # Out of the box such files are refused with a clear error, and nothing is created.
    customer = new_page()
    log_in(customer, "lan@example.com")
    send_request_with_files(customer, paths)
    expect(customer.get_by_role("alert").first).to_contain_text("this file type is not allowed")
    expect(customer.get_by_role("heading", level=1)).to_have_text("New support request")
    customer.goto("/support/?q=designer")
    expect(customer.get_by_text("No support request matches.")).to_be_visible()

    # A host may allow them (designers send SVG, mail brings HTML): they still only download.
    config = live_server.app.extensions["helpdesk"].config
    config["HELPDESK_ATTACHMENT_EXTENSIONS"] = config["HELPDESK_ATTACHMENT_EXTENSIONS"] | {
        "html",
        "svg",
    }
    send_request_with_files(customer, paths)
    sent = customer.get_by_role("status").filter(has_text="was sent")
    expect(sent).to_be_visible()
    code = re.search(r"HD-[A-Z0-9]+", sent.inner_text()).group(0)
    thread = customer.get_by_role("region", name="Messages")
    for name in FILES:
        open_address_of(customer, thread.get_by_role("link", name=name))
    no_script_ran(customer)

    # The agent opening them from the desk is the bigger prize for an attacker: same rules.
    agent = new_page()
    log_in(agent, "minh@example.com")
    with live_server.app.test_request_context():
        agent.goto(url_for("helpdesk_desk.ticket", code=code))
    desk_thread = agent.get_by_role("region", name="Messages")
    for name in FILES:
        open_address_of(agent, desk_thread.get_by_role("link", name=name))
    no_script_ran(agent)
