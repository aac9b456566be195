"""The ticket workspace makes a fixed number of SQL queries, however long the thread."""

from __future__ import annotations

import io

from flask_helpdesk.services import canned, desk, messages
from flask_helpdesk.services.attachments import Upload
from tests.conftest import count_queries
from tests.desk.conftest import DESK, open_as
from tests.views.conftest import isolated_client

# Measured (same on SQLite and PostgreSQL), per request, every statement on the engine:
# host member + agent mirror + agent's departments + ticket (department, rating joined)
# + presence upsert + messages + their contact authors + agent authors + attachments
# + departments (transfer choices) + assignable agents + tags + canned replies
# + other viewers + earlier tickets + the demo menu (contact, unread badge, desk link)
# + the access-grant panel (its agent, its grants) + the mail senders' verdicts = 20.
# Presence and "seen" markers commit after rendering, so nothing the page loaded is reloaded.
WORKSPACE_BUDGET = 20


def grow(ticket, lan, agent, n: int) -> None:
    """*n* messages: customer replies, agent replies and notes, every one with a file."""
    for i in range(n):
        upload = Upload(f"file{i}.txt", io.BytesIO(f"content {i}".encode()))
        if i % 3 == 0:
            messages.post_message(lan, ticket, f"Customer {i}", uploads=[upload])
        else:
            messages.post_message(
                agent, ticket, f"Agent {i}", uploads=[upload], internal=i % 3 == 2
            )


def workspace_queries(app, member, code: str) -> tuple[list[str], str]:
    client = isolated_client(app, member)
    client.get(f"{DESK}/tickets/{code}")  # warm up: mirrors and presence row exist
    with count_queries(app) as statements:
        response = client.get(f"{DESK}/tickets/{code}")
    assert response.status_code == 200
    return statements, response.get_data(as_text=True)


def test_ticket_page_with_50_messages_costs_what_a_short_one_costs(
    app, departments, agent, other_agent, lan
):
    small = open_as(lan, departments["account"], "Small")
    large = open_as(lan, departments["account"], "Large")
    for ticket in (small, large):
        desk.set_tags(agent.actor, ticket, ["vip", "login"])
        desk.assign(agent.actor, ticket, other_agent.actor.agent.id)
    canned.create_reply(agent.actor, canned.CannedReplyData("Thanks", "Thanks {customer_name}"))
    grow(small, lan, agent.actor, 2)
    grow(large, lan, agent.actor, 49)  # + the opening message = 50
    few, _ = workspace_queries(app, agent.member, small.code)
    many, page = workspace_queries(app, agent.member, large.code)
    assert page.count("/files/") >= 49 and "Agent 47" in page
    assert len(few) == len(many), "\n".join(many)
    assert len(many) <= WORKSPACE_BUDGET, "\n".join(many)
