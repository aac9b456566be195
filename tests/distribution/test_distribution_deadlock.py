"""Ticket creation and distribution keep one lock order on PostgreSQL: a distributing
department's row before any ticket count slot row (services/distribution.py,
``lock_department_first``). Two customers opening tickets in one distributing department at the
same moment both get their ticket, assigned; before, each creator's INSERT held the department's
row ``FOR KEY SHARE`` (its foreign key) and a slot of the counts, then both asked for the row
``FOR UPDATE``: PostgreSQL aborted one of them (deadlock detected), the customer's ticket lost.
Likewise a customer's reply reopening an unassigned ticket while an offer hands out another
ticket of the department: the reply's status change took a count slot row and then waited for
the department's row, which the offer held while it waited for the same slot row.
Real parallel transactions (SQLite has one writer at a time: no race there)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from flask import current_app
from sqlalchemy import select, text

from flask_helpdesk.models import Availability, Contact, Ticket, TicketStatus
from flask_helpdesk.services import agents, distribution, messages, tickets
from flask_helpdesk.services.base import session
from flask_helpdesk.services.identity import agent_as_actor, contact_as_actor
from tests.distribution.conftest import make_distribute_rule
from tests.parallel import only_postgres, run_at_once

pytestmark = only_postgres


def _someone_waits_for_a_lock() -> bool:
    """Whether another backend of this database waits for a lock (asked on a connection of its
    own: a transaction sees one snapshot of pg_stat_activity)."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    with current_app.extensions["helpdesk"].engine.connect() as connection:
        return bool(connection.scalar(query))


def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the other creator neither went on nor waited")
        time.sleep(0.02)


def _two_creators_at_once(lan, departments, database_url, tmp_path, monkeypatch) -> list:
    """Two customers open a ticket in Account at the same moment: each creator's ticket is
    INSERTed, then each waits for the other's INSERT (or for the other to wait for a lock: it
    queued) before it distributes. The assignees, as stored, in the creators' order; fails when
    a creator failed."""
    contact_id, department_id = lan.contact.id, departments["account"].id
    first_inserted, second_inserted, first_done = (threading.Event() for _ in range(3))
    creator = threading.local()
    distribute = distribution.distribute_ticket

    def distribute_when_both_are_in(ticket: Ticket, *args, **kwargs):
        """Each creator's ticket is INSERTed; hold until the other one's is too (or the other
        waits for a lock: it queued on the department's row), then distribute."""
        if creator.index == 0:
            first_inserted.set()
            _until(lambda: second_inserted.is_set() or _someone_waits_for_a_lock())
        else:
            second_inserted.set()
            _until(lambda: first_done.is_set() or _someone_waits_for_a_lock())
        return distribute(ticket, *args, **kwargs)

    monkeypatch.setattr(distribution, "distribute_ticket", distribute_when_both_are_in)

    def work(index: int) -> int | None:
        creator.index = index
        if index == 1:
            assert first_inserted.wait(10)
        try:
            actor = contact_as_actor(session().get(Contact, contact_id))
            new = tickets.NewTicket(department_id=department_id, subject=f"Help {index}", body="?")
            code = tickets.open_ticket(actor, new).code
            session().commit()
            return session().scalar(select(Ticket.assignee_id).where(Ticket.code == code))
        finally:
            if index == 0:
                first_done.set()

    return run_at_once(database_url, tmp_path, work)


def test_two_tickets_opened_at_once_in_a_distributing_department_are_both_stored_and_assigned(
    team, round_robin, lan, departments, database_url, tmp_path, monkeypatch
):
    assignees = _two_creators_at_once(lan, departments, database_url, tmp_path, monkeypatch)
    assert [team.by_id(agent_id) for agent_id in assignees] == ["A", "B"]
    session().expire_all()
    stored = session().query(Ticket).filter(Ticket.subject.like("Help %")).order_by(Ticket.id)
    assert [(t.subject, team.by_id(t.assignee_id)) for t in stored] == [
        ("Help 0", "A"),
        ("Help 1", "B"),
    ]


_SLOT = text("SELECT mod(pg_backend_pid(), 16)")  # the counts' slot of this connection (0033)


def _connect_to_slot(wanted: int) -> None:
    """Make the session's connection one whose count slot is *wanted* (new ones until then)."""
    while session().scalar(_SLOT) != wanted:
        session().connection().invalidate()
        session().close()


def _two_waiting(team, open_in, status: TicketStatus) -> tuple[int, int]:
    """Two tickets waiting unassigned in Account (nobody available when they came), then,
    behind the services: the first one in *status*, the second one with the status a
    customer's reply gives the first ("customer replied"), so the reply and an offer of the
    second add to the same count cell; the agents available again (no offer run yet)."""
    for agent in (team.a, team.b, team.c):
        agents.set_availability(agent_as_actor(agent), "away")
    replied, waiting = open_in(subject="Replied"), open_in(subject="Waiting")
    replied.status, waiting.status = status, TicketStatus.CUSTOMER_REPLIED
    for agent in (team.a, team.b, team.c):
        agent.availability = Availability.AVAILABLE
    session().commit()
    return replied.id, waiting.id


