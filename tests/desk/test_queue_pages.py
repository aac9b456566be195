"""Keyset pages (no duplicates or silent skips while tickets change), per-department counters,
saved views, and the queue page's query budget."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from flask_helpdesk.models import Channel, Priority, SavedView, TicketStatus
from flask_helpdesk.services import NotFound, ValidationError, desk, messages, saved_views, tickets
from flask_helpdesk.services.queues import (
    QueueFilter,
    department_counters,
    encode_cursor,
    queue_page,
)
from tests.conftest import client_for, count_queries, post_form
from tests.desk.conftest import DESK, open_as
from tests.views.conftest import isolated_client


def session(app):
    return app.extensions["helpdesk"].db.session


def many(app, lan, department, n: int, same_time: bool = False) -> list:
    """*n* tickets; with *same_time* they share one timestamp, so only ids break ties."""
    made = [
        open_as(lan, department, f"Ticket {i}", "text", priority=Priority(i % 4)) for i in range(n)
    ]
    if same_time:
        moment = datetime(2026, 5, 1, 12, tzinfo=UTC)
        for ticket in made:
            ticket.updated_at = ticket.created_at = moment
        session(app).commit()
    return made


def walk(actor, f: QueueFilter, per_page: int, between=None) -> list[list[str]]:
    """Follow "next" to the end; *between(page_number, page)* may change tickets meanwhile."""
    pages, cursor = [], None
    while True:
        page = queue_page(actor, f, cursor, per_page)
        pages.append([t.code for t in page.items])
        if between:
            between(len(pages), page)
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


@pytest.mark.parametrize("sort", ["updated", "created", "priority"])
def test_pages_cover_every_ticket_once_in_order(app, departments, agent, lan, sort):
    made = many(app, lan, departments["account"], 23, same_time=True)
    pages = walk(agent.actor, QueueFilter(sort=sort), per_page=5)
    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
    seen = [code for page in pages for code in page]
    assert sorted(seen) == sorted(t.code for t in made)
    one_page = [t.code for t in queue_page(agent.actor, QueueFilter(sort=sort), None, 50).items]
    assert seen == one_page  # same order as a single long page


def test_previous_pages_mirror_next_pages(app, departments, agent, lan):
    many(app, lan, departments["account"], 17, same_time=True)
    f = QueueFilter(sort="priority")
    forward, cursors, cursor = [], [], None
    while True:
        page = queue_page(agent.actor, f, cursor, 4)
        forward.append([t.code for t in page.items])
        cursors.append(page.prev_cursor)
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert cursors[0] is None  # the first page has no "previous"
    backward, cursor = [], cursors[-1]
    while cursor:
        page = queue_page(agent.actor, f, cursor, 4)
        backward.append([t.code for t in page.items])
        cursor = page.prev_cursor
    assert backward == list(reversed(forward[:-1]))


def test_tickets_updated_while_paging_are_never_shown_twice(app, departments, agent, lan):
    made = many(app, lan, departments["account"], 30)
    by_code = {t.code: t for t in made}
    shown: list[str] = []
    touched_unseen: set[str] = set()

    def meanwhile(number, page):
        shown.extend(t.code for t in page.items)
        if number in (1, 3):
            # A ticket already shown and one not yet shown get a reply: both jump to the top.
            messages.post_message(agent.actor, by_code[shown[0]], f"bump {number}")
            unseen = next(t for t in reversed(made) if t.code not in shown)
            messages.post_message(agent.actor, unseen, f"bump {number}")
            touched_unseen.add(unseen.code)

    walk(agent.actor, QueueFilter(), per_page=6, between=meanwhile)
    assert len(shown) == len(set(shown)), "a ticket was shown twice"
    # Only tickets that moved above the agent's position are missing: they are on page 1 now.
    assert set(by_code) - set(shown) == touched_unseen
    first = queue_page(agent.actor, QueueFilter(), None, 6).items
    assert touched_unseen <= {t.code for t in first}


def test_page_one_thousand_is_one_query_away(app, departments, agent, lan):
    made = many(app, lan, departments["account"], 12)
    ordered = queue_page(agent.actor, QueueFilter(), None, 50).items
    cursor = encode_cursor(ordered[7], "updated")  # as if the agent had paged this far
    with count_queries(app) as statements:
        page = queue_page(agent.actor, QueueFilter(), cursor, 3)
    assert [t.code for t in page.items] == [t.code for t in ordered[8:11]]
    # A keyset condition, not an offset (SQLite always prints "OFFSET 0").
    assert "helpdesk_ticket.updated_at, helpdesk_ticket.id) <" in statements[0]
    assert len(statements) <= 2  # the rows, their tags
    assert len(made) == 12


def test_department_counters(app, departments, agent, other_agent, billing_agent, admin, lan):
    account, billing, other = departments["account"], departments["billing"], departments["other"]
    open_as(lan, account)  # new
    answered = open_as(lan, account)
    messages.post_message(agent.actor, answered, "Hello")  # open (answered)
    replied = open_as(lan, account)
    messages.post_message(agent.actor, replied, "Hi")
    messages.post_message(lan, replied, "Still broken")  # open (customer replied)
    closed = open_as(lan, billing)
    tickets.close_ticket(other_agent.actor, closed)  # closed
    spam = open_as(lan, billing)
    tickets.change_status(other_agent.actor, spam, "spam")  # not counted
    open_as(lan, other)

    def plain(counters):
        return {d: (c.new, c.open, c.closed) for d, c in counters.items()}

    assert plain(department_counters(other_agent.actor)) == {
        account.id: (1, 2, 0),
        billing.id: (0, 0, 1),
    }
    assert plain(department_counters(billing_agent.actor)) == {billing.id: (0, 0, 1)}
    assert plain(department_counters(admin.actor)) == {
        account.id: (1, 2, 0),
        billing.id: (0, 0, 1),
        other.id: (1, 0, 0),
    }
    html = client_for(app, billing_agent.member).get(DESK + "/").get_data(as_text=True)
    assert f'data-department="{billing.id}"' in html
    assert f'data-department="{account.id}"' not in html


def test_saved_views_are_each_agents_own(app, departments, agent, other_agent, lan):
    urgent = open_as(lan, departments["account"], "Down", "All down", Priority.URGENT)
    open_as(lan, departments["account"], "Slow", "A bit slow", Priority.LOW)
    f = QueueFilter(priority=Priority.URGENT, statuses=[TicketStatus.OPEN])
    view = saved_views.save_view(agent.actor, "  Urgent   open ", f)
    assert view.name == "Urgent open"
    assert QueueFilter.from_args(dict([("priority", "3"), ("status", "open")])) == f
    assert [v.name for v in saved_views.list_views(agent.actor)] == ["Urgent open"]
    assert saved_views.list_views(other_agent.actor) == []

    # Another agent can neither use, rename nor delete it.
    for attempt in (
        lambda: saved_views.get_view(other_agent.actor, view.id),
        lambda: saved_views.rename_view(other_agent.actor, view.id, "Mine now"),
        lambda: saved_views.delete_view(other_agent.actor, view.id),
    ):
        with pytest.raises(NotFound):
            attempt()

    saved_views.save_view(agent.actor, "Low", QueueFilter(priority=Priority.LOW))
    with pytest.raises(ValidationError):
        saved_views.rename_view(agent.actor, view.id, "Low")  # taken
    with pytest.raises(ValidationError):
        saved_views.rename_view(agent.actor, view.id, " ")
    saved_views.rename_view(agent.actor, view.id, "Fires")
    assert [v.name for v in saved_views.list_views(agent.actor)] == ["Fires", "Low"]

    client = client_for(app, agent.member)
    html = client.get(f"{DESK}/?saved={view.id}").get_data(as_text=True)
    assert urgent.code in html and "Slow" not in html and 'aria-current="page">Fires' in html
    assert client_for(app, other_agent.member).get(f"{DESK}/?saved={view.id}").status_code == 200
    saved_views.delete_view(agent.actor, view.id)
    assert [v.name for v in saved_views.list_views(agent.actor)] == ["Low"]


def test_saved_views_through_the_page(app, departments, agent, lan):
    client = client_for(app, agent.member)
    page = f"{DESK}/?priority=3&status=open"
    response = post_form(
        client, page, f"{DESK}/views", data={"name": "Fires", "query": "priority=3&status=open"}
    )
    assert response.status_code == 302
    view = session(app).query(SavedView).one()
    assert view.query == "status=open&priority=3"
    response = post_form(client, page, f"{DESK}/views/{view.id}/rename", data={"name": "Burning"})
    assert response.status_code == 302
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "View renamed to “Burning”." in html and ">Burning</a>" in html
    response = post_form(client, page, f"{DESK}/views/{view.id}/delete")
    assert response.status_code == 302
    assert session(app).query(SavedView).count() == 0


def test_built_in_views(app, departments, agent, other_agent, lan):
    mine = open_as(lan, departments["account"], "Mine")
    desk.assign(agent.actor, mine, agent.actor.agent.id)
    nobody = open_as(lan, departments["account"], "Nobody's")
    done = open_as(lan, departments["account"], "Done")
    desk.assign(agent.actor, done, agent.actor.agent.id)
    tickets.close_ticket(agent.actor, done)
    client = client_for(app, agent.member)
    html = client.get(f"{DESK}/?view=mine").get_data(as_text=True)
    assert mine.code in html and nobody.code not in html and done.code not in html
    html = client.get(f"{DESK}/?view=unassigned").get_data(as_text=True)
    assert nobody.code in html and mine.code not in html


# Budget per queue request, every statement on the engine counted: host member (Flask-Login)
# + agent mirror + its departments + the page of tickets (requester, assignee, department
# joined) + their tags + active departments + saved views + department counters (one grouped
# query) + agents for the assignee filter + the demo host's avatar menu (contact mirror and
# unread badge) = 11, the same on SQLite and PostgreSQL; the warm-up request caches the
# counters, so a page makes 10. A search on PostgreSQL adds two (services/search.py): the whole
# words each typed word begins, and the EXPLAIN that chooses its plan (the ticket count behind
# that choice is cached by the warm-up too).
QUEUE_BUDGET = 12


def queue_queries(app, member, query: str = "") -> list[str]:
    client = isolated_client(app, member)  # a fresh session per request, as in production
    client.get(f"{DESK}/?{query}")  # warm up: mirrors exist
    with count_queries(app) as statements:
        response = client.get(f"{DESK}/?{query}")
    assert response.status_code == 200
    return statements


@pytest.mark.parametrize("query", ["", "q=ticket&tag=vip&unread=1", "view=mine"])
def test_queue_queries_do_not_grow_with_tickets_or_page_size(
    app, departments, agent, other_agent, lan, reza, query
):
    def make(n: int) -> None:
        for i in range(n):
            ticket = open_as(lan if i % 2 else reza, departments["account"], f"Ticket {i}")
            desk.assign(other_agent.actor, ticket, (agent if i % 3 else other_agent).actor.agent.id)
            desk.set_tags(other_agent.actor, ticket, ["vip", f"t{i}"])

    make(2)
    few = queue_queries(app, agent.member, query)
    make(30)  # more than a page: 25 rows, each with its own requester, assignee and tags
    many = queue_queries(app, agent.member, query)
    assert len(few) == len(many), "\n".join(many)
    assert len(many) <= QUEUE_BUDGET, "\n".join(many)
    app.extensions["helpdesk"].config["HELPDESK_TICKETS_PER_PAGE"] = 5
    assert len(queue_queries(app, agent.member, query)) == len(many)


def test_cursor_from_another_sort_starts_over(app, departments, agent, lan):
    made = many(app, lan, departments["account"], 4)
    cursor = encode_cursor(made[0], "created")
    page = queue_page(agent.actor, QueueFilter(sort="updated"), cursor, 10)
    assert len(page.items) == 4 and page.prev_cursor is None


def test_counters_follow_every_commit_and_a_host_may_still_reuse_them(app, departments, agent, lan):
    account = departments["account"]
    ticket = open_as(lan, account)
    assert department_counters(agent.actor)[account.id].new == 1
    tickets.close_ticket(agent.actor, ticket)
    counts = department_counters(agent.actor)[account.id]
    assert (counts.new, counts.closed) == (0, 1)  # no time to live by default
    app.extensions["helpdesk"].config["HELPDESK_QUEUE_COUNTERS_TTL"] = 60
    department_counters(agent.actor)
    open_as(lan, account)
    # Within a host's HELPDESK_QUEUE_COUNTERS_TTL the sidebar may lag; the queue never does.
    assert department_counters(agent.actor)[account.id].new == 0
    assert len(queue_page(agent.actor, QueueFilter(statuses=[TicketStatus.OPEN])).items) == 1


def test_each_queue_row_marks_where_its_ticket_came_from(app, departments, agent, lan):
    """The channel mark of each row (one translated name per row, drawn on every row)."""
    account = departments["account"]
    by_web = open_as(lan, account, "From the form")
    by_mail = tickets.open_ticket(
        lan,
        tickets.NewTicket(
            department_id=account.id, subject="From a mail", body="x", channel=Channel.EMAIL
        ),
    )
    by_agent = open_as(agent.actor, account, "Opened on the phone", requester=lan.contact)
    html = client_for(app, agent.member).get(DESK + "/").get_data(as_text=True)
    rows = {
        code: row
        for row in html.split('<tr class="hd-queue-row')[1:]
        for code in [row.split('data-code="', 1)[1].split('"', 1)[0]]
    }
    expected = {by_web: ("web", "Web form"), by_mail: ("email", "Email")}
    expected[by_agent] = ("desk", "Opened by an agent")
    for ticket, (kind, name) in expected.items():
        row = rows[ticket.code]
        assert f'class="hd-channel hd-channel-{kind}" title="{name}"' in row
        assert f'href="{DESK}/tickets/{ticket.code}"' in row  # the code and subject link to it
        assert row.count(f'"{DESK}/tickets/{ticket.code}"') == 3  # the row's data-href too
