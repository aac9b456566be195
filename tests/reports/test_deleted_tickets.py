"""A deleted ticket leaves the reports and the desk's counters as a recount finds them: its
facts and their counts in the roll-up go in the transaction of the delete, whether the host
deletes it through the session one by one or in one DELETE statement."""

from __future__ import annotations

import threading
from datetime import date

from sqlalchemy import delete, func, select

from flask_helpdesk.models import Agent, Ticket, TicketFact
from flask_helpdesk.services import desk, facts, messages, ratings, reports, tickets
from flask_helpdesk.services.base import session, unit_of_work
from flask_helpdesk.services.identity import agent_as_actor
from tests.desk.test_department_counts import kept, recount
from tests.distribution.test_distribution_deadlock import _someone_waits_for_a_lock, _until
from tests.parallel import only_postgres, run_at_once
from tests.reports.test_rollup import _rollup_rows

PERIOD = reports.Period(date(2026, 3, 2), date(2026, 3, 8))


def _figures(actor) -> tuple:
    totals = reports.overview(actor, PERIOD, None)[0][("current", None)]
    by_department = reports.overview(actor, PERIOD, "department")[0]
    return (
        (totals.created, totals.solved, totals.reopened, totals.first_responses),
        (totals.met, totals.with_target, totals.good, totals.rated, totals.backlog),
        totals.times,
        sorted((key, f.created, f.backlog) for key, f in by_department.items()),
        [(day.created, day.solved, day.backlog) for day in reports.daily(actor, PERIOD)[1]],
    )


def test_deleted_tickets_leave_the_reports_as_a_rebuild_finds_them(
    policy, clock, lan, agent, admin, open_for, departments
):
    clock.set("2026-03-02T09:00+00:00")
    stays, one, two, three = (open_for(lan, priority=p) for p in ("normal", "high", "low", "high"))
    clock.set("2026-03-02T10:00+00:00")
    for ticket in (stays, one, two):
        messages.post_message(agent, ticket, "Try again.")
    desk.assign(admin, one, agent.agent.id)
    clock.set("2026-03-03T11:00+00:00")
    tickets.close_ticket(lan, one)
    ratings.rate_ticket(lan, one, 5)
    tickets.close_ticket(lan, stays)
    desk.transfer(admin, two, departments["billing"].id)
    clock.set("2026-03-04T08:00+00:00")
    messages.post_message(lan, stays, "Broken again.")  # reopens
    before = _figures(admin)
    assert before[0] == (4, 2, 1, 3)

    session().delete(session().get(Ticket, one.id))  # the ORM's delete, in its flush
    session().commit()
    session().execute(delete(Ticket).where(Ticket.id.in_([two.id, three.id])))  # one statement
    session().commit()

    after = _figures(admin)
    assert after[0] == (1, 1, 1, 1)  # what is left: the ticket that stays
    assert after[1][-1] == 1  # in the backlog, reopened
    left = session().scalars(select(TicketFact.ticket_id).distinct()).all()
    assert left == [stays.id]  # on SQLite too, whose foreign keys do not cascade here
    live = _rollup_rows()
    assert facts.rebuild() > 0
    assert _rollup_rows() == live
    assert _figures(admin) == after
    assert kept(admin) == recount(admin)  # the desk's counters: the database's trigger
    assert session().scalar(select(func.count()).select_from(Ticket)) == 1


def test_a_delete_rolled_back_takes_nothing_from_the_reports(lan, admin, open_for, clock):
    clock.set("2026-03-02T09:00+00:00")
    ticket = open_for(lan)
    before = _figures(admin)
    session().delete(ticket)
    session().flush()
    assert _figures(admin)[0][0] == 0
    session().rollback()
    assert _figures(admin) == before
    assert kept(admin) == recount(admin) != {}


@only_postgres
def test_a_reply_written_while_its_ticket_is_deleted_is_taken_back_too(
    lan, agent, admin, open_for, clock, database_url, tmp_path
):
    """An agent's reply (its facts written, not committed yet) and the ticket's delete at
    once: the delete waits for the reply's commit, then takes back the reply's facts too (it
    used to read the facts before waiting, and the cascade deleted the reply's uncounted)."""
    clock.set("2026-03-02T09:00+00:00")
    ticket_id, agent_id = open_for(lan).id, agent.agent.id
    replied = threading.Event()

    def work(index: int) -> None:
        if index == 0:  # the reply: facts written, then it commits once the delete waits
            with unit_of_work():
                actor = agent_as_actor(session().get(Agent, agent_id))
                messages.post_message(actor, session().get(Ticket, ticket_id), "On it.")
                session().flush()
                replied.set()
                _until(_someone_waits_for_a_lock)
        else:
            assert replied.wait(30)
            session().delete(session().get(Ticket, ticket_id))
            session().commit()

    run_at_once(database_url, tmp_path, work, threads=2)

    session().expire_all()
    assert session().scalar(select(func.count()).select_from(TicketFact)) == 0
    assert _figures(admin)[0] == (0, 0, 0, 0)
    assert _rollup_rows() == {}