def _both_handed_out(team, ids: tuple[int, int]) -> None:
    session().expire_all()
    assigned = [team.by_id(session().get(Ticket, i).assignee_id) for i in ids]
    assert sorted(assigned) == ["A", "B"]
    assert session().get(Ticket, ids[0]).status == TicketStatus.CUSTOMER_REPLIED


def _reply_while_an_offer_runs(lan, ids, database_url, tmp_path, monkeypatch) -> list:
    """The customer replies to the ticket ``ids[0]`` while an offer runs in its department (on
    a connection with the reply's count slot, once the reply's status change is written: the
    reply's distribution, or its rule's, waits until the offer waits for a lock). ``[1, 1]``
    when both went through, else what failed."""
    department_id = session().get(Ticket, ids[0]).department_id
    contact_id = lan.contact.id
    slot: list[int] = []
    slot_known, reply_flushed = threading.Event(), threading.Event()
    distribute = distribution.distribute_ticket

    def distribute_once_the_offer_waits(ticket: Ticket, *args, **kwargs):
        if ticket.id == ids[0]:  # the reply's: its status change is written (slot taken)
            reply_flushed.set()
            _until(_someone_waits_for_a_lock)  # the offer, on the slot (before) or department
        return distribute(ticket, *args, **kwargs)

    monkeypatch.setattr(distribution, "distribute_ticket", distribute_once_the_offer_waits)

    def work(index: int) -> int:
        if index == 0:  # the customer replies
            slot.append(session().scalar(_SLOT))
            slot_known.set()
            customer = contact_as_actor(session().get(Contact, contact_id))
            messages.post_message(customer, session().get(Ticket, ids[0]), "Again")
            session().commit()
            return 1
        # The offer (an agent back from a break): on a connection with the reply's count slot.
        assert slot_known.wait(10)
        _connect_to_slot(slot[0])
        assert reply_flushed.wait(10)
        return distribution.offer_waiting(department_id)

    return run_at_once(database_url, tmp_path, work)


def test_a_reply_reopening_a_ticket_while_an_offer_runs_in_its_department_both_go_through(
    team, round_robin, lan, open_in, database_url, tmp_path, monkeypatch
):
    # One closed: the customer's reply reopens it ("customer replied").
    ids = _two_waiting(team, open_in, TicketStatus.CLOSED)
    assert _reply_while_an_offer_runs(lan, ids, database_url, tmp_path, monkeypatch) == [1, 1]
    _both_handed_out(team, ids)


def test_two_tickets_opened_at_once_where_a_rule_distributes_are_both_stored_and_assigned(
    team, lan, departments, distribute_rule, database_url, tmp_path, monkeypatch
):
    """A department that does not distribute, a rule handing its new tickets out: the rule's
    distribution runs after the ticket's INSERT (no department lock taken first, the mode is
    off), so the two creators each hold the department's row ``FOR KEY SHARE`` (their foreign
    key) when they ask for it. Distribution locks it ``FOR NO KEY UPDATE``, which a key share
    does not block: one queues behind the other. ``FOR UPDATE`` deadlocked here every time."""
    session().commit()
    assignees = _two_creators_at_once(lan, departments, database_url, tmp_path, monkeypatch)
    assert sorted(team.by_id(agent_id) for agent_id in assignees) == ["A", "B"]


def test_a_rule_distributing_after_a_reply_while_an_offer_runs_in_its_department_both_go_through(
    team, round_robin, lan, open_in, database_url, tmp_path, monkeypatch
):
    """A rule hands a waiting ticket out when its customer replies ("customer replied":
    distribute) in a distributing department, while an offer (an agent back from a break)
    hands out another waiting ticket there, on a connection with the reply's count slot. The
    reply's status change (answered -> customer replied) adds to a count slot row before the
    rule's distribution asks for the department's row, which the offer held while it waited for
    that slot row: PostgreSQL aborted one of them (deadlock detected, 3 runs out of 3). Now the
    rules engine takes the department's row before a distributing rule touches the ticket, and
    a status change of a waiting ticket takes it before its UPDATE (either alone passes here):
    the offer queues behind the reply."""
    # One answered: the customer's reply makes it "customer replied", live before and after.
    ids = _two_waiting(team, open_in, TicketStatus.ANSWERED)
    make_distribute_rule("customer_replied")
    assert _reply_while_an_offer_runs(lan, ids, database_url, tmp_path, monkeypatch) == [1, 1]
    _both_handed_out(team, ids)
