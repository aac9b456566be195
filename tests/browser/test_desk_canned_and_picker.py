"""The desk's small scripts in a real browser: a canned reply goes into the reply box at the
cursor with its placeholders filled, and the customer picker lists matches while typing."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .conftest import log_in

SUBJECT = "Cannot change my account email"  # a demo ticket of Lan's in Minh's department


def test_canned_reply_is_inserted_at_the_cursor(new_page):
    agent = new_page()
    log_in(agent, "minh@example.com")
    agent.goto("/support/desk/canned")
    agent.get_by_label("Title").fill("Greeting")
    agent.get_by_label("Text").fill("Hello {customer_name}, about {ticket_code}.")
    agent.get_by_role("button", name="Save").click()
    expect(agent.get_by_role("status").filter(has_text="Canned reply saved.")).to_be_visible()

    agent.goto("/support/desk/")
    agent.get_by_role("link", name=SUBJECT).click()
    code = re.search(r"/tickets/([A-Z0-9-]+)", agent.url).group(1)
    box = agent.get_by_label("Your reply")
    box.fill("Hi!\n\nRegards, Minh")
    box.evaluate("el => el.setSelectionRange(5, 5)")  # cursor before the signature
    # With the script, choosing is enough: the no-JS "Insert" button is hidden.
    expect(agent.get_by_role("button", name="Insert")).to_be_hidden()
    agent.get_by_label("Canned reply").select_option(label="Greeting")
    expect(box).to_have_value(f"Hi!\n\nHello Lan Nguyen, about {code}.Regards, Minh")
    expect(agent.get_by_label("Canned reply")).to_have_value("")


def test_customer_picker_lists_matches_while_typing(new_page):
    agent = new_page()
    log_in(agent, "minh@example.com")
    agent.goto("/support/desk/new")
    agent.get_by_label("Find a customer").press_sequentially("reza", delay=30)
    match = agent.get_by_role("link", name="Reza Karimi")
    expect(match).to_be_visible()  # no form submitted: the page is still the empty picker
    assert "customer_q" not in agent.url
    match.click()
    expect(agent.locator(".hd-requester")).to_have_text("Reza Karimi")
    expect(agent.get_by_label("Send to user")).to_be_checked()


def test_article_link_is_inserted_at_the_cursor_and_the_draft_stays(new_page):
    agent = new_page()
    log_in(agent, "minh@example.com")
    agent.goto("/support/desk/")
    agent.get_by_role("link", name=SUBJECT).click()
    box = agent.get_by_label("Your reply")
    box.fill("Hi!\n\nRegards, Minh")
    agent.locator("#hd-kb-picker summary").click()
    agent.get_by_label("Search the help center").fill("refund")
    agent.get_by_role("button", name="Find an article").click()
    insert = agent.get_by_role("button", name="Insert the link to Refund policy into the reply")
    expect(insert).to_be_visible()  # the results came in place: no page load lost the draft
    expect(box).to_have_value("Hi!\n\nRegards, Minh")
    link = agent.locator("#hd-kb-results input[readonly]").first.input_value()
    assert link.endswith("/support/help/articles/en/refund-policy"), link
    box.evaluate("el => el.setSelectionRange(4, 4)")  # cursor at the start of the empty line
    insert.click()
    expect(box).to_have_value(f"Hi!\nRefund policy: {link}\nRegards, Minh")
