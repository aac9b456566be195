"""Images pasted into a mail show in the ticket in a real browser, not as broken images: the
rewritten ``cid:`` addresses load through the attachment download (whose download-only headers
must not stop an ``<img>``), for the agent and for the customer."""

from __future__ import annotations

from playwright.sync_api import expect

from example_app.models import db
from flask_helpdesk.services import intake
from tests.mail.real_mails import OUTLOOK_INLINE_IMAGES

from .conftest import log_in


def _shown_images(page) -> list[int]:
    """The natural width of each image in the messages (0: the browser could not show it)."""
    body = page.locator(".hd-message-body img[src]")
    expect(body.first).to_be_visible()
    return body.evaluate_all(
        "imgs => Promise.all(imgs.map(i => i.decode().then(() => i.naturalWidth, () => 0)))"
    )


def test_inline_images_of_a_mail_show_for_agent_and_customer(new_page, live_server):
    with live_server.app.app_context():
        row = intake.receive(OUTLOOK_INLINE_IMAGES, "pipe").inbound
        code = row.ticket.code
        db.session.remove()

    admin = new_page()
    log_in(admin, "admin@example.com")
    admin.goto(f"/support/desk/tickets/{code}")
    assert _shown_images(admin) == [1, 1]  # both pasted images; the unknown cid: is dropped

    customer = new_page()
    log_in(customer, "lan@example.com")
    customer.goto(f"/support/tickets/{code}")
    assert _shown_images(customer) == [1, 1]
