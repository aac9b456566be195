"""What a customer noticed on the portal (issue 14): pages fully in their language, only the
events that concern them, readable file sizes, no stale "New reply", one live region for
messages, text that keeps its own direction."""

from __future__ import annotations

import re

import pytest

from flask_helpdesk.services import desk, messages, tickets
from flask_helpdesk.services.attachments import Upload
from flask_helpdesk.services.departments import create_department
from flask_helpdesk.services.identity import SYSTEM, contact_as_actor, sync_contact
from flask_helpdesk.services.tickets import unread_count
from tests.conftest import client_for, make_member, post_form
from tests.untranslated import untranslated


def _open(member, department, subject="Invoice missing", body="Where is it?"):
    actor = contact_as_actor(sync_contact(member))
    ticket = tickets.open_ticket(
        actor, tickets.NewTicket(department_id=department.id, subject=subject, body=body)
    )
    return actor, ticket


@pytest.mark.parametrize("lang", ["vi", "fa"])
def test_ticket_page_has_no_catalogue_string_left_in_english(app, departments, agent, lang):
    member = make_member("Mai Pham", language=lang)
    actor, ticket = _open(member, departments["account"])
    messages.post_message(agent, ticket, "Here is your invoice.")
    tickets.change_status(agent, ticket, "processing")
    client = client_for(app, member)

    page = client.get(f"/support/tickets/{ticket.code}").get_data(as_text=True)
    # The thread macros used to render in English: "New reply", "Support", the events.
    assert untranslated(page, lang) == []
    assert "New reply" not in page and "changed the status to" not in page

    tickets.close_ticket(actor, ticket)
    for url in (f"/support/tickets/{ticket.code}", "/support/", "/support/new"):
        assert untranslated(client.get(url).get_data(as_text=True), lang) == [], url


def test_the_checker_itself_finds_english_left_on_a_page():
    page = "<p>Lan Nguyen closed the ticket.</p><button title='Close ticket'>x</button><p>Lan</p>"
    assert untranslated(page, "vi") == ["Close ticket", "Lan Nguyen closed the ticket."]


def test_host_department_names_skip_the_package_catalogue(app, departments):
    """'Closed' is one of our strings (a status); as a host's department name it is not ours."""
    closed = create_department(SYSTEM, "Closed", slug="closed-accounts")
    member = make_member("Mai Pham", language="vi")
    _open(member, closed)
    _open(member, departments["account"])
    listing = client_for(app, member).get("/support/").get_data(as_text=True)
    assert "<td>Closed</td>" in listing  # the host's name, untouched
    assert "<td>Tài khoản</td>" in listing  # the package's seeded name, translated
    assert "<td>Billing</td>" not in listing


def test_customer_sees_only_the_events_that_concern_them(app, departments, agent):
    member = make_member("Mai Pham")
    _actor, ticket = _open(member, departments["account"])
    desk.assign(agent, ticket, agent.agent.id)
    desk.transfer(agent, ticket, departments["billing"].id)
    tickets.close_ticket(agent, ticket)
    page = client_for(app, member).get(f"/support/tickets/{ticket.code}").get_data(as_text=True)
    assert "Assigned to" not in page and "Moved to department" not in page
    assert "closed the ticket." in page
    desk_page = [m.data.get("event") for m in messages.thread(agent, ticket) if m.data]
    assert {"assigned", "transferred", "closed"} <= set(desk_page)  # agents still see them all


@pytest.mark.parametrize(
    ("size", "shown"), [(300, "300 bytes"), (12_800, "12.5 KB"), (3_355_443, "3.2 MB")]
)
def test_attachment_sizes_read_as_people_expect(app, departments, size, shown):
    member = make_member("Mai Pham")
    actor, ticket = _open(member, departments["account"])
    messages.post_message(actor, ticket, "See file", uploads=[Upload("a.pdf", _Zeros(size))])
    page = client_for(app, member).get(f"/support/tickets/{ticket.code}").get_data(as_text=True)
    assert f"({shown})" in page
    assert "(0.0 KB)" not in page


