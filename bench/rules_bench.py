"""Automation rules at scale: what 50 active event rules add to a ticket change, and a time
rule's sweep over many tickets.

    python bench/rules_bench.py --database-url postgresql+psycopg://postgres@127.0.0.1/bench \
        [--tickets 200000] [--matching 2000] [--changes 300]

EMPTIES the given database (default: a throwaway SQLite file) and seeds the demo.

1. Event rules: an agent changes a ticket's priority back and forth --changes times with no
   rule on, then with 50 active rules (ten each on ticket created, customer replied, status,
   priority and tags changes; conditions over subject, tags, customer and priority, one of them
   matching and tagging the ticket). Prints the median and 95th percentile of a change both
   ways and what the rules add (the issue's budget: 2 ms).
2. Time rules: copies one demo ticket into --tickets tickets with one INSERT ... SELECT, all
   answered by support within the last three days except --matching of them, answered a week
   ago; then sweeps the auto-close preset (3 days). Prints the candidate query's plan, the time
   of one batch query, and the sweep's time per fired ticket: only the matching rows are read.
   The issue's case is ``--tickets 1000000`` (the INSERT takes minutes on PostgreSQL).
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
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event, select, text

from example_app import create_app
from example_app.models import db


def _stats(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.95) - 1]


def event_rules(changes: int, profile: cProfile.Profile | None = None) -> None:
    from flask_helpdesk.models import Agent, AgentRole, Rule, Ticket, TicketStatus
    from flask_helpdesk.services import base, desk, rule_admin, rules
    from flask_helpdesk.services.identity import SYSTEM, agent_as_actor

    admin = agent_as_actor(db.session.scalar(select(Agent).where(Agent.role == AgentRole.ADMIN)))
    ticket = db.session.scalar(
        select(Ticket).where(Ticket.status == TicketStatus.OPEN).order_by(Ticket.id)
    )

    queries = [0]
    profiling: list[cProfile.Profile] = []  # while the 50 rules run, with --profile
    engine_ms: list[float] = []
    engine_cpu_ms: list[float] = []
    engine_sql: list[int] = []
    hooks = base._BEFORE_COMMIT
    real_hook = rules.run_pending

    def timed_hook() -> None:  # the engine's own share of each change, machine noise aside
        statements = queries[0]
        begin, cpu = time.perf_counter(), time.process_time()
        if profiling:
            profiling[0].runcall(real_hook)
        else:
            real_hook()
        engine_cpu_ms.append((time.process_time() - cpu) * 1000)
        engine_ms.append((time.perf_counter() - begin) * 1000)
        engine_sql.append(queries[0] - statements)

    hooks[hooks.index(real_hook)] = timed_hook

    def count(*args) -> None:
        queries[0] += 1

    def run() -> list[float]:
        samples = []
        queries[0] = 0
        event.listen(db.engine, "before_cursor_execute", count)
        for n in range(changes):
            begin = time.perf_counter()
            desk.set_priority(admin, ticket, "high" if n % 2 == 0 else "normal")
            samples.append((time.perf_counter() - begin) * 1000)
        event.remove(db.engine, "before_cursor_execute", count)
        samples.append(queries[0] / changes)  # the last item: statements per change
        return samples

    run()  # warm up
    before = run()
    triggers = [
        "ticket_created",
        "customer_replied",
        "status_changed",
        "priority_changed",
        "tags_changed",
    ]
    conditions = [
        {"field": "subject", "op": "contains", "value": "refund"},
        {
            "all": [
                {"field": "tags", "op": "contains", "value": "vip"},
                {"field": "status", "op": "is", "value": "open"},
            ]
        },
        {"field": "customer.plan", "op": "is", "value": "gold"},
        {
            "any": [
                {"field": "priority", "op": "greater_than", "value": "high"},
                {"field": "message", "op": "matches_word", "value": "lawyer"},
            ]
        },
        {"not": {"field": "customer_email", "op": "starts_with", "value": "lan"}},
    ]
    for n in range(50):
        rule_admin.create_rule(
            SYSTEM,
            rule_admin.RuleData(
                name=f"Bench {n}",
                trigger=triggers[n % 5],
                conditions=conditions[(n // 5) % 5],
                actions=[{"type": "set_priority", "value": "urgent"}],
                is_active=True,
            ),
        )
    active = db.session.scalar(select(db.func.count()).select_from(Rule).where(Rule.is_active))
    run()
    engine_ms.clear()
    engine_cpu_ms.clear()
    engine_sql.clear()
    if profile is not None:
        profiling.append(profile)
    after = run()
    profiling.clear()
    engine_median, engine_p95 = _stats(engine_ms)
    cpu_median, cpu_p95 = _stats(engine_cpu_ms)
    engine_statements = sum(engine_sql) / len(engine_sql)
    # One more rule, matching every priority change: what a firing costs (its event in the
    # thread, its audit row; the tag it adds is there after the first time).
    rule_admin.create_rule(
        SYSTEM,
        rule_admin.RuleData(
            name="Bench matching",
            trigger="priority_changed",
            conditions={},
            actions=[{"type": "add_tags", "value": ["seen"]}],
            is_active=True,
        ),
    )
    run()
    firing = run()
    if profile is not None:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(35)
    b_sql, a_sql, f_sql = before.pop(), after.pop(), firing.pop()
    (b_median, b_p95), (a_median, a_p95) = _stats(before), _stats(after)
    f_median, f_p95 = _stats(firing)
    load = ", ".join(f"{n:.2f}" for n in os.getloadavg())
    print(f"\nevent rules: a priority change by an agent, {changes} times each way (load {load})")
    print(f"  no rules:          median {b_median:.2f} ms, p95 {b_p95:.2f} ms, {b_sql:.1f} SQL")
    print(
        f"  {active} active rules, none matching: median {a_median:.2f} ms,"
        f" p95 {a_p95:.2f} ms, {a_sql:.1f} SQL"
    )
    print(
        f"  the rules engine's share of a change: median {engine_median:.2f} ms,"
        f" p95 {engine_p95:.2f} ms wall; CPU (process_time) median {cpu_median:.2f} ms,"
        f" p95 {cpu_p95:.2f} ms (budget 2 ms); {engine_statements:.1f} SQL of its own"
    )
    print(
        f"  plus one rule firing each time: median {f_median:.2f} ms,"
        f" p95 {f_p95:.2f} ms, {f_sql:.1f} SQL"
    )
    for rule in db.session.scalars(select(Rule)):
        rule.is_active = False
    db.session.commit()
    rules.forget_rules()


def time_rules(tickets: int, matching: int, again: bool = False) -> None:
    from flask_helpdesk.models import Ticket, utcnow
    from flask_helpdesk.services import rule_admin, rule_sweep
    from flask_helpdesk.services.identity import SYSTEM

    postgres = db.engine.dialect.name == "postgresql"
    now = utcnow()
    started = time.perf_counter()
    if again:
        _age_again(matching, now, postgres)
        total = db.session.scalar(select(db.func.count()).select_from(Ticket))
        print(f"\n{total:,} tickets kept; {matching:,} of them answered a week ago again")
    else:
        template = db.session.scalar(select(Ticket).order_by(Ticket.id))
        _clone(template.id, tickets, matching, now, postgres)
        print(f"\n{tickets:,} tickets written in {time.perf_counter() - started:.1f} s")
    rule = rule_admin.configure_auto_close(SYSTEM, 3, working_days=False, active=True)
    calendar = rule_sweep.default_calendar()
    batch = rule_sweep.candidates(rule, now, calendar).with_only_columns(Ticket.id).limit(500)
    compiled = batch.compile(db.engine, compile_kwargs={"literal_binds": True})
    explain = "EXPLAIN (ANALYZE, BUFFERS)" if postgres else "EXPLAIN QUERY PLAN"
    print(f"\nthe sweep's batch query:\n{compiled}\n")
    for row in db.session.execute(text(f"{explain} {compiled}")):
        print("  ", " ".join(str(c) for c in row))
    times = []
    for _ in range(20):
        begin = time.perf_counter()
        db.session.execute(batch).all()
        times.append((time.perf_counter() - begin) * 1000)
        db.session.rollback()
    print(
        f"\nbatch query, 20 runs: median {statistics.median(times):.2f} ms, max {max(times):.2f} ms"
    )
    batches = _Batches(rule_sweep)
    begin = time.perf_counter()
    result = rule_sweep.sweep(now)
    took = time.perf_counter() - begin
    batches.finish()
    print(
        f"\none sweep: {result} in {took:.2f} s,"
        f" {took / max(result.fired, 1) * 1000:.2f} ms per fired ticket (closed, mail queued)"
    )
    begin = time.perf_counter()
    again = rule_sweep.sweep(now + timedelta(seconds=1))
    print(f"a second sweep right after: {again} in {(time.perf_counter() - begin) * 1000:.1f} ms")


class _Batches:
    """Times each batch of a sweep: from one batch query to the next (the query, the firings,
    the commit), in wall and CPU time, with its statements."""

    def __init__(self, module) -> None:
        self.module, self.real = module, module._batch
        self.rows: list[tuple[int, float, float, float, int]] = []
        self.statements = 0
        self.mark: tuple[float, float, int] | None = None
        self.size = 0
        self.query_ms = 0.0
        event.listen(db.engine, "before_cursor_execute", self.count)
        module._batch = self.batch

    def count(self, *args) -> None:
        self.statements += 1

    def close_batch(self) -> None:
        if self.mark is not None:
            wall, cpu, statements = self.mark
            self.rows.append(
                (
                    self.size,
                    self.query_ms,
                    (time.perf_counter() - wall) * 1000,
                    (time.process_time() - cpu) * 1000,
                    self.statements - statements,
                )
            )

    def batch(self, *args, **kwargs):
        self.close_batch()
        self.mark = (time.perf_counter(), time.process_time(), self.statements)
        begin = time.perf_counter()
        found = self.real(*args, **kwargs)
        self.query_ms = (time.perf_counter() - begin) * 1000
        self.size = len(found)
        return found

    def finish(self) -> None:
        self.close_batch()
        self.module._batch = self.real
        event.remove(db.engine, "before_cursor_execute", self.count)
        load = ", ".join(f"{n:.2f}" for n in os.getloadavg())
        print(f"\nper batch (load {load}):")
        print("  batch  tickets  query ms  batch wall ms  batch CPU ms  SQL  per ticket (wall/CPU)")
        for n, (size, query, wall, cpu, statements) in enumerate(self.rows, 1):
            each = max(size, 1)
            print(
                f"  {n:5d}  {size:7d}  {query:8.1f}  {wall:13.0f}  {cpu:12.0f}  {statements:4d}"
                f"  {wall / each:.1f} / {cpu / each:.1f} ms"
            )


def _age_again(matching: int, now, postgres: bool) -> None:
    """A run on the tickets of a previous one (--sweep-again): *matching* tickets that the
    sweep has not closed are answered a week ago, a new window each (no --tickets written)."""
    from flask_helpdesk.models import Rule

    week_ago = now - timedelta(days=7)
    db.session.execute(
        text(
            "UPDATE helpdesk_ticket SET last_agent_reply_at = :week_ago, status = 'answered' "
            "WHERE id IN (SELECT id FROM helpdesk_ticket WHERE status = 'answered' "
            "AND code LIKE 'R-%' ORDER BY id LIMIT :n)"
        ),
        {"week_ago": week_ago, "n": matching},
    )
    db.session.execute(text("DELETE FROM helpdesk_rule_firing"))
    for rule in db.session.scalars(select(Rule)):
        rule.is_active = False
    db.session.commit()
    if postgres:
        db.session.execute(text("ANALYZE helpdesk_ticket"))
        db.session.commit()


def _clone(template_id: int, count: int, matching: int, now, postgres: bool) -> None:
    """*count* answered copies of the template; *matching* answered a week ago, the rest within
    the last three days (spread by the minute)."""
    from flask_helpdesk.models import Ticket

    table = Ticket.__table__
    skip = ("id", "code", "status", "last_agent_reply_at", "merged_into_id")
    columns = [c.name for c in table.columns if c.name not in skip]
    series = (
        f"SELECT generate_series(1, {count}) AS n"
        if postgres
        else f"WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {count})"
        " SELECT n FROM s"
    )
    week_ago = now - timedelta(days=7)
    if postgres:
        anchor = (
            f"CASE WHEN s.n <= {matching} THEN TIMESTAMP '{week_ago:%Y-%m-%d %H:%M:%S}'"
            f" ELSE TIMESTAMP '{now:%Y-%m-%d %H:%M:%S}' - (s.n % 4000) * interval '1 minute' END"
        )
    else:
        anchor = (
            f"CASE WHEN s.n <= {matching} THEN '{week_ago:%Y-%m-%d %H:%M:%S.%f}'"
            f" ELSE datetime('{now:%Y-%m-%d %H:%M:%S}', '-' || (s.n % 4000) || ' minutes') END"
        )
    db.session.execute(
        text(
            f"INSERT INTO {table.name} (code, status, last_agent_reply_at, {', '.join(columns)}) "
            f"SELECT 'R-' || s.n, 'answered', {anchor}, {', '.join('t.' + c for c in columns)} "
            f"FROM {table.name} t, ({series}) s WHERE t.id = :template"
        ),
        {"template": template_id},
    )
    db.session.commit()
    if postgres:
        db.session.execute(text(f"ANALYZE {table.name}"))
        db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=200_000)
    parser.add_argument("--matching", type=int, default=2_000)
    parser.add_argument("--changes", type=int, default=300)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--profile", action="store_true", help="cProfile the rules engine")
    parser.add_argument("--no-sweep", action="store_true", help="the event rules only")
    parser.add_argument(
        "--sweep-again",
        action="store_true",
        help="keep the database of a previous run (no reset, no event rules, no INSERT):"
        " answer --matching of its tickets a week ago again and sweep",
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
        }
    )
    from flask_helpdesk.services.demo import seed_demo

    with app.app_context():
        if args.sweep_again:
            time_rules(args.tickets, args.matching, again=True)
            return
        state = app.extensions["helpdesk"]
        state.drop_all()
        db.drop_all()
        db.create_all()
        state.create_all()
        seed_demo()
        event_rules(args.changes, cProfile.Profile() if args.profile else None)
        if not args.no_sweep:
            time_rules(args.tickets, args.matching)


if __name__ == "__main__":
    main()
