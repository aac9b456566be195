"""Full-text search in the queue, on the database's own engine (FTS5 / tsvector + GIN)."""

import pytest
from sqlalchemy import func, select, text

from flask_helpdesk.models import Message, Ticket, TicketStatus
from flask_helpdesk.services import desk, messages, search, tickets
from flask_helpdesk.services.queues import QueueFilter, queue_page
from tests.desk.conftest import open_as

shipped_walk_the_queue = search.walk_the_queue


@pytest.fixture(autouse=True, params=["sort matches", "walk the queue"])
def plan(request, monkeypatch) -> str:
    """A search is answered in one of two shapes, chosen by how many tickets match
    (services/search.py); every test here runs with each, on both databases."""
    walk = request.param == "walk the queue"
    monkeypatch.setattr(search, "walk_the_queue", lambda *args: walk)
    return request.param


def codes(actor, **filters) -> set[str]:
    return {t.code for t in queue_page(actor, QueueFilter(**filters), per_page=200).items}


def test_search_finds_words_in_a_later_message(app, departments, agent, lan):
    ticket = open_as(lan, departments["account"], "Login trouble", "I cannot log in.")
    other = open_as(lan, departments["account"], "Invoice", "Where is my invoice?")
    messages.post_message(agent.actor, ticket, "Did you try the recovery email?")
    messages.post_message(lan, ticket, "The reset link in the mail has expired already.")
    assert codes(agent.actor, q="expired") == {ticket.code}
    assert codes(agent.actor, q="reset EXPIRED") == {ticket.code}  # every word, any case
    # The words of a search may be in different messages, or in the subject and a message.
    assert codes(agent.actor, q="recovery expired") == {ticket.code}
    assert codes(agent.actor, q="login recovery") == {ticket.code}
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
    """The index is kept by the database (FTS5 triggers / search-document triggers), so every way a
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
        fts = "helpdesk_ticket_search_fts"
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
    assert [c for p in pages for c in p] == [t.code for t in reversed(found)]  # newest first
    back = queue_page(agent.actor, QueueFilter(q="refund", sort="created"), page.prev_cursor, 3)
    assert [t.code for t in back.items] == pages[1]  # from the last page, one back
    tickets.close_ticket(agent.actor, found[0])
    closed = QueueFilter(q="money", statuses=[TicketStatus.CLOSED])
    assert {t.code for t in queue_page(agent.actor, closed).items} == {found[0].code}


def test_search_results_follow_the_latest_activity_and_priority(app, departments, agent, lan):
    """Search results are in the queue's order, kept up to date as tickets change (on
    PostgreSQL the few matches are sorted by a copy of the keys kept in the search rows)."""
    a, b, c, d = [open_as(lan, departments["account"], f"Modem {n}", "blinks red") for n in "abcd"]
    assert [t.code for t in queue_page(agent.actor, QueueFilter(q="modem")).items] == [
        d.code,
        c.code,
        b.code,
        a.code,
    ]
    messages.post_message(agent.actor, b, "Please unplug it for a minute")
    desk.set_priority(agent.actor, a, "urgent")
    order = [t.code for t in queue_page(agent.actor, QueueFilter(q="modem")).items]
    assert order == [b.code, d.code, c.code, a.code]  # most recent activity first
    by_priority = queue_page(agent.actor, QueueFilter(q="modem", sort="priority")).items
    assert by_priority[0].code == a.code
    by_creation = queue_page(agent.actor, QueueFilter(q="modem", sort="created")).items
    assert [t.code for t in by_creation] == [d.code, c.code, b.code, a.code]

    first = queue_page(agent.actor, QueueFilter(q="modem"), per_page=2)
    second = queue_page(agent.actor, QueueFilter(q="modem"), first.next_cursor, 2)
    assert [t.code for t in second.items] == [c.code, a.code] and second.next_cursor is None
    back = queue_page(agent.actor, QueueFilter(q="modem"), second.prev_cursor, 2)
    assert [t.code for t in back.items] == [b.code, d.code]


def test_a_typed_word_finds_every_word_it_begins(app, departments, agent, lan):
    """On PostgreSQL a typed word is searched as the whole words it begins (from the list of
    words the documents hold), or as a prefix when it begins more than MAX_WHOLE_WORDS."""
    account = departments["account"]
    invoice = open_as(lan, account, "Invoice", "Where is the invoice?")
    invoices = open_as(lan, account, "Billing", "Two invoices missing")
    involve = open_as(lan, account, "Team", "Please involve billing")
    open_as(lan, account, "Other", "An invitation")
    assert codes(agent.actor, q="invo") == {invoice.code, invoices.code, involve.code}
    assert codes(agent.actor, q="invoice") == {invoice.code, invoices.code}
    assert codes(agent.actor, q="invoice missing") == {invoices.code}
    messages.post_message(agent.actor, involve, "Invoicing is done by another team")
    assert codes(agent.actor, q="invoic") == {invoice.code, invoices.code, involve.code}

    many = [
        open_as(lan, account, f"Serial {n}", f"Serial number zz{n:03d} is broken")
        for n in range(search.MAX_WHOLE_WORDS + 6)
    ]
    assert codes(agent.actor, q="zz") == {t.code for t in many}
    assert codes(agent.actor, q="zz0 broken") == {t.code for t in many[:100]}


def test_a_code_finds_its_ticket_and_the_tickets_that_mention_it(app, departments, agent, lan):
    ticket = open_as(lan, departments["account"], "Printer", "It jams")
    mentions = open_as(lan, departments["account"], "Again", f"Same as {ticket.code}, sorry")
    open_as(lan, departments["account"], "Other", "Nothing to do with it")
    assert codes(agent.actor, q=ticket.code) == {ticket.code, mentions.code}
    assert codes(agent.actor, q=ticket.code.split("-")[1].lower()) == {
        ticket.code,
        mentions.code,
    }
    # The prefix every code shares is no search word: "HD-" alone is not a match-all.
    assert codes(agent.actor, q=ticket.code[:3]) == set()


def test_a_thread_too_long_to_index_whole_still_takes_replies(app, departments, agent, lan):
    """A tsvector holds at most 1 MB: a thread of pasted logs (every token different) is
    indexed up to a limit instead of making the next reply fail."""
    import secrets

    ticket = open_as(lan, departments["account"], "Server logs", "first words: zebraquokka")
    for _ in range(30):  # 30 × 45,000 characters of tokens that are all different
        messages.post_message(lan, ticket, " ".join(secrets.token_hex(4) for _ in range(5_000)))
    messages.post_message(agent.actor, ticket, "We read them all, thanks")
    logs = select(func.count()).where(
        Message.ticket_id == ticket.id, func.length(Message.body) == 44_999
    )
    assert app.extensions["helpdesk"].db.session.scalar(logs) == 30
    assert codes(agent.actor, q="zebraquokka") == {ticket.code}


def test_two_replies_at_once_both_reach_the_search_index(app, departments, agent, lan):
    """Two transactions writing to one ticket at the same time: the second one's document
    must include the first one's words (PostgreSQL recomputes a ticket's whole document)."""
    import threading

    ticket = open_as(lan, departments["account"], "Two at once", "Hello")
    engine = app.extensions["helpdesk"].engine
    insert = text(
        "INSERT INTO helpdesk_message (ticket_id, kind, channel, body, data, created_at)"
        " VALUES (:t, 'reply', 'web', :body, '{}', CURRENT_TIMESTAMP)"
    )
    first = engine.connect()
    first.begin()
    first.execute(insert, {"t": ticket.id, "body": "alphaword"})
    second_done = threading.Event()

    def second() -> None:
        with engine.begin() as connection:  # waits for the first on PostgreSQL
            connection.execute(insert, {"t": ticket.id, "body": "bravoword"})
        second_done.set()

    thread = threading.Thread(target=second)
    thread.start()
    second_done.wait(0.5)
    first.commit()
    first.close()
    thread.join(10)
    assert second_done.is_set()
    assert codes(agent.actor, q="alphaword") == {ticket.code}
    assert codes(agent.actor, q="bravoword") == {ticket.code}


def test_the_few_matches_of_a_rare_word_are_sorted_and_the_queue_walked_for_a_common_one(
    app, departments, agent, lan
):
    """The shape is chosen from the number of matches: PostgreSQL's estimate (word statistics
    from ANALYZE; with these 160 tickets the threshold is sqrt(100 × 160) ≈ 126 matches), and
    SQLite's count in the index, which stops at its threshold (sqrt(3 × 160) ≈ 22)."""
    db_session = app.extensions["helpdesk"].db.session
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setattr(search, "walk_the_queue", shipped_walk_the_queue)  # not the fixture's
    try:
        for i in range(160):
            words = "ordinary printer" if i % 40 else "ordinary scanner"
            open_as(lan, departments["account"], f"Ticket {i}", words)
        db_session.commit()
        if db_session.get_bind().dialect.name == "postgresql":
            db_session.execute(text("ANALYZE helpdesk_ticket_search"))
        common = search.matching_tickets("ordinary")
        rare = search.matching_tickets("scanner")
        assert (common.sorted_matches is None, rare.sorted_matches is None) == (True, False)
        assert len(codes(agent.actor, q="scanner")) == 4
        assert len(codes(agent.actor, q="ordinary")) == 160
        assert len(codes(agent.actor, q="ordinary scanner")) == 4
    finally:
        monkeypatch.undo()