class _Zeros:
    """A file-like object of *size* bytes."""

    def __init__(self, size: int) -> None:
        self.left = size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        self.left -= n
        return b"%PDF" + b"0" * (n - 4) if n >= 4 else b"0" * n


def test_closing_after_an_unseen_reply_leaves_no_new_reply_badge(app, departments, agent):
    member = make_member("Mai Pham")
    actor, ticket = _open(member, departments["account"])
    messages.post_message(agent, ticket, "Done, please check.")
    client = client_for(app, member)
    # The customer closes from the list's link without opening the page in between (another
    # tab, the demo data): the reply was read where it was answered.
    post_form(client, f"/support/tickets/{ticket.code}", f"/support/tickets/{ticket.code}/close")
    listing = client.get("/support/").get_data(as_text=True)
    assert "New reply" not in listing
    assert unread_count(actor) == 0


def test_flash_messages_are_one_live_region_not_list_items(app, departments):
    member = make_member("Mai Pham")
    _actor, ticket = _open(member, departments["account"])
    client = client_for(app, member)
    response = post_form(
        client,
        f"/support/tickets/{ticket.code}",
        f"/support/tickets/{ticket.code}/reply",
        data={"body": "More details"},
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert re.search(r'<div class="hd-flashes" role="status">\s*<p class="hd-flash', page)
    assert '<li class="hd-flash' not in page


def test_user_text_keeps_its_own_direction_on_a_persian_page(app, departments):
    member = make_member("Reza Karimi", language="fa", phone="+84 90 000 0000")
    actor, ticket = _open(member, departments["account"])
    tickets.close_ticket(actor, ticket)
    tickets.rate_ticket(actor, ticket, 4, "Great help")
    client = client_for(app, member)
    page = client.get(f"/support/tickets/{ticket.code}").get_data(as_text=True)
    assert '<p class="hd-rating-comment" dir="auto">Great help</p>' in page
    assert re.search(r'<textarea class="hd-input" dir="auto"[^>]*name="body"', page)
    # The "back" arrow turns round in right-to-left pages (CSS mirrors .hd-arrow).
    assert '<span class="hd-arrow" aria-hidden="true">←</span>' in page
    new = client.get("/support/new").get_data(as_text=True)
    assert re.search(r'<input[^>]*dir="ltr"[^>]*name="phone"', new)
    assert re.search(r'<input[^>]*dir="ltr"[^>]*name="email"', new)


def test_menu_helpers_leave_no_empty_item_for_a_customer(app, departments):
    member = make_member("Mai Pham")
    home = client_for(app, member).get("/").get_data(as_text=True)
    assert "Support requests" in home
    assert not re.search(r"<li>\s*</li>", home)


def test_no_department_is_preselected_on_the_new_request_form(app, departments):
    member = make_member("Mai Pham")
    client = client_for(app, member)
    page = client.get("/support/new").get_data(as_text=True)
    select = re.search(r'<select[^>]*name="department_id"[^>]*>(.*?)</select>', page, re.S).group(1)
    first = re.search(r"<option[^>]*>[^<]*</option>", select).group(0)
    assert "Choose a department…" in first and "disabled" in first and "selected" in first
    assert select.count("selected") == 1
    # Sent without choosing (the browser sends nothing for a disabled option): refused, kept.
    response = post_form(
        client, "/support/new", data={"subject": "Help", "body": "Something broke"}
    )
    assert response.status_code == 422
    assert "Something broke" in response.get_data(as_text=True)


def test_empty_list_says_what_support_is_for(app, departments):
    page = client_for(app, make_member("Mai Pham")).get("/support/").get_data(as_text=True)
    assert "You have no support requests yet." in page
    assert "Open a support request" in page
    # Seed 000: read the guides first; the help center is one click from the list.
    assert 'href="/support/help/"' in page and "Find answers" in page
    filtered = client_for(app, make_member("Bao Le")).get("/support/?q=zzz").get_data(True)
    assert "No support request matches." in filtered and "Show all requests" in filtered
