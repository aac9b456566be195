"""The customer's way through the demo site in a real browser: avatar menu with the unread
badge, a new support request with a file, the list, a reply, closing and rating."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .conftest import log_in, open_avatar_menu


def test_customer_opens_replies_closes_and_rates(new_page, tmp_path):
    page = new_page()
    log_in(page, "lan@example.com")

    # The avatar menu leads to "Support requests"; its badge counts the tickets with an agent
    # reply Lan has not read, the same ones the list marks "New reply".
    open_avatar_menu(page, "Lan Nguyen")
    badge = page.get_by_title("Unread replies")
    expect(badge).to_be_visible()
    unread = int(badge.inner_text())
    assert unread >= 1
    page.get_by_role("link", name=re.compile("^Support requests")).click()
    expect(page.get_by_role("heading", name="Support requests")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="New reply")).to_have_count(unread)

    # Reading one of them takes it off the badge.
    page.get_by_role("row").filter(has_text="New reply").first.get_by_role("link").first.click()
    expect(page.get_by_role("status").filter(has_text="Support has replied")).to_be_visible()
    page.goto("/")
    open_avatar_menu(page, "Lan Nguyen")
    if unread == 1:
        expect(page.get_by_title("Unread replies")).to_have_count(0)
    else:
        expect(page.get_by_title("Unread replies")).to_have_text(str(unread - 1))

    # A new request with a real file from disk.
    screenshot = tmp_path / "error screen.png"
    screenshot.write_bytes(PNG_1X1)
    page.get_by_role("link", name=re.compile("^Support requests")).click()
    page.get_by_role("link", name="+ Support request").click()
    page.get_by_label("Department").select_option(label="Reports")
    page.get_by_label("Subject").fill("Dashboard shows yesterday's numbers")
    page.get_by_label("Priority").select_option(label="High")
    page.get_by_label("Message").fill("Since Monday the dashboard is one day behind.")
    page.get_by_label("Attachments").set_input_files(screenshot)
    page.get_by_role("button", name="Send").click()

    flash = page.get_by_role("status").filter(has_text="was sent")
    expect(flash).to_have_text(re.compile(r"Your support request HD-[A-Z0-9]+ was sent\."))
    code = re.search(r"HD-[A-Z0-9]+", flash.inner_text()).group(0)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Dashboard shows yesterday")
    thread = page.get_by_role("region", name="Messages")
    expect(thread).to_contain_text("Since Monday the dashboard is one day behind.")
    # The file came through whole: download it back and compare the bytes.
    with page.expect_download() as download:
        thread.get_by_role("link", name="error screen.png").click()
    saved = download.value.path()
    assert download.value.suggested_filename == "error screen.png"
    assert saved is not None and saved.read_bytes() == PNG_1X1

    # It is in the list, found by its code.
    page.locator(".helpdesk").get_by_role("link", name="Support requests", exact=True).click()
    page.get_by_role("searchbox").fill(code)
    page.get_by_role("button", name="Search").click()
    rows = page.get_by_role("row").filter(has_text=code)
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("Dashboard shows yesterday's numbers")
    expect(rows).to_contain_text("Open")
    rows.get_by_role("link", name=code).click()

    # Reply.
    page.get_by_label("Your reply").fill("It started after the time zone change.")
    page.get_by_role("button", name="Send reply").click()
    expect(page.get_by_role("status").filter(has_text="Your reply was sent.")).to_be_visible()
    expect(thread).to_contain_text("It started after the time zone change.")

    # Close, then rate: the rating form only appears once the ticket is closed.
    expect(page.get_by_role("heading", name="Rate this support")).to_have_count(0)
    page.get_by_role("button", name="Close ticket").click()
    expect(page.get_by_role("status").filter(has_text="The ticket was closed.")).to_be_visible()
    expect(page.locator("header.hd-ticket-head")).to_contain_text("Closed")
    expect(page.get_by_role("button", name="Close ticket")).to_have_count(0)

    # Click the fourth star as a person does (the radio button itself is visually hidden).
    page.get_by_title("4 stars").click()
    expect(page.get_by_role("radio", name="4 stars")).to_be_checked()
    page.get_by_label("Comment").fill("Fast answer.")
    page.get_by_role("button", name="Send rating").click()
    expect(page.get_by_role("status").filter(has_text="Thank you for your rating.")).to_be_visible()
    expect(page.get_by_role("heading", name="Your rating")).to_be_visible()
    expect(page.get_by_role("img", name="4 of 5 stars")).to_be_visible()
    expect(page.get_by_text("Fast answer.")).to_be_visible()
    expect(page.get_by_role("button", name="Send rating")).to_have_count(0)


# The smallest valid PNG (1×1, transparent): a real image file, not text named .png.
PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
