"""The SLA sweep at scale: finding a batch (the index scan) and raising a batch of breaches.

    python bench/sla_sweep.py --database-url postgresql+psycopg://postgres@127.0.0.1/bench \
        [--tickets 200000] [--due 2000]

EMPTIES the given database (default: a throwaway SQLite file), seeds the demo, then copies one
demo ticket into --tickets tickets with one INSERT ... SELECT: their next SLA check spread over
the next 30 days, except --due of them whose first response fell due a minute ago. It prints
the plan and the time of the sweep's batch query (``sla_check_at <= now ORDER BY sla_check_at,
id LIMIT 200``), then runs one sweep's two phases and times them: raising (every due ticket
gets its breach event, internal note and breach flag; per ticket and per batch) and queueing the
notifications (a mail each, rendered inline without Redis). The issue's case is
``--tickets 1000000 --due 10000`` (the INSERT takes minutes on PostgreSQL).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select, text

from example_app import create_app
from example_app.models import db


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=200_000)
    parser.add_argument("--due", type=int, default=2_000)
    parser.add_argument("--database-url", default=None)
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
    from flask_helpdesk.models import SlaEvent, Ticket, utcnow
    from flask_helpdesk.services.demo import seed_demo
    from flask_helpdesk.services.sla_sweep import (
        SweepResult,
        check_tickets,
        queue_notifications,
        sweep,
    )

    with app.app_context():
        state = app.extensions["helpdesk"]
        state.drop_all()
        db.drop_all()
        db.create_all()
        state.create_all()
        seed_demo()
        postgres = db.engine.dialect.name == "postgresql"
        template = db.session.scalar(
            select(Ticket).where(Ticket.sla_policy_id.is_not(None)).order_by(Ticket.id)
        )
        now = utcnow()
        started = time.perf_counter()
        _clone(template.id, args.tickets, args.due, now, postgres)
        print(f"{args.tickets:,} tickets written in {time.perf_counter() - started:.1f} s")

        batch = (
            select(Ticket.id)
            .where(Ticket.sla_check_at <= now)
            .order_by(Ticket.sla_check_at, Ticket.id)
            .limit(200)
        )
        compiled = batch.compile(db.engine, compile_kwargs={"literal_binds": True})
        explain = "EXPLAIN (ANALYZE, BUFFERS)" if postgres else "EXPLAIN QUERY PLAN"
        print(f"\nthe sweep's batch query:\n{compiled}\n")
        for row in db.session.execute(text(f"{explain} {compiled}")):
            print("  ", " ".join(str(c) for c in row))
        times = []
        for _ in range(30):
            begin = time.perf_counter()
            db.session.execute(batch).all()
            times.append((time.perf_counter() - begin) * 1000)
            db.session.rollback()
        print(
            f"\nbatch query, 30 runs: median {statistics.median(times):.2f} ms,"
            f" max {max(times):.2f} ms"
        )

        # The sweep's two phases timed apart: raising (events, notes, flags, check instants;
        # one transaction of a fixed number of statements per batch) and queueing the
        # notifications (inline without Redis: the mails are rendered and logged here).
        batch_size = state.config["HELPDESK_SLA_SWEEP_BATCH"]
        result = SweepResult()
        batch_times = []
        begin = time.perf_counter()
        while True:
            start = time.perf_counter()
            size = check_tickets(now + timedelta(seconds=1), batch_size, result)
            if size:
                batch_times.append((time.perf_counter() - start) * 1000)
            if size < batch_size:
                break
        raising = time.perf_counter() - begin
        begin = time.perf_counter()
        # A week on the office is open whatever the day of this run: every notification goes.
        while (queued := queue_notifications(now + timedelta(days=7), batch_size)) > 0:
            result.notifications += queued
        queueing = time.perf_counter() - begin
        events = db.session.scalar(select(func.count()).select_from(SlaEvent))
        print(f"\none sweep: {result} ({events:,} events recorded)")
        batch_times = batch_times or [0.0]
        print(
            f"raising: {raising:.2f} s, {raising / max(result.tickets, 1) * 1000:.2f} ms per"
            f" ticket; per batch of {batch_size}: median {statistics.median(batch_times):.0f}"
            f" ms, max {max(batch_times):.0f} ms ({len(batch_times)} batches)"
        )
        print(
            f"notifications ({'RQ' if state.dispatcher.uses_rq else 'inline, mail to the log'}):"
            f" {queueing:.2f} s, {queueing / max(result.notifications, 1) * 1000:.2f} ms each"
        )
        again = sweep(now + timedelta(seconds=2))
        print(f"a second sweep at once after: {again}")


def _clone(template_id: int, count: int, due: int, now, postgres: bool) -> None:
    """Copy the template ticket *count* times in one statement; *due* of them checked now."""
    from flask_helpdesk.models import Ticket

    table = Ticket.__table__
    columns = [c.name for c in table.columns if c.name not in ("id", "code", "sla_check_at")]
    listed = ", ".join(columns)
    series = (
        f"SELECT generate_series(1, {count}) AS n"
        if postgres
        else f"WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {count})"
        " SELECT n FROM s"
    )
    minute = "interval '1 minute'" if postgres else None
    past = now - timedelta(minutes=1)
    if postgres:
        check = (
            f"CASE WHEN s.n <= {due} THEN TIMESTAMP '{past:%Y-%m-%d %H:%M:%S}'"
            f" ELSE TIMESTAMP '{now:%Y-%m-%d %H:%M:%S}' + (s.n % 43200) * {minute} END"
        )
        code = "'B-' || s.n"
    else:
        check = (
            f"CASE WHEN s.n <= {due} THEN '{past:%Y-%m-%d %H:%M:%S.%f}'"
            f" ELSE datetime('{now:%Y-%m-%d %H:%M:%S}', '+' || (s.n % 43200) || ' minutes') END"
        )
        code = "'B-' || s.n"
    due_column = "first_response_due_at"
    db.session.execute(
        text(
            f"INSERT INTO {table.name} (code, sla_check_at, {listed}) "
            f"SELECT {code}, {check}, {', '.join('t.' + c for c in columns)} "
            f"FROM {table.name} t, ({series}) s WHERE t.id = :template"
        ),
        {"template": template_id},
    )
    # The due ones: open, their clock long past the first-response target that fell due a
    # minute ago, no response given.
    db.session.execute(
        text(
            f"UPDATE {table.name} SET {due_column} = sla_check_at, sla_due_at = sla_check_at,"
            " first_response_seconds = NULL, sla_running_since = sla_check_at,"
            " sla_clock_seconds = 10000000, sla_after_hours = false, status = 'open'"
            " WHERE code LIKE 'B-%' AND sla_check_at <= :now"
        ),
        {"now": now.replace(tzinfo=None)},
    )
    db.session.commit()
    if postgres:
        db.session.execute(text(f"ANALYZE {table.name}"))
        db.session.commit()


if __name__ == "__main__":
    main()
