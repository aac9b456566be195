"""The agent's way through the desk in a real browser, and what the customer sees of it."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .conftest import log_in, open_avatar_menu

SUBJECT = "Cannot change my account email"  # a demo ticket of Lan's nobody has answered yet
REPLY = "Please try again now: we fixed the email form."
NOTE = "Root cause: the validation rejected plus addresses. Do not tell the customer yet."


def test_agent_replies_and_notes_customer_sees_only_the_reply(new_page):
    agent = new_page()
    log_in(agent, "minh@example.com")
    open_avatar_menu(agent, "Minh Tran")
    # The avatar menu's entry (the demo's home page has a desk link of its own too).
    agent.locator(".avatar-menu").get_by_role("link", name="Support desk").click()

    queue_row = agent.get_by_role("row").filter(has_text=SUBJECT)
    expect(queue_row).to_have_count(1)
    expect(queue_row).to_contain_text("Lan Nguyen")
    queue_row.get_by_role("link", name=SUBJECT).click()
    expect(agent.get_by_role("heading", level=1)).to_contain_text(SUBJECT)
    thread = agent.get_by_role("region", name="Messages")
    expect(thread).to_contain_text("When I save a new email on the profile page nothing happens.")

    # A public reply...
    agent.get_by_label("Your reply").fill(REPLY)
    agent.get_by_role("button", name="Send reply").click()
    expect(agent.get_by_role("status").filter(has_text="Reply sent.")).to_be_visible()
    expect(thread).to_contain_text(REPLY)

    # ...and an internal note, which the desk shows marked as such.
    agent.get_by_label("Your reply").fill(NOTE)
    agent.get_by_role("button", name="Add internal note").click()
    expect(agent.get_by_role("status").filter(has_text="Internal note added.")).to_be_visible()
    note = thread.get_by_role("article").filter(has_text=NOTE)
    expect(note).to_contain_text("Internal note")

    # The customer, in her own browser: the badge tells her support answered; the ticket shows
    # the reply and nothing of the note.
    customer = new_page()
    log_in(customer, "lan@example.com")
    open_avatar_menu(customer, "Lan Nguyen")
    expect(customer.get_by_title("Unread replies")).to_be_visible()
    customer.get_by_role("link", name=re.compile("^Support requests")).click()
    row = customer.get_by_role("row").filter(has_text=SUBJECT)
    expect(row).to_contain_text("New reply")
    expect(row).to_contain_text("Answered")
    row.get_by_role("link", name=SUBJECT).click()

    customer_thread = customer.get_by_role("region", name="Messages")
    reply = customer_thread.get_by_role("article").filter(has_text=REPLY)
    expect(reply).to_contain_text("Minh Tran")
    expect(reply).to_contain_text("New reply")
    expect(customer.get_by_role("main")).not_to_contain_text("Root cause")
    expect(customer.get_by_role("main")).not_to_contain_text("Internal note")
    # Nor anywhere in what the server sent (a hidden element would still leak it).
    assert "Root cause" not in customer.content()
