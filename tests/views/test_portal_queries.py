"""Point 11: the portal's list and ticket pages make a fixed number of SQL queries, however
many tickets, messages and attachments there are (no N+1)."""

from __future__ import annotations

import io

from flask_helpdesk.services import consent, messages, tickets
from flask_helpdesk.services.attachments import Upload
from flask_helpdesk.services.identity import contact_as_actor, sync_contact
from tests.conftest import count_queries
from tests.views.conftest import isolated_client

# Budgets measured after optimizing (same on SQLite and PostgreSQL), per request, counting every
# statement on the engine, the host's own included:
# list page   = host member (Flask-Login) + the user's contact and agent mirrors (one statement:
#               the avatar menu's "is this user an agent?" for the desk link comes with it)
#               + one page of tickets (department joined) + active departments for the filter
#               + the menu's unread badge + pending account-access requests = 6.
# ticket page = member + mirrors + ticket (department, rating, requester, assignee, tags and
#               the account-access requests joined) + the "seen" UPDATE + messages (authors
#               and attachments joined) + the customer's ratings of the replies shown
#               + unread badge = 7. The seen marker is committed after rendering
#               (tickets.reading), so the commit expires nothing the page still reads.
LIST_BUDGET = 6
TICKET_BUDGET = 7


def make_tickets(customer, departments, agent, n: int) -> list:
    actor = contact_as_actor(sync_contact(customer))
    made = []
    for i in range(n):
        department = list(departments.values())[i % len(departments)]
        ticket = tickets.open_ticket(
            actor,
            tickets.NewTicket(department_id=department.id, subject=f"Ticket {i}", body="body"),
        )
        if i % 2:
            messages.post_message(agent, ticket, f"Answer {i}")  # unread replies on some
        made.append(ticket)
    return made


def list_queries(app, customer) -> list[str]:
    client = isolated_client(app, customer)
    client.get("/support/")  # warm up: the contact mirror exists, nothing left to create
    with count_queries(app) as statements:
        response = client.get("/support/")
    assert response.status_code == 200
    return statements


def test_list_page_queries_do_not_grow_with_tickets(app, departments, customer, agent):
    make_tickets(customer, departments, agent, 3)
    few = list_queries(app, customer)
    make_tickets(customer, departments, agent, 22)  # 25 on the page: a full page
    many = list_queries(app, customer)
    assert len(few) == len(many), many
    assert len(many) <= LIST_BUDGET, "\n".join(many)


def grow_thread(ticket, customer, agent, n: int) -> None:
    """*n* more messages, half from support, each with an attachment; notes too."""
    customer_actor = contact_as_actor(sync_contact(customer))
    for i in range(n):
        upload = Upload(f"file{i}.txt", io.BytesIO(f"content {i}".encode()))
        if i % 2:
            messages.post_message(agent, ticket, f"Agent {i}", uploads=[upload])
        elif i % 5 == 0:
            messages.post_message(agent, ticket, f"Note {i}", uploads=[upload], internal=True)
        else:
            messages.post_message(customer_actor, ticket, f"Customer {i}", uploads=[upload])


def ticket_queries(app, customer, agent, code: str, fresh_reply=True) -> tuple[list[str], str]:
    if fresh_reply:
        # An unseen agent reply, so the page also writes the "seen" marker (the costlier path).
        ticket = tickets.find_ticket(contact_as_actor(sync_contact(customer)), code)
        messages.post_message(agent, ticket, "Fresh answer")
    client = isolated_client(app, customer)
    with count_queries(app) as statements:
        response = client.get(f"/support/tickets/{code}")
    assert response.status_code == 200
    return statements, response.get_data(as_text=True)


def test_ticket_page_queries_do_not_grow_with_messages(app, departments, customer, agent):
    small, large = make_tickets(customer, departments, agent, 2)
    grow_thread(small, customer, agent, 3)
    grow_thread(large, customer, agent, 40)
    consent.request_access(agent, large, "To see your billing screen")  # the access panel
    few, _ = ticket_queries(app, customer, agent, small.code)
    many, page = ticket_queries(app, customer, agent, large.code)
    assert page.count("/files/") >= 30  # the attachments are really on the page
    assert "To see your billing screen" in page
    assert len(few) == len(many), "\n".join(many)
    assert len(many) <= TICKET_BUDGET, "\n".join(many)


def test_closed_and_rated_ticket_page_stays_in_budget(app, departments, customer, agent):
    (ticket,) = make_tickets(customer, departments, agent, 1)
    actor = contact_as_actor(sync_contact(customer))
    tickets.close_ticket(actor, ticket)
    tickets.rate_ticket(actor, ticket, 5, "great")
    statements, page = ticket_queries(app, customer, agent, ticket.code, fresh_reply=False)
    assert len(statements) <= TICKET_BUDGET, "\n".join(statements)
    assert 'aria-label="5 of 5 stars"' in page
