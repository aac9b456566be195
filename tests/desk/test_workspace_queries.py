"""The ticket workspace makes a fixed number of SQL queries, however long the thread and
whatever else the ticket has (tags, assignee, merged tickets, other viewers, access requests)."""

from __future__ import annotations

import io

from flask_helpdesk.services import canned, consent, desk, messages, presence, tickets
from flask_helpdesk.services.attachments import Upload
from tests.conftest import count_queries
from tests.desk.conftest import DESK, open_as
from tests.views.conftest import isolated_client

# Measured (same on SQLite and PostgreSQL), per request, every statement on the engine, for the
# costliest case: a customer reply the agent has not seen yet, so the page also writes the
# "seen" marker (docs/performance.rst, "The ticket pages"):
# host member + the user's agent (departments joined) and contact mirrors, one statement
# + the ticket with department, rating, requester, assignee, creator, merged-into ticket, tags,
#   access requests, agents viewing it now and held mail, one statement (tickets.page_loads)
# + presence upsert + "seen" UPDATE + messages (authors, attachments, sender verdicts joined)
# + departments (transfer choices) + assignable agents + canned replies + earlier tickets = 10.
# Presence and "seen" markers commit after rendering, so nothing the page loaded is reloaded.
WORKSPACE_BUDGET = 10


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


def workspace_queries(app, member, code: str, lan=None) -> tuple[list[str], str]:
    client = isolated_client(app, member)
    client.get(f"{DESK}/tickets/{code}")  # warm up: mirrors and presence row exist
    if lan is not None:  # a customer reply not seen yet: the page writes the "seen" marker
        messages.post_message(lan, tickets.find_ticket(lan, code), "One more thing")
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


def test_everything_a_ticket_page_shows_costs_no_more_than_one_message(
    app, departments, agent, other_agent, lan
):
    """One message and nothing else against 50 messages, 49 files, notes, events, tags, an
    assignee, a merged duplicate, another agent viewing and an access request: same count."""
    bare = open_as(lan, departments["account"], "Bare")
    full = open_as(lan, departments["account"], "Full")
    desk.set_tags(agent.actor, full, ["vip", "login", "billing"])
    desk.assign(agent.actor, full, other_agent.actor.agent.id)
    tickets.change_status(agent.actor, full, "processing")  # an event in the thread
    duplicate = open_as(lan, departments["account"], "Duplicate")
    desk.merge(agent.actor, duplicate, full.code)  # "merged from" on one, "merged into" on other
    canned.create_reply(agent.actor, canned.CannedReplyData("Thanks", "Thanks {customer_name}"))
    grow(full, lan, agent.actor, 47)
    presence.touch(other_agent.actor, full)  # the collision notice: Sara has it open too
    consent.request_access(agent.actor, full, "To check the billing screen")
    few, bare_page = workspace_queries(app, agent.member, bare.code, lan)
    many, page = workspace_queries(app, agent.member, full.code, lan)
    merged, merged_page = workspace_queries(app, agent.member, duplicate.code)
    assert "One more thing" in bare_page and "One more thing" in page
    assert page.count("/files/") >= 47 and "Agent 46" in page and "Sara Ahmadi" in page
    assert "To check the billing screen" in page and duplicate.code in page
    assert full.code in merged_page
    assert len(many) <= WORKSPACE_BUDGET, "\n".join(many)
    assert len(few) == len(many), "\n".join(many)
    assert len(merged) <= len(many), "\n".join(merged)
