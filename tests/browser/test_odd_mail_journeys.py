"""Odd mail in a real browser: images pasted into a mail show in the ticket, not as broken
images (the rewritten ``cid:`` addresses load through the attachment download, whose
download-only headers must not stop an ``<img>``), and an admin files a mail without any
sender address with the desk's customer picker."""

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


def test_admin_files_a_mail_without_sender_with_the_picker(new_page, live_server):
    """An SMS gateway's mail has no address; the admin types the customer's name, picks her
    from the matches shown while typing and files the mail: it becomes her ticket."""
    from tests.mail.real_mails import NO_ADDRESS_AT_ALL

    with live_server.app.app_context():
        row_id = intake.receive(NO_ADDRESS_AT_ALL, "pipe").inbound.id
        db.session.remove()

    admin = new_page()
    log_in(admin, "admin@example.com")
    admin.goto(f"/support/desk/inbound-mail/{row_id}")
    expect(admin.get_by_text("the mail has no sender address").first).to_be_visible()
    admin.get_by_label("Find a customer").press_sequentially("reza", delay=30)
    match = admin.locator("#hd-customer-matches").get_by_role("link", name="Reza Karimi")
    expect(match).to_be_visible()
    match.click()
    expect(admin.locator(".hd-requester")).to_have_text("Reza Karimi")
    admin.get_by_role("button", name="File as this customer's mail").click()
    expect(admin.get_by_role("status").filter(has_text="The mail was filed in")).to_be_visible()
    expect(admin.get_by_role("heading", level=1)).to_contain_text("SMS from +84901234567")

    customer = new_page()
    log_in(customer, "reza@example.com")
    customer.goto("/support/")
    expect(customer.get_by_role("link", name="SMS from +84901234567")).to_be_visible()
