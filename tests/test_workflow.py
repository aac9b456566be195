"""The ticket state machine, every status against every trigger: written out here once more,
by hand, so a change to workflow.py's table is a deliberate change to this one too."""

from __future__ import annotations

import itertools

import pytest

from flask_helpdesk.models import TicketStatus as S
from flask_helpdesk.workflow import (
    TRANSITIONS,
    InvalidTransition,
    Trigger,
    agent_choices,
    next_status,
    trigger_for_agent_choice,
)

T = Trigger
_ = None  # not allowed

# Short names for the table below.
OPEN, ANS, PROC, REPL, CLO, SPAM = (
    S.OPEN,
    S.ANSWERED,
    S.PROCESSING,
    S.CUSTOMER_REPLIED,
    S.CLOSED,
    S.SPAM,
)
# rows: the current status; columns: what happens.
COLUMNS = (
    T.AGENT_REPLY,
    T.CUSTOMER_REPLY,
    T.PROCESS,
    T.ANSWER,
    T.REOPEN,
    T.CLOSE,
    T.MARK_SPAM,
    T.NOT_SPAM,
)
# fmt: off
EXPECTED = {
    #      agent_reply customer_reply process answer reopen close mark_spam not_spam
    OPEN: (ANS,        OPEN,          PROC,   ANS,   _,     CLO,  SPAM,     _),
    ANS:  (ANS,        REPL,          PROC,   _,     OPEN,  CLO,  SPAM,     _),
    PROC: (ANS,        REPL,          _,      ANS,   OPEN,  CLO,  SPAM,     _),
    REPL: (ANS,        REPL,          PROC,   ANS,   OPEN,  CLO,  SPAM,     _),
    CLO:  (ANS,        REPL,          _,      _,     OPEN,  _,    SPAM,     _),
    SPAM: (_,          _,             _,      _,     _,     _,    _,        OPEN),
}
# fmt: on


def test_the_table_covers_every_status_and_trigger():
    assert set(EXPECTED) == set(S) == set(TRANSITIONS)
    assert set(COLUMNS) == set(Trigger)


@pytest.mark.parametrize(
    ("current", "trigger"), list(itertools.product(list(S), list(Trigger))), ids=str
)
def test_every_status_and_trigger(current, trigger):
    expected = EXPECTED[current][COLUMNS.index(trigger)]
    if expected is None:
        with pytest.raises(InvalidTransition):
            next_status(current, trigger)
    else:
        assert next_status(current, trigger) == expected


def test_every_trigger_and_status_can_be_reached():
    """Nothing in the table is dead: ``not_spam`` used to be unreachable from any control."""
    reached = {S.OPEN}
    used = set()
    for current in S:
        for target in agent_choices(current):
            trigger = trigger_for_agent_choice(current, target)
            used.add(trigger)
            reached.add(next_status(current, trigger))
    # Replies move the status too (not through the status control).
    used |= {T.AGENT_REPLY, T.CUSTOMER_REPLY}
    reached.add(next_status(S.ANSWERED, T.CUSTOMER_REPLY))
    assert used == set(Trigger)
    assert reached == set(S)


# What the desk's status control offers on a ticket in each status.
CHOICES = {
    S.OPEN: {S.PROCESSING, S.ANSWERED, S.CLOSED, S.SPAM},
    S.ANSWERED: {S.OPEN, S.PROCESSING, S.CLOSED, S.SPAM},
    S.PROCESSING: {S.OPEN, S.ANSWERED, S.CLOSED, S.SPAM},
    S.CUSTOMER_REPLIED: {S.OPEN, S.PROCESSING, S.ANSWERED, S.CLOSED, S.SPAM},
    S.CLOSED: {S.OPEN, S.SPAM},
    S.SPAM: {S.OPEN},
}


@pytest.mark.parametrize("current", list(S), ids=str)
def test_agent_choices(current):
    assert set(agent_choices(current)) == CHOICES[current]
    for target in set(S) - CHOICES[current] - {current}:
        with pytest.raises(InvalidTransition):
            trigger_for_agent_choice(current, target)


def test_restoring_spam_is_not_spam_and_reopening_is_reopen():
    assert trigger_for_agent_choice(S.SPAM, S.OPEN) == T.NOT_SPAM
    assert trigger_for_agent_choice(S.CLOSED, S.OPEN) == T.REOPEN
