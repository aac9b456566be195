"""The counters every writer adds to, under real parallel transactions on PostgreSQL (issue 17):
the department counts and the reports' roll-up are spread over slot rows (models/base.py,
HOT_SLOTS), so creators in different slots do not wait for each other's commits, and what the
desk and the reports show stays exact after eight creators at once, after status changes, moves
and deletes at once, and after the past slots are folded."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session

from flask_helpdesk.models import (
    Agent,
    Channel,
    Contact,
    FactKind,
    Priority,
    Ticket,
    TicketCount,
    TicketStatus,
    report_day,
    utcnow,
)
from flask_helpdesk.models.base import HOT_SLOTS
from flask_helpdesk.services import desk, facts, hot_rows, tickets
from flask_helpdesk.services.base import session
from flask_helpdesk.services.identity import agent_as_actor, contact_as_actor
from tests.desk.conftest import open_as
from tests.desk.test_department_counts import kept, recount
from tests.parallel import only_postgres, run_at_once
from tests.reports.test_rollup import _rollup_rows

pytestmark = only_postgres

CREATORS = 8


def assert_exact(*actors) -> None:
    """The desk's counters equal a count of the tickets, and the reports' roll-up (summed over
    its slots, as the reports read it) equals a rebuild from the facts, in a transaction rolled
    back (a rebuild writes slot 0 only). A deleted ticket took its facts and their counts in the
    roll-up with it (services/facts.py)."""
    session().expire_all()
    for actor in actors:
        assert kept(actor) == recount(actor)
    live = _rollup_rows()
    facts.rebuild_rollup(session().connection(), facts.reports_zone().key)
    assert _rollup_rows() == live
    session().rollback()


def test_eight_creators_at_once_count_into_several_slots_and_every_figure_stays_exact(
    app, departments, admin, agent, lan, database_url, tmp_path
):
    contact_id, per_creator = lan.contact.id, 6
    account, billing = departments["account"].id, departments["billing"].id

    def create(index: int) -> None:
        actor = contact_as_actor(session().get(Contact, contact_id))
        for n in range(per_creator):
            tickets.open_ticket(
                actor,
                tickets.NewTicket(
                    department_id=account if n % 3 else billing, subject=f"R {index}-{n}", body="x"
                ),
            )

    run_at_once(database_url, tmp_path, create, threads=CREATORS)

    # Each creator's connection counted into its own slot (its backend pid modulo the slots):
    # the unassigned open tickets of Account are spread over several rows that add up.
    cell = select(TicketCount.slot, TicketCount.n).where(
        TicketCount.department_id == account,
        TicketCount.assignee_id == 0,
        TicketCount.status == TicketStatus.OPEN.value,
    )
    rows = session().execute(cell).all()
    assert len(rows) > 1 and all(0 <= slot < HOT_SLOTS for slot, _n in rows)
    assert sum(n for _slot, n in rows) == CREATORS * 4
    assert kept(admin.actor)[account].new == CREATORS * 4
    assert kept(admin.actor)[billing].new == CREATORS * 2
    r = report_day.c
    created = select(func.count(), func.sum(r.created)).where(
        r.span == facts.DAY, r.department_id == account
    )
    spread, total = session().execute(created).one()
    assert spread > 1 and total == CREATORS * 4
    assert_exact(admin.actor, agent.actor)

    # The slots folded (as the hourly sweep does; the roll-up's once the day and week are
    # over): one row per cell, and per group and period, the same figures.
    before, counted = _rollup_rows(), kept(admin.actor)
    cells = session().execute(
        select(func.count()).select_from(
            select(TicketCount.department_id, TicketCount.assignee_id, TicketCount.status)
            .distinct()
            .subquery()
        )
    )
    cells = cells.scalar()
    assert hot_rows.fold_slots(now=utcnow() + timedelta(days=8)) == cells + len(before)
    slots = session().execute(select(r.slot, func.count()).group_by(r.slot)).all()
    assert slots == [(0, len(before))]
    assert _rollup_rows() == before
    count_slots = select(TicketCount.slot, func.count()).group_by(TicketCount.slot)
    assert session().execute(count_slots).all() == [(0, cells)]
    assert kept(admin.actor) == counted == recount(admin.actor)


def test_status_changes_moves_and_deletes_at_once_keep_every_figure_exact(
    app, departments, admin, agent, lan, database_url, tmp_path
):
    """Eight threads at once, each on its own three tickets of Account: closing them, moving
    them to Billing, assigning them and changing their status, or deleting them, and opening a
    new one in Account after each (so creations count into the same cells meanwhile)."""
    per_thread = 3
    made = [open_as(lan, departments["account"]) for _ in range(CREATORS * per_thread)]
    ids = [t.id for t in made]
    admin_id, agent_id, contact_id = admin.actor.agent.id, agent.actor.agent.id, lan.contact.id
    account, billing = departments["account"].id, departments["billing"].id

    def change(index: int) -> None:
        boss = agent_as_actor(session().get(Agent, admin_id))
        customer = contact_as_actor(session().get(Contact, contact_id))
        for ticket_id in ids[index * per_thread : (index + 1) * per_thread]:
            ticket = session().get(Ticket, ticket_id)
            kind = index % 4
            if kind == 0:
                tickets.change_status(boss, ticket, TicketStatus.CLOSED)
            elif kind == 1:
                desk.transfer(boss, ticket, billing)
            elif kind == 2:
                desk.assign(boss, ticket, agent_id)
                tickets.change_status(boss, ticket, TicketStatus.PROCESSING)
            else:
                session().delete(ticket)
                session().commit()
            tickets.open_ticket(
                customer, tickets.NewTicket(department_id=account, subject="Meanwhile", body="x")
            )

    run_at_once(database_url, tmp_path, change, threads=CREATORS)

    assert_exact(admin.actor, agent.actor)
    counts = kept(admin.actor)
    quarter = CREATORS // 4 * per_thread  # the tickets of each kind of change
    assert (counts[billing].new, counts[account].closed) == (quarter, quarter)
    assert counts[account].open == quarter  # assigned and processing
    assert counts[account].new == CREATORS * per_thread  # the new ones
    total = session().scalar(select(func.count()).select_from(Ticket))
    assert total == 2 * CREATORS * per_thread - quarter


def _connections_in_two_slots(url: str):
    """Two connections whose backends have different slots (pid modulo the slots)."""
    engine = create_engine(url)
    held, by_slot = [], {}
    while len(by_slot) < 2:
        connection = engine.connect()
        held.append(connection)
        pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        connection.rollback()  # the sessions below begin (and commit) their own transactions
        by_slot.setdefault(pid % HOT_SLOTS, connection)
    first, second = by_slot.values()
    for connection in held:
        if connection is not first and connection is not second:
            connection.close()
    return engine, first, second


def _new_ticket(db: Session, department_id: int, requester_id: int, code: str) -> None:
    """What a creation writes to the hot rows: the ticket (its count, by the trigger) and its
    ``created`` fact's roll-up rows, left uncommitted."""
    ticket = Ticket(
        code=code,
        subject="Hot",
        department_id=department_id,
        requester_id=requester_id,
        channel=Channel.WEB,
        priority=Priority.NORMAL,
    )
    db.add(ticket)
    db.flush()
    facts.roll_up(
        [
            {
                "kind": FactKind.CREATED,
                "at": utcnow(),
                "department_id": department_id,
                "assignee_id": None,
                "agent_id": None,
                "channel": Channel.WEB,
                "priority": Priority.NORMAL,
                "backlog_delta": 1,
            }
        ],
        db=db,
    )


