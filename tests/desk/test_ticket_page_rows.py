"""The ticket pages' statements return rows in proportion to what the ticket holds: a thread
of 200 messages with 5 files each, held mail, tags, access requests and agents viewing it.
The collections the ticket's own statement joins (tickets.page_loads) come side by side, not
multiplied: one more held mail or tag is one more row, whatever else the ticket has."""

from __future__ import annotations

import io

from flask_helpdesk.services import consent, desk, messages, presence, tickets
from flask_helpdesk.services.attachments import Upload
from tests.conftest import count_rows
from tests.desk.conftest import DESK, open_as, other_agent
from tests.desk.test_workspace_queries import WORKSPACE_BUDGET
from tests.mail.conftest import ingest, support
from tests.mail.senders import dns
from tests.mail.test_sender_policy import forged_reply
from tests.views.conftest import isolated_client
from tests.views.test_portal_queries import TICKET_BUDGET

__all__ = ["dns", "other_agent", "support"]  # fixtures, used by name

MESSAGES, FILES = 200, 5


def page_rows(app, member, path: str, lan, code: str) -> tuple[int, int, str]:
    """(statements, rows they returned, page) of one view of *path*, with a customer reply
    nobody has seen (the page writes its "seen" marker: the costlier case)."""
    client = isolated_client(app, member)
    client.get(path)  # warm up: mirrors and presence row exist
    messages.post_message(lan, tickets.find_ticket(lan, code), "One more thing")
    with count_rows(app) as counted:
        response = client.get(path)
    assert response.status_code == 200
    return len(counted), sum(rows for rows, _statement in counted), response.get_data(as_text=True)


def hold(ticket, count: int) -> None:
    """*count* forged replies to *ticket*: each is held for an agent, not posted."""
    for _n in range(count):
        assert ingest(forged_reply(ticket)).status == "held"


def test_ticket_pages_rows_grow_with_what_the_ticket_holds_not_its_product(
    app, support, dns, departments, customer, lan, agent, other_agent
):
    ticket = open_as(lan, departments["account"], "Refund for order 1042")
    for i in range(MESSAGES):
        uploads = [Upload(f"f{i}-{k}.txt", io.BytesIO(f"{i} {k}".encode())) for k in range(FILES)]
        author = lan if i % 2 else agent.actor
        messages.post_message(author, ticket, f"Message {i}", uploads=uploads)
    desk.set_tags(agent.actor, ticket, ["vip", "login", "billing"])
    consent.request_access(agent.actor, ticket, "To check the billing screen")
    consent.request_access(other_agent.actor, ticket, "To check the invoices")
    presence.touch(other_agent.actor, ticket)  # with the agent: two viewing it
    hold(ticket, 5)
    desk_path, portal_path = f"{DESK}/tickets/{ticket.code}", f"/support/tickets/{ticket.code}"

    statements, rows, page = page_rows(app, agent.member, desk_path, lan, ticket.code)
    assert page.count("/files/") >= MESSAGES * FILES and page.count("data-held=") == 5
    assert statements <= WORKSPACE_BUDGET
    portal_statements, portal_rows, portal_page = page_rows(
        app, customer, portal_path, lan, ticket.code
    )
    assert portal_page.count("/files/") >= MESSAGES * FILES
    assert "To check the invoices" in portal_page
    assert portal_statements <= TICKET_BUDGET
    # Each file is a row of the thread's statement; all the rest is a few dozen rows.
    assert rows < MESSAGES * FILES + 40 and portal_rows < MESSAGES * FILES + 40

    # Five more held mails and a tag: six more rows on the desk, one on the portal (the tag),
    # besides the two customer replies posted since each page was viewed (one before each
    # view). Joined plainly, the five held mails alone were 5 x 4 tags x 2 requests x 2
    # viewers = 80 more rows.
    hold(ticket, 5)
    desk.set_tags(agent.actor, ticket, ["vip", "login", "billing", "refund"])
    more_statements, more_rows, page = page_rows(app, agent.member, desk_path, lan, ticket.code)
    assert page.count("data-held=") == 10 and "refund" in page
    assert more_statements == statements
    assert more_rows - rows <= 5 + 1 + 2
    more_portal_statements, more_portal_rows, _page = page_rows(
        app, customer, portal_path, lan, ticket.code
    )
    assert more_portal_statements == portal_statements
    assert more_portal_rows - portal_rows <= 1 + 2
