"""Full-text search in the queue, on the database's own engine (FTS5 / tsvector + GIN)."""

from sqlalchemy import text

from flask_helpdesk.models import Ticket, TicketStatus
from flask_helpdesk.services import desk, messages, tickets
from flask_helpdesk.services.queues import QueueFilter, queue_page
from tests.desk.conftest import open_as


def codes(actor, **filters) -> set[str]:
    return {t.code for t in queue_page(actor, QueueFilter(**filters), per_page=200).items}


def test_search_finds_words_in_a_later_message(app, departments, agent, lan):
    ticket = open_as(lan, departments["account"], "Login trouble", "I cannot log in.")
    other = open_as(lan, departments["account"], "Invoice", "Where is my invoice?")
    messages.post_message(agent.actor, ticket, "Did you try the recovery email?")
    messages.post_message(lan, ticket, "The reset link in the mail has expired already.")
    assert codes(agent.actor, q="expired") == {ticket.code}
    assert codes(agent.actor, q="reset EXPIRED") == {ticket.code}  # every word, any case
    assert codes(agent.actor, q="expir") == {ticket.code}  # prefix
    assert codes(agent.actor, q="invoice") == {other.code}  # subject and first message
    assert codes(agent.actor, q="nothing-like-this") == set()


def test_search_by_subject_code_and_internal_note(app, departments, agent, lan):
    ticket = open_as(lan, departments["account"], "Đổi email tài khoản", "Xin chào")
    messages.post_message(agent.actor, ticket, "Escalated to the platform team", internal=True)
    assert codes(agent.actor, q="tài khoản") == {ticket.code}
    assert codes(agent.actor, q="platform") == {ticket.code}
    assert codes(agent.actor, q=ticket.code.lower()) == {ticket.code}


def test_search_input_with_operators_is_only_text(app, departments, agent, lan):
    open_as(lan, departments["account"], "Quotes", 'He said "hello" (twice) OR NOT')
    for query in ['"', "hello OR", "NOT", "a:* & | !", "(twice", "*", "'; drop table"]:
        codes(agent.actor, q=query)  # never an SQL or FTS syntax error
    assert len(codes(agent.actor, q='"hello" (twice')) == 1


def test_index_follows_replies_merges_and_deletes(app, departments, agent, lan):
    """The index is the database's (FTS5 triggers / GIN expression indexes), so every way a
    message reaches or leaves the tables keeps search right."""
    db_session = app.extensions["helpdesk"].db.session
    target = open_as(lan, departments["account"], "Printer", "It jams")
    duplicate = open_as(lan, departments["account"], "Printer again", "Smells of toner")
    messages.post_message(agent.actor, target, "Try the blue lever")
    assert codes(agent.actor, q="lever") == {target.code}
    assert codes(agent.actor, q="toner") == {duplicate.code}

    desk.merge(agent.actor, duplicate, target.code)
    # The duplicate's messages moved: their words now find the target; its subject stays its own.
    assert codes(agent.actor, q="toner") == {target.code}
    assert codes(agent.actor, q="again") == {duplicate.code}

    for gone in (duplicate, target):  # tickets (and their threads) go away
        db_session.delete(db_session.get(Ticket, gone.id))
        db_session.commit()
    assert codes(agent.actor, q="again") == set()
    assert codes(agent.actor, q="lever") == set()
    assert codes(agent.actor, q="jams") == set()
    if db_session.get_bind().dialect.name == "sqlite":
        for fts in ("helpdesk_message_fts", "helpdesk_ticket_fts"):
            db_session.execute(text(f"INSERT INTO {fts}({fts}) VALUES ('integrity-check')"))


def test_search_combines_with_filters_and_pages(app, departments, agent, lan):
    found = [open_as(lan, departments["account"], f"Refund {i}", "money back") for i in range(7)]
    open_as(lan, departments["account"], "Other", "nothing here")
    pages, cursor = [], None
    while True:
        page = queue_page(agent.actor, QueueFilter(q="refund", sort="created"), cursor, 3)
        pages.append([t.code for t in page.items])
        cursor = page.next_cursor
        if not cursor:
            break
    assert [len(p) for p in pages] == [3, 3, 1]
    assert sorted(c for p in pages for c in p) == sorted(t.code for t in found)
    tickets.close_ticket(agent.actor, found[0])
    closed = QueueFilter(q="money", statuses=[TicketStatus.CLOSED])
    assert {t.code for t in queue_page(agent.actor, closed).items} == {found[0].code}