def test_a_creator_does_not_wait_for_another_creators_commit(
    app, departments, admin, lan, database_url
):
    """Two creations in one department, the first left uncommitted: with one row per cell the
    second waited on the first's count and roll-up rows until its commit (here: its lock
    timeout); in another slot it commits at once."""
    account = departments["account"].id
    engine, first, second = _connections_in_two_slots(database_url)
    try:
        with Session(bind=first) as holding, Session(bind=second) as other:
            _new_ticket(holding, account, lan.contact.id, "HD-HOTAAA")
            other.execute(text("SET LOCAL lock_timeout = '2s'"))
            _new_ticket(other, account, lan.contact.id, "HD-HOTBBB")
            other.commit()
            holding.commit()
    finally:
        first.close()
        second.close()
        engine.dispose()
    counts = kept(admin.actor)
    assert counts[account].new == 2
    assert counts == recount(admin.actor)
    r = report_day.c
    assert session().execute(
        select(func.sum(r.created)).where(r.department_id == account).group_by(r.span)
    ).scalars().all() == [2, 2]


def test_a_fold_meeting_a_batch_in_a_deadlock_tries_again(
    app, departments, admin, lan, database_url
):
    """A worker's batch of mails writes its tickets' counts in the order of its mails (Billing,
    then Account here), the fold in key order (Account, then Billing): each held a row the other
    waited for, PostgreSQL ended the fold ("deadlock detected"), and the ``fold-slots`` sweep
    failed (seen in the load test, bench/load.py). The fold now tries again and folds all."""
    account, billing = departments["account"].id, departments["billing"].id
    engine = create_engine(database_url)
    held = []
    while True:  # a connection writing outside slot 0, whose rows the fold takes
        connection = engine.connect()
        held.append(connection)
        pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        connection.rollback()
        if pid % HOT_SLOTS:
            break
    failures: list[BaseException] = []
    try:
        with Session(bind=connection) as batch:
            _new_ticket(batch, account, lan.contact.id, "HD-FOLDA1")
            _new_ticket(batch, billing, lan.contact.id, "HD-FOLDB1")
            batch.commit()  # both cells have a row in this slot
            _new_ticket(batch, billing, lan.contact.id, "HD-FOLDB2")  # Billing's row locked

            def fold() -> None:
                with app.app_context():
                    try:
                        hot_rows.fold_slots()
                    except BaseException as error:
                        failures.append(error)

            folding = threading.Thread(target=fold)
            folding.start()
            time.sleep(0.5)  # the fold holds Account's row and waits for Billing's
            _new_ticket(batch, account, lan.contact.id, "HD-FOLDA2")  # waits: a deadlock
            batch.commit()
            folding.join(timeout=30)
    finally:
        for connection in held:
            connection.close()
        engine.dispose()
    assert not folding.is_alive()
    assert failures == []
    session().expire_all()
    # Everything folded into slot 0, every figure exact.
    assert session().execute(select(TicketCount.slot).where(TicketCount.slot != 0)).all() == []
    counts = kept(admin.actor)
    assert counts == recount(admin.actor)
    assert counts[account].new == 2 and counts[billing].new == 2
