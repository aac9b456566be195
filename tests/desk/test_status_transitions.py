"""Every status change goes through one helper that sends ``ticket-status-changed`` (and
``ticket-closed`` when a ticket closes) after the commit: the status control for every status
and choice, replies, closing, merging, and restoring a ticket marked as spam."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from flask_helpdesk import signals
from flask_helpdesk.models import TicketStatus as S
from flask_helpdesk.services import ValidationError, desk, messages, tickets
from flask_helpdesk.services.base import session
from flask_helpdesk.workflow import agent_choices
from tests.desk.conftest import DESK, open_as


@contextmanager
def heard(app) -> Iterator[list[tuple]]:
    """What the status signals said during the block, in order."""
    said: list[tuple] = []

    def changed(sender, ticket, old_status, new_status, **extra):
        said.append(("changed", ticket.code, old_status, new_status))

    def closed(sender, ticket, **extra):
        said.append(("closed", ticket.code))

    with (
        signals.ticket_status_changed.connected_to(changed, app),
        signals.ticket_closed.connected_to(closed, app),
    ):
        yield said


def in_status(actor, department, status: S):
    ticket = open_as(actor, department)
    ticket.status = status  # test setup: put the ticket where the case starts
    session().commit()
    return ticket


@pytest.mark.parametrize("current", list(S), ids=str)
def test_status_control_sends_the_signals_for_every_status_and_choice(
    app, departments, agent, lan, current
):
    for target in S:
        ticket = in_status(lan, departments["account"], current)
        with heard(app) as said:
            if target in agent_choices(current):
                tickets.change_status(agent.actor, ticket, target)
                expected = [("changed", ticket.code, current, target)]
                if target == S.CLOSED:
                    expected.append(("closed", ticket.code))
                assert said == expected
                assert ticket.status == target
            else:
                with pytest.raises(ValidationError):
                    tickets.change_status(agent.actor, ticket, target)
                assert said == []


def test_spam_can_be_restored_from_the_desk(app, departments, agent, lan):
    ticket = in_status(lan, departments["account"], S.OPEN)
    tickets.change_status(agent.actor, ticket, S.SPAM)
    client = app.test_client(user=agent.member)
    page = client.get(f"{DESK}/tickets/{ticket.code}").get_data(as_text=True)
    assert 'value="open"' in page  # the status control offers to restore it
    with heard(app) as said:
        tickets.change_status(agent.actor, ticket, S.OPEN)
    assert ticket.status == S.OPEN
    assert said == [("changed", ticket.code, S.SPAM, S.OPEN)]


def test_merging_closes_the_duplicate_with_its_signals(app, departments, agent, lan):
    target = open_as(lan, departments["account"], subject="First")
    duplicate = open_as(lan, departments["account"], subject="Again")
    with heard(app) as said:
        desk.merge(agent.actor, duplicate, target.code)
    assert said == [("changed", duplicate.code, S.OPEN, S.CLOSED), ("closed", duplicate.code)]


def test_replies_send_status_changed_only_when_the_status_moves(app, departments, agent, lan):
    ticket = open_as(lan, departments["account"])
    with heard(app) as said:
        messages.post_message(lan, ticket, "More details")  # open stays open
        messages.post_message(agent.actor, ticket, "We are on it")
        messages.post_message(agent.actor, ticket, "A note", internal=True)
    assert said == [("changed", ticket.code, S.OPEN, S.ANSWERED)]


def test_customer_closing_sends_closed(app, departments, lan):
    ticket = open_as(lan, departments["account"])
    with heard(app) as said:
        tickets.close_ticket(lan, ticket)
    assert said == [("changed", ticket.code, S.OPEN, S.CLOSED), ("closed", ticket.code)]


def test_nothing_is_heard_of_a_change_that_was_rolled_back(app, departments, agent, lan):
    from flask_helpdesk.services.base import rollback
    from flask_helpdesk.services.transitions import transition
    from flask_helpdesk.workflow import Trigger

    ticket = open_as(lan, departments["account"])
    with heard(app) as said:
        transition(agent.actor, ticket, Trigger.PROCESS)
        rollback()
        messages.post_message(lan, ticket, "Still there?")  # the next commit sends nothing old
    assert said == []
    assert session().get(type(ticket), ticket.id).status == S.OPEN
