"""Two agents on one ticket, in two browsers: the desk's script tells each about the other and
about messages written meanwhile, and a reply written blind is held back until confirmed."""

from __future__ import annotations

from playwright.sync_api import expect

from .conftest import log_in

SUBJECT = "Cannot change my account email"  # in "Account", a department of both agents


def open_ticket_from_queue(page) -> None:
    page.goto("/support/desk/")
    page.get_by_role("row").filter(has_text=SUBJECT).get_by_role("link", name=SUBJECT).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(SUBJECT)


def test_agents_see_each_other_and_a_blind_reply_waits(new_page):
    minh = new_page()
    # The page polls every 20 s: a fake clock in Minh's browser lets the test move time on.
    minh.clock.install()
    log_in(minh, "minh@example.com")
    open_ticket_from_queue(minh)
    presence = minh.get_by_role("status").filter(has_text="viewing this ticket")
    expect(presence).to_have_count(0)

    sara = new_page()
    log_in(sara, "sara@example.com")
    open_ticket_from_queue(sara)
    expect(sara.get_by_role("status").filter(has_text="viewing this ticket")).to_have_text(
        "Minh Tran is viewing this ticket."
    )

    # Minh's open page learns about Sara on its next poll, without a reload.
    minh.clock.fast_forward(20_000)
    expect(presence).to_have_text("Sara Ahmadi is viewing this ticket.")

    # Sara answers; Minh's page says so on the following poll.
    sara.get_by_label("Your reply").fill("Sara here: fixed, please try again.")
    sara.get_by_role("button", name="Send reply").click()
    expect(sara.get_by_role("status").filter(has_text="Reply sent.")).to_be_visible()
    minh.clock.fast_forward(20_000)
    expect(presence).to_contain_text("New messages were written since you opened this ticket.")

    # Minh's reply, written without seeing Sara's, is not sent: his text stays, hers shows.
    minh.get_by_label("Your reply").fill("Minh here: could you send a screenshot?")
    minh.get_by_role("button", name="Send reply").click()
    expect(minh.get_by_role("alert").filter(has_text="Not sent yet")).to_contain_text(
        "Sara here: fixed"
    )
    expect(minh.get_by_label("Your reply")).to_have_value("Minh here: could you send a screenshot?")
    minh.get_by_role("button", name="Send anyway").click()
    expect(minh.get_by_role("status").filter(has_text="Reply sent.")).to_be_visible()
    thread = minh.get_by_role("region", name="Messages")
    expect(
        thread.get_by_role("article").filter(has_text="could you send a screenshot")
    ).to_have_count(1)
