"""What automatic distribution costs a ticket (the issue's target: at most 5 ms).

    python bench/distribution.py [--database-url postgresql+psycopg://postgres@127.0.0.1/bench] \
        [--agents 50] [--history 100000] [--tickets 300]

EMPTIES the given database (default: a throwaway SQLite file). Creates one department with
--agents agents (capacity 1000), --history closed tickets spread over them (what the load count
must skip), ANALYZEs the tables (a bulk load leaves the planner without statistics: it then
walked the department's tickets once per candidate to find the one being distributed, 20 ms),
then measures:

* ``distribute_ticket`` itself, --tickets times for each mode, on a ticket opened (and
  committed) with distribution off just before: what distribution adds to a ticket. Its
  statements are flushed, the commit is left out (it is the creation's or the offer's). Wall
  time; this process's CPU time (what the other processes of a busy machine do not inflate);
  on a local PostgreSQL also the CPU time of the server's backend serving this connection
  (``/proc/<pid>/schedstat``), which the wall time includes; statements sent.
* a whole ticket creation with round robin (CPU time, statements), for scale: it notifies the
  assigned agent only, where a creation in a department that does not distribute notifies all
  of its agents, so the difference between the two is no figure of distribution.

No assertion: figures to read, and to copy to docs/automation.rst when they change.
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
        # As a database that has lived a while has them: the planner's statistics.
        with db.engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
            connection.commit()
        print(
            f"{db.engine.dialect.name}: {args.agents} agents, {args.history:,} closed tickets,"
            f" {args.tickets} tickets timed each way"
        )

        def open_one() -> Ticket:
            return tickets.open_ticket(
                lan,
                tickets.NewTicket(department_id=department.id, subject="Help", body="Please."),
            )

        statements = [0]

        def count(*_args) -> None:
            statements[0] += 1

        for _ in range(20):  # warm-up: caches, prepared statements
            open_one()

        # On the CPU clock: the figure the issue is about (wall time waits for the server too).
        profile = cProfile.Profile(time.process_time) if args.profile else None

        def distribute_alone(mode: str) -> dict[str, list[float]]:
            """distribute_ticket on fresh tickets (the department's mode off: the creation does
            not distribute them), each in a transaction of its own."""
            taken: dict[str, list[float]] = {"wall": [], "cpu": [], "server": []}
            statements[0] = 0
            for _ in range(args.tickets):
                ticket = open_one()
                backend = _backend(db.session.connection())
                event.listen(db.engine, "before_cursor_execute", count)
                if profile:
                    profile.enable()
                server = _server_cpu(backend)
                started, started_cpu = time.perf_counter(), time.process_time()
                assert distribution.distribute_ticket(ticket, mode=mode) is not None
                db.session.flush()
                taken["cpu"].append(time.process_time() - started_cpu)
                taken["wall"].append(time.perf_counter() - started)
                if server is not None:
                    taken["server"].append(_server_cpu(backend) - server)
                if profile:
                    profile.disable()
                event.remove(db.engine, "before_cursor_execute", count)
                db.session.commit()
            taken["statements"] = [statements[0] / args.tickets]
            return taken

        alone = {mode: distribute_alone(mode) for mode in ("round_robin", "least_loaded")}

        distribution.set_mode(SYSTEM, department, "round_robin")
        created_cpu: list[float] = []
        statements[0] = 0
        event.listen(db.engine, "before_cursor_execute", count)
        for _ in range(args.tickets):
            started_cpu = time.process_time()
            ticket = open_one()
            created_cpu.append(time.process_time() - started_cpu)
            assert ticket.assignee_id is not None
        event.remove(db.engine, "before_cursor_execute", count)
        created_statements = statements[0] / args.tickets
        distribution.set_mode(SYSTEM, department, "off")

        for mode, taken in alone.items():
            label = f"distribute_ticket, {mode.replace('_', ' ')}"
            print(f"{label + ', wall':<44}: {_ms(taken['wall'])}")
            print(f"{label + ', CPU':<44}: {_ms(taken['cpu'])}")
            if taken["server"]:
                print(f"{label + ', server CPU':<44}: {_ms(taken['server'])}")
            print(f"{label + ', SQL':<44}: {taken['statements'][0]:.1f} statements")
        print(f"{'open a ticket, round robin, CPU':<44}: {_ms(created_cpu)}")
        print(f"{'open a ticket, round robin, SQL':<44}: {created_statements:.1f} statements")
        print(f"{'load average':<44}: {', '.join(f'{n:.2f}' for n in os.getloadavg())}")
        if profile:
            pstats.Stats(profile).sort_stats("cumulative").print_stats(30)


def _backend(connection) -> int | None:
    """The pid of the PostgreSQL backend serving *connection* (None on SQLite), asked of the
    driver: no statement."""
    raw = connection.connection.dbapi_connection
    info = getattr(raw, "info", None)
    return getattr(info, "backend_pid", None)


def _server_cpu(pid: int | None) -> float | None:
    """The CPU time the backend *pid* has used so far, in seconds, when it runs on this machine
    (None otherwise)."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/schedstat") as stats:
            return int(stats.read().split()[0]) / 1e9
    except OSError:
        return None


if __name__ == "__main__":
    main()
