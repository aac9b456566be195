"""Time the ticket pages (the desk's workspace and the customer's page) on a loaded helpdesk:
a ticket with one message against one with 50 messages, 20 files, notes, events, tags, an
assignee, a merged duplicate, another agent viewing and an access request. A script, not a
test (CI never runs it; tests/desk/test_workspace_queries.py and tests/views/
test_portal_queries.py assert the statement counts)::

    python bench/queue_bench.py --url postgresql+psycopg://postgres@127.0.0.1/hd --tickets 100000
    python bench/ticket_page.py --url postgresql+psycopg://postgres@127.0.0.1/hd

It loads nothing itself: it runs on a database ``bench/queue_bench.py`` loaded, adds its own
tickets by the services, and prints per page the median and p95 wall time, the median CPU time
of this process (``time.process_time``: the machine is shared, wall time is not steady), the
median time in the database driver and the number of SQL statements of one request. Each
request finds an unseen customer reply (the costliest case: the page writes its "seen" marker).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_login import FlaskLoginClient
from sqlalchemy import func, select, update

from bench.queue_bench import SqlClock, bench_app, new_member
from example_app.models import Member, db
from flask_helpdesk import migrations
from flask_helpdesk.models import Agent, Ticket
from flask_helpdesk.services import consent, desk, messages, presence, tickets
from flask_helpdesk.services.attachments import Upload
from flask_helpdesk.services.identity import agent_as_actor, contact_as_actor, sync_contact


def full_ticket(customer, agent, other, department_id: int) -> tuple[Ticket, Ticket]:
    """A bare ticket (one message) and a full one, both opened by *customer*."""
    bare = tickets.open_ticket(
        customer, tickets.NewTicket(department_id=department_id, subject="Bare", body="Start")
    )
    full = tickets.open_ticket(
        customer, tickets.NewTicket(department_id=department_id, subject="Full", body="Start")
    )
    desk.set_tags(agent, full, ["vip", "login", "billing"])
    desk.assign(agent, full, other.agent.id)
    tickets.change_status(agent, full, "processing")
    duplicate = tickets.open_ticket(
        customer, tickets.NewTicket(department_id=department_id, subject="Dup", body="Again")
    )
    desk.merge(agent, duplicate, full.code)
    for i in range(46):  # + opening, merged-in message and events: 50 messages
        uploads = [Upload(f"file{i}.txt", io.BytesIO(b"x" * 2000))] if i % 2 else []
        if i % 3 == 0:
            messages.post_message(customer, full, f"Customer {i}", uploads=uploads)
        else:
            messages.post_message(agent, full, f"Agent {i}", uploads=uploads, internal=i % 3 == 2)
    consent.request_access(agent, full, "To check the billing screen")
    return bare, full


def measure(
    label: str,
    request: Callable[[], Any],
    prepare: Callable[[], None],
    repeat: int,
    clock: SqlClock,
) -> None:
    prepare()
    request()  # warm-up
    walls, cpus, sql = [], [], []
    for _ in range(repeat):
        prepare()
        clock.reset()
        wall, cpu = time.perf_counter(), time.process_time()
        response = request()
        cpus.append((time.process_time() - cpu) * 1000)
        walls.append((time.perf_counter() - wall) * 1000)
        sql.append(clock.seconds * 1000)
        assert response.status_code == 200, (label, response.status_code)
    walls.sort()
    p95 = walls[min(len(walls) - 1, round(0.95 * (len(walls) - 1)))]
    print(
        f"{label:<34} {statistics.median(walls):>9.1f} {p95:>8.1f} {statistics.median(cpus):>8.1f}"
        f" {statistics.median(sql):>8.1f} {len(clock.statements):>6}",
        flush=True,
    )
    if os.environ.get("BENCH_SQL"):
        print("\n".join("    " + " ".join(x.split())[:150] for x in clock.statements))


def run(app, repeat: int) -> None:
    app.test_client_class = FlaskLoginClient
    engine = app.extensions["helpdesk"].engine
    agent_member = db.session.scalar(select(Member).where(Member.email == "agent0@example.com"))
    agent_row = db.session.scalar(select(Agent).where(Agent.email == "agent0@example.com"))
    other_row = db.session.scalar(select(Agent).where(Agent.email == "agent1@example.com"))
    agent, other = agent_as_actor(agent_row), agent_as_actor(other_row)
    department_id = next(
        d.id for d in agent_row.departments if d.id in {e.id for e in other_row.departments}
    )
    stamp = time.strftime("%H%M%S")
    customer_member = new_member("Page Bench", f"page-bench-{stamp}@example.com")
    customer = contact_as_actor(sync_contact(customer_member))
    bare, full = full_ticket(customer, agent, other, department_id)
    total = db.session.scalar(select(func.count()).select_from(Ticket))
    loadavg = Path("/proc/loadavg")
    load = " ".join(loadavg.read_text().split()[:3]) if loadavg.exists() else "?"
    print(f"\n{engine.dialect.name}: {total:,} tickets; load average {load}; {repeat} runs each")
    print(f"{'page':<34} {'wall ms':>9} {'p95 ms':>8} {'CPU ms':>8} {'SQL ms':>8} {'stmts':>6}")
    clock = SqlClock(engine)
    desk_client = app.test_client(user=agent_member)
    portal_client = app.test_client(user=customer_member)

    def get(client, url: str):
        with app.app_context():  # a request of its own, as in production (fresh ``g``)
            return client.get(url)

    def unseen(ticket: Ticket, column: str) -> Callable[[], None]:
        ticket_id = ticket.id

        def prepare() -> None:  # not timed: the reply is unseen again, viewers are fresh
            db.session.execute(update(Ticket).where(Ticket.id == ticket_id).values({column: None}))
            db.session.commit()
            presence.touch(other, ticket)

        return prepare

    # Codes read now: a commit expires the objects, and reading them again is a statement.
    pages = (("1 message", bare, bare.code), ("50 messages, everything", full, full.code))
    sides = (
        ("desk", desk_client, "/support/desk/tickets/", "agent_seen_at"),
        ("portal", portal_client, "/support/tickets/", "customer_seen_at"),
    )
    for side, client, prefix, seen_column in sides:
        if side == "portal":  # both tickets get an agent reply for the customer to see
            messages.post_message(agent, bare, "An answer")
        for name, ticket, code in pages:
            measure(
                f"{side}: {name}",
                lambda client=client, url=prefix + code: get(client, url),
                unseen(ticket, seen_column),
                repeat,
                clock,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True, help="SQLAlchemy database URL (loaded)")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    app = bench_app(args.url)
    with app.app_context():
        migrations.upgrade(app)  # a database loaded by older code gets the newest schema
        run(app, args.repeat)


if __name__ == "__main__":
    main()
