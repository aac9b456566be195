"""Full-text search in the queue, on the database's own engine (FTS5 / tsvector + GIN)."""

from flask_helpdesk.services import messages
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
