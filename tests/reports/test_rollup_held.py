"""The roll-up rows ticket creation holds back to the end of its block
(``facts.rollup_at_the_end``) agree with the facts whatever happens inside the block: a commit
there stores them with it, a savepoint rolled back drops those of its facts, and an exception
leaves them to the transaction (stored if it still commits, dropped if it rolls back)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from flask_helpdesk.models import FactKind, Priority, TicketFact, report_day
from flask_helpdesk.services import desk, facts
from flask_helpdesk.services.base import commit, rollback, session, unit_of_work
from tests.reports.test_rollup import _rollup_rows


class Boom(Exception):
    """Something failing half-way through a block."""


def _urgent_backlog() -> int:
    return session().scalar(
        select(func.coalesce(func.sum(report_day.c.backlog), 0)).where(
            report_day.c.span == facts.DAY, report_day.c.priority == int(Priority.URGENT)
        )
    )


def _moves() -> int:
    return session().scalar(
        select(func.count()).where(TicketFact.kind.in_([FactKind.MOVED_IN, FactKind.MOVED_OUT]))
    )


def _assert_rollup_is_the_facts() -> None:
    """What is stored: the live roll-up equals one rebuilt from the stored facts."""
    rollback()  # nothing left uncommitted counts
    live = _rollup_rows()
    facts.rebuild()
    assert _rollup_rows() == live


def test_a_commit_inside_the_block_stores_the_rows_held_so_far(lan, admin, open_for):
    ticket = open_for(lan)
    with facts.rollup_at_the_end():
        desk.set_priority(admin, ticket, "urgent")  # a service: it commits
    rollback()  # nothing commits after the block (a request that ends here)
    assert _moves() == 2
    assert _urgent_backlog() == 1
    _assert_rollup_is_the_facts()


def test_a_rolled_back_savepoint_drops_the_rows_held_since_it_began(lan, admin, open_for):
    ticket = open_for(lan)
    with unit_of_work(), facts.rollup_at_the_end():
        desk.set_priority(admin, ticket, "high")  # kept
        with pytest.raises(Boom), session().begin_nested():
            desk.set_priority(admin, ticket, "urgent")  # rolled back with its savepoint
            raise Boom
    assert ticket.priority == Priority.HIGH
    assert _moves() == 2
    assert _urgent_backlog() == 0
    _assert_rollup_is_the_facts()


def test_an_exception_leaves_the_held_rows_to_the_transaction(lan, admin, open_for):
    first, second = open_for(lan), open_for(lan)
    # The caller goes on and commits: the facts written before the exception are stored, and
    # their roll-up rows with them.
    with pytest.raises(Boom), facts.rollup_at_the_end():
        first.priority = Priority.URGENT
        raise Boom
    commit()
    assert _urgent_backlog() == 1
    # The caller rolls back: neither the facts nor their roll-up rows are stored.
    with pytest.raises(Boom), facts.rollup_at_the_end():
        second.priority = Priority.URGENT
        raise Boom
    rollback()
    commit()
    assert _moves() == 2
    assert _urgent_backlog() == 1
    _assert_rollup_is_the_facts()
