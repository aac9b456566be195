"""Open tickets through the services as customers do and print tickets per second.

    python bench/ticket_create.py                                   # SQLite (WAL), jobs inline
    python bench/ticket_create.py --database-url postgresql+psycopg://postgres@127.0.0.1/hd_bench
    python bench/ticket_create.py --database-url postgresql+psycopg://... \\
        --redis-url redis://127.0.0.1:6379/9                        # jobs queued on RQ
    python bench/ticket_create.py --database-url ... --redis-url ... --processes 8  # at once
    python bench/ticket_create.py --database-url ... --redis-url ... --distribute 10 --processes 2
        # every ticket in a department handing them out by round robin to 10 agents
    python bench/ticket_create.py --redis-url ... --count 500 --profile create.prof
        # the calls under cProfile on the CPU clock; read it with python -m pstats create.prof

The database is emptied first (every table of the demo host and the helpdesk is dropped and
created again): point it at a database of its own. Each ticket is one call of
``tickets.open_ticket_with_message`` by one of ``--customers`` customers, with a subject and a
40-word description, in one of two departments with two agents each: the production path
(validation, house rules, code, SLA clock, reports' fact, audit event and webhook outbox, spam
screening, distribution, rules, the staff notification). Inline, the notification is rendered
(Flask-Mail, sending suppressed) in the timed call; with ``--redis-url`` it is queued on RQ
(no worker runs: the queue is emptied at the end) and the figures are the creating side's.

With ``--distribute N``, every ticket goes to a third department that hands its tickets out
by round robin to N available agents: the same creation plus the distribution in its
transaction (the agents' loads read and the ticket assigned). On PostgreSQL the creators of
such a department take turns on its row (locked before the ticket's INSERT, the order every
distributor keeps): ``--processes 2`` shows what that costs. Printed also: how many of the
tickets were assigned.

With ``--processes N``, N creating processes (each its own app and connections) open
``--count``/N tickets each at the same moment, as N web processes would: on PostgreSQL they
all count into the same cells of the department counts and the reports' roll-up, spread over
slot rows since migration 0033 (one row per cell before: each creator held it locked from its
write to its commit, and the others waited). On SQLite they take turns: each transaction
takes the write lock as it begins and waits for it (without, a creator failed with "database
is locked"). A creator that fails makes the benchmark print its traceback and exit non-zero.

Printed: wall time and tickets per second (all processes together, and in the calls), CPU time
of the creating processes (``time.process_time``) and tickets per CPU-second, and SQL
statements and commits per ticket. On a busy machine the wall figures say more about the
neighbours than about the helpdesk; the CPU ones do not. On a PostgreSQL server on this
machine, also the CPU time of the creators' server processes (their backends, from
``/proc``: the database's share of a ticket, which the creators' own CPU time leaves out), and
with several processes how many of the database's backends waited on a lock, sampled every
50 ms (``pg_stat_activity``): the hot rows every creator writes show there.
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import multiprocessing
import os
import queue
import random
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, select  # noqa: E402

from bench import _app as shared  # noqa: E402
from example_app.models import Member, db  # noqa: E402
from flask_helpdesk.models import Contact, Ticket  # noqa: E402
from flask_helpdesk.services import agents, distribution, tickets  # noqa: E402
from flask_helpdesk.services.departments import create_department  # noqa: E402
from flask_helpdesk.services.identity import SYSTEM, Actor  # noqa: E402

WORDS = [
    *("order", "invoice", "refund", "account", "password", "login", "delivery", "parcel"),
    *("address", "payment", "card", "subscription", "cancel", "upgrade", "error", "page"),
    *("app", "phone", "email", "receipt", "shipping"),
]


def _setup(app, customers: int, distribute: int = 0, count: int = 0) -> tuple[list[int], list[int]]:
    """The desk (two departments of two agents each) and the customers' ids; with
    *distribute*, a third department handing its tickets out by round robin to that many
    available agents (room for *count* tickets each), the one every ticket goes to."""
    shared.reset_schema(app)
    departments = [
        create_department(SYSTEM, name, slug=name.lower()) for name in ("Account", "Billing")
    ]
    db.session.commit()
    for index in range(4):
        member = Member(email=f"agent{index}@shop.example.com", display_name=f"Agent {index}")
        member.set_password("x")
        db.session.add(member)
        db.session.commit()
        agents.make_agent(str(member.id), [departments[index % 2].slug])
    if distribute:
        support = create_department(SYSTEM, "Support", slug="support")
        for index in range(distribute):
            member = Member(email=f"round{index}@shop.example.com", display_name=f"Round {index}")
            member.set_password("x")
            db.session.add(member)
            db.session.commit()
            agents.make_agent(str(member.id), ["support"], capacity=max(count, 20))
        distribution.set_mode(SYSTEM, support, "round_robin")
        departments = [support]
    contacts = [
        Contact(email=f"customer{i}@example.org", name=f"Customer {i}", attributes={}, notes="")
        for i in range(customers)
    ]
    db.session.add_all(contacts)
    db.session.commit()
    return [c.id for c in contacts], [d.id for d in departments]


def _create(
    app, count: int, seed: int, contact_ids: list[int], department_ids: list[int], profile=None
):
    """Open *count* tickets; (wall seconds, CPU seconds, statements, commits) of the calls, and
    the CPU seconds of this process's PostgreSQL backend (None elsewhere or unreadable).

    With *profile* (a ``cProfile.Profile``), the calls are profiled (and slower)."""
    rng = random.Random(seed)
    elapsed = cpu = 0.0
    backend = _backend_cpu(app.extensions["helpdesk"].engine)
    with shared.SqlCount(app) as sql:
        for _ in range(count):
            contact = db.session.get(Contact, rng.choice(contact_ids))
            customer = Actor(contact=contact, perspective="customer")
            data = tickets.NewTicket(
                department_id=rng.choice(department_ids),
                subject=" ".join(rng.choice(WORDS) for _ in range(5)).capitalize(),
                body=" ".join(rng.choice(WORDS) for _ in range(40)).capitalize() + ".",
                allow_duplicate=True,
            )
            started, started_cpu = time.perf_counter(), time.process_time()
            if profile is not None:
                profile.enable()
            tickets.open_ticket_with_message(customer, data)
            if profile is not None:
                profile.disable()
            elapsed += time.perf_counter() - started
            cpu += time.process_time() - started_cpu
            db.session.remove()  # as each request would
    server = backend() if backend is not None else None
    return elapsed, cpu, sql.statements, sql.commits, server


def _backend_cpu(engine):
    """On a PostgreSQL server of this machine: a function giving the CPU seconds its backend
    for this process's connection spent since now (None when it cannot be read). The pool
    hands the same connection to every ticket (one at a time); checked again at the end."""
    if engine.dialect.name != "postgresql":
        return None
    engine.dispose()  # one connection in the pool from here on: the one measured
    with engine.connect() as connection:
        pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()

    def ticks() -> int | None:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return int(fields[11]) + int(fields[12])  # utime + stime

    start = ticks()
    if start is None:
        return None

    def spent() -> float | None:
        with engine.connect() as connection:
            same = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar() == pid
        end = ticks()
        if not same or end is None:
            return None
        return (end - start) / os.sysconf("SC_CLK_TCK")

    return spent


def _sample_waits(url: str, stop: threading.Event, samples: list[tuple[int, int]]) -> None:
    """Every 50 ms: (backends waiting on a lock, backends in a statement) of the database."""
    engine = create_engine(url)
    with engine.connect() as connection:
        while not stop.wait(0.05):
            row = connection.exec_driver_sql(
                "SELECT count(*) FILTER (WHERE wait_event_type = 'Lock'),"
                " count(*) FILTER (WHERE state = 'active') FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).one()
            samples.append((row[0], row[1]))
            connection.rollback()
    engine.dispose()


def _creator(args, workdir, url, wal, index, contact_ids, department_ids, ready, results) -> None:
    """One of ``--processes`` creating processes: its own app and connections. Puts
    ``(index, figures, None)`` on *results*, or ``(index, None, traceback)`` when it failed:
    the parent waits for one or the other from each creator."""
    try:
        app = shared.bench_app(url, workdir, args.redis_url)
        with app.app_context():
            if url.startswith("sqlite"):
                shared.sqlite_take_turns(db.engine, wal)
            ready.wait()
            figures = _create(app, args.count // args.processes, args.seed + index,
                              contact_ids, department_ids)  # fmt: skip
        results.put((index, figures, None))
    except BaseException:
        results.put((index, None, traceback.format_exc()))
        raise SystemExit(1) from None


def _collect(creators, results) -> list:
    """Each creator's figures; on a creator's failure (its traceback, or its death without a
    word: killed, out of memory) the others are stopped and the benchmark exits non-zero
    instead of waiting forever for figures that will never come."""
    runs: dict[int, object] = {}
    while len(runs) < len(creators):
        try:
            index, figures, failure = results.get(timeout=1)
        except queue.Empty:
            dead = [i for i, c in enumerate(creators) if i not in runs and c.exitcode is not None]
            if not dead:
                continue
            index, failure = dead[0], f"exited with code {creators[dead[0]].exitcode}\n"
        if failure is not None:
            for creator in creators:
                if creator.is_alive():
                    creator.terminate()
            sys.stderr.write(f"creating process {index} failed:\n{failure}")
            raise SystemExit(1)
        runs[index] = figures
    return [runs[i] for i in sorted(runs)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    parser.add_argument("--count", type=int, default=2_000)
    parser.add_argument("--customers", type=int, default=500)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--redis-url", default=None, help="jobs queued on RQ (default: inline)")
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="creating processes at once (each --count/N tickets); figures summed over them",
    )
    parser.add_argument(
        "--distribute",
        type=int,
        default=0,
        metavar="N",
        help="every ticket in a department handing tickets out by round robin to N agents",
    )
    parser.add_argument(
        "--sqlite-default-journal",
        action="store_true",
        help="SQLite with its default rollback journal instead of WAL + synchronous=NORMAL",
    )
    parser.add_argument(
        "--profile",
        metavar="FILE",
        default=None,
        help="profile the calls (cProfile on the CPU clock, one process) and write the stats",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    workdir = tempfile.mkdtemp(prefix="hd-ticketbench-")
    url, wal = shared.database(args.database_url, workdir, args.sqlite_default_journal)
    app = shared.bench_app(url, workdir, args.redis_url)
    with app.app_context():
        if wal:
            shared.use_wal(db.engine)
        contact_ids, department_ids = _setup(app, args.customers, args.distribute, args.count)
        if args.redis_url:
            app.extensions["helpdesk"].dispatcher.queue.empty()
        started = time.perf_counter()
        waits: list[tuple[int, int]] = []
        if args.processes == 1:
            profile = cProfile.Profile(time.process_time) if args.profile else None
            runs = [_create(app, args.count, args.seed, contact_ids, department_ids, profile)]
            if profile is not None:
                profile.dump_stats(args.profile)
        else:
            db.engine.dispose()  # no connection crosses the fork
            context = multiprocessing.get_context("fork")
            ready, results = context.Event(), context.Queue()
            creators = [
                context.Process(
                    target=_creator,
                    args=(args, workdir, url, wal, i, contact_ids, department_ids, ready, results),
                )
                for i in range(args.processes)
            ]
            for creator in creators:
                creator.start()
            time.sleep(2)  # every creator has imported and connected
            stop = threading.Event()
            sampler = None
            if url.startswith("postgresql"):
                sampler = threading.Thread(target=_sample_waits, args=(url, stop, waits))
                sampler.start()
            started = time.perf_counter()
            ready.set()
            try:
                runs = _collect(creators, results)
            finally:
                stop.set()
            for creator in creators:
                creator.join()
            stop.set()
            if sampler is not None:
                sampler.join()
        together = time.perf_counter() - started
        assigned = db.session.scalar(
            select(func.count()).select_from(Ticket).where(Ticket.assignee_id.is_not(None))
        )
        queued = 0
        if args.redis_url:
            jobs_queue = app.extensions["helpdesk"].dispatcher.queue
            queued = jobs_queue.count
            jobs_queue.empty()

    count = args.count // args.processes * args.processes
    elapsed, cpu = sum(r[0] for r in runs), sum(r[1] for r in runs)
    statements, commits = sum(r[2] for r in runs), sum(r[3] for r in runs)
    jobs = "RQ (queued, creating side)" if args.redis_url else "inline"
    print(shared.database_line(url, wal, jobs))
    where = (
        f"1 department distributing by round robin to {args.distribute} agents"
        if args.distribute
        else "2 departments"
    )
    print(f"tickets            {count} ({args.customers} customers, {where}, "
          f"{args.processes} creating process{'es' if args.processes > 1 else ''})")  # fmt: skip
    if args.distribute:
        print(f"assigned           {assigned} of {count} tickets")
    if args.processes > 1:
        print(f"together           {together:.2f} s ({count / together:.0f} tickets/second)")
    print(f"time               {elapsed:.2f} s in the calls ({count / elapsed:.0f} tickets/second"
          f"{' per process' if args.processes > 1 else ''})")  # fmt: skip
    print(f"CPU time           {cpu:.2f} s ({cpu / count * 1000:.2f} ms a ticket, "
          f"{count / cpu:.0f} tickets per CPU-second)")  # fmt: skip
    servers = [r[4] for r in runs]
    if servers and None not in servers:
        server = sum(servers)
        print(f"server CPU time    {server:.2f} s in the creators' backends "
              f"({server / count * 1000:.2f} ms a ticket; with the creators' "
              f"{(cpu + server) / count * 1000:.2f} ms)")  # fmt: skip
    if args.processes > 1 and waits:
        waiting = sum(w for w, _ in waits) / len(waits)
        active = sum(a for _, a in waits) / len(waits)
        print(f"lock waits         {waiting:.2f} backends waiting on a lock on average, of "
              f"{active:.2f} in a statement ({len(waits)} samples)")  # fmt: skip
    print(f"statements         {statements / count:.1f} a ticket, "
          f"commits {commits / count:.1f}"
          + (f"; {queued} jobs queued" if args.redis_url else ""))  # fmt: skip
    print(shared.load_line())


if __name__ == "__main__":
    main()
