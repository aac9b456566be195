"""What automatic distribution adds to a new ticket (the issue's target: at most 5 ms).

    python bench/distribution.py [--database-url postgresql+psycopg://postgres@127.0.0.1/bench] \
        [--agents 50] [--history 100000] [--tickets 300]

EMPTIES the given database (default: a throwaway SQLite file). Creates one department with
--agents agents (round robin, capacity 1000), --history closed tickets spread over them (what
the load count must skip on the assignee index), then opens --tickets tickets twice through the
ticket service: with distribution off and on. It prints the median and 95th percentile of a whole
ticket creation both ways, and of ``distribute_ticket`` itself (its statements flushed, the
commit left to the creation it is part of), in wall time and in this process's CPU time (a
fair figure on a busy machine). No assertion: figures to read, and to copy to
docs/automation.rst when they change.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event, insert

from example_app import create_app
from example_app.models import Member, db


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    return f"median {statistics.median(ordered) * 1000:6.2f} ms   p95 {p95 * 1000:6.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--history", type=int, default=100_000)
    parser.add_argument("--tickets", type=int, default=300)
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--profile", action="store_true", help="cProfile distribute_ticket (CPU clock)"
    )
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    url = args.database_url or f"sqlite:///{folder / 'bench.sqlite'}"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "HELPDESK_STORAGE_PATH": str(folder / "files"),
            "HELPDESK_REDIS_URL": None,
            "MAIL_SUPPRESS_SEND": True,
            "HELPDESK_MAIL_BACKEND": "log",
            "SERVER_NAME": "desk.example.com",
        }
    )
    from flask_helpdesk.models import Ticket, TicketStatus, utcnow
    from flask_helpdesk.services import distribution, tickets
    from flask_helpdesk.services.agents import make_agent
    from flask_helpdesk.services.departments import create_department
    from flask_helpdesk.services.identity import SYSTEM, contact_as_actor, sync_contact

    with app.app_context():
        state = app.extensions["helpdesk"]
        state.drop_all()
        db.drop_all()
        db.create_all()
        state.create_all()
        department = create_department(SYSTEM, "Support", slug="support")
        members = [
            Member(email=f"agent{i}@example.com", display_name=f"Agent {i}")
            for i in range(args.agents)
        ]
        customer = Member(email="lan@example.com", display_name="Lan Nguyen")
        for member in [*members, customer]:
            member.set_password("x")
        db.session.add_all([*members, customer])
        db.session.commit()
        agents = [make_agent(m.get_id(), ["support"], capacity=1000) for m in members]
        lan = contact_as_actor(sync_contact(customer))
        now = utcnow()
        rows = [
            {
                "code": f"HD-H{i:07d}",
                "subject": "Old",
                "status": TicketStatus.CLOSED,
                "department_id": department.id,
                "requester_id": lan.contact.id,
                "assignee_id": agents[i % len(agents)].id,
                "created_at": now,
                "updated_at": now,
                "closed_at": now,
            }
            for i in range(args.history)
        ]
        for start in range(0, len(rows), 10_000):
            db.session.execute(insert(Ticket), rows[start : start + 10_000])
        db.session.commit()
        print(
            f"{db.engine.dialect.name}: {args.agents} agents, {args.history:,} closed tickets,"
            f" {args.tickets} new tickets each way"
        )

        def open_one() -> Ticket:
            return tickets.open_ticket(
                lan,
                tickets.NewTicket(department_id=department.id, subject="Help", body="Please."),
            )

        for _ in range(20):  # warm-up: caches, prepared statements
            open_one()
        off: list[float] = []
        for _ in range(args.tickets):
            started = time.perf_counter()
            open_one()
            off.append(time.perf_counter() - started)

        statements = [0]

        def count(*_args) -> None:
            statements[0] += 1

        distribution.set_mode(SYSTEM, department, "round_robin")
        on: list[float] = []
        on_cpu: list[float] = []
        event.listen(db.engine, "before_cursor_execute", count)
        for _ in range(args.tickets):
            started, started_cpu = time.perf_counter(), time.process_time()
            ticket = open_one()
            on_cpu.append(time.process_time() - started_cpu)
            on.append(time.perf_counter() - started)
            assert ticket.assignee_id is not None
        event.remove(db.engine, "before_cursor_execute", count)
        on_statements, statements[0] = statements[0] / args.tickets, 0

        distribution.set_mode(SYSTEM, department, "off")
        alone: list[float] = []
        alone_cpu: list[float] = []

        # On the CPU clock: the figure the issue is about (wall time waits for the server too).
        profile = cProfile.Profile(time.process_time) if args.profile else None
        for _ in range(args.tickets):
            ticket = open_one()
            event.listen(db.engine, "before_cursor_execute", count)
            if profile:
                profile.enable()
            started, started_cpu = time.perf_counter(), time.process_time()
            distribution.distribute_ticket(ticket, mode="least_loaded")
            db.session.flush()
            alone_cpu.append(time.process_time() - started_cpu)
            alone.append(time.perf_counter() - started)
            if profile:
                profile.disable()
            event.remove(db.engine, "before_cursor_execute", count)
            db.session.commit()

        print(f"open a ticket, distribution off : {_ms(off)}")
        print(f"open a ticket, round robin      : {_ms(on)}")
        # The whole creation with distribution on, on the CPU clock, and its statements (the
        # department's row locked before the INSERT is one of them on PostgreSQL).
        print(f"open a ticket, round robin, CPU : {_ms(on_cpu)}")
        print(f"open a ticket, round robin, SQL : {on_statements:.1f} statements")
        added = statistics.median(on) - statistics.median(off)
        print(f"added by distribution (medians) : {added * 1000:6.2f} ms")
        print(f"distribute_ticket alone, wall   : {_ms(alone)}")
        # This process's CPU time: what a busy machine's other processes do not inflate (the
        # database server's share is not in it on PostgreSQL; its statements are in the wall).
        print(f"distribute_ticket alone, CPU    : {_ms(alone_cpu)}")
        print(f"distribute_ticket alone, SQL    : {statements[0] / args.tickets:.1f} statements")
        print(f"load average                    : {', '.join(f'{n:.2f}' for n in os.getloadavg())}")
        if profile:
            pstats.Stats(profile).sort_stats("cumulative").print_stats(30)


if __name__ == "__main__":
    main()
