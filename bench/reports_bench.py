"""Time the reports over a large helpdesk: 1,000,000 tickets and 3,000,000 messages by default,
every report for a 90-day period. A script, not a test (CI never runs it)::

    python bench/reports_bench.py --url postgresql+psycopg://postgres@127.0.0.1/hd_bench
    python bench/reports_bench.py --url sqlite:////tmp/reports.sqlite --tickets 200000
    python bench/reports_bench.py --url ... --skip-load     # time a loaded database again

The data is made in bulk SQL (``generate_series`` on PostgreSQL, a recursive CTE on SQLite) in a
few statements, so a million tickets load in minutes: tickets spread over a year across five
departments, four channels and four priorities, three messages each, and the facts the services
would have recorded for them (created, first response, reply, resolution for 98 %, a rating for
40 %, a breach where the first response missed a two-hour target). The full-text triggers are
switched off for the load (reports do not read the search index). Timings are whole HTTP
requests through the Flask test client as an admin (every department: the largest scope),
after one warm-up request: the page with each breakdown and the CSV export, median and worst of
``--repeat`` runs, with the number of SQL statements.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_login import FlaskLoginClient
from sqlalchemy import event, select, text

from example_app import create_app
from example_app.models import Member, db
from flask_helpdesk.models import Contact, Department
from flask_helpdesk.services.agents import make_agent
from flask_helpdesk.services.base import session
from flask_helpdesk.services.departments import create_department
from flask_helpdesk.services.facts import rebuild_rollup
from flask_helpdesk.services.identity import SYSTEM

DAYS = 365
DEPARTMENTS = 5


def seconds_after(dialect: str, column: str, seconds: str) -> str:
    """SQL for *column* plus *seconds* (an SQL expression)."""
    if dialect == "postgresql":
        return f"({column} + ({seconds}) * INTERVAL '1 second')"
    return f"datetime({column}, '+' || ({seconds}) || ' seconds')"


def load(app, n: int) -> None:
    engine = app.extensions["helpdesk"].engine
    dialect = engine.dialect.name
    with engine.connect() as connection:
        if dialect == "postgresql":
            connection.exec_driver_sql("DROP SCHEMA public CASCADE")
            connection.exec_driver_sql("CREATE SCHEMA public")
            connection.commit()
    if dialect == "sqlite":
        app.extensions["helpdesk"].drop_all()
        db.drop_all()
    db.create_all()
    app.extensions["helpdesk"].create_all()
    members = [Member(email="admin@example.com", display_name="Alex Admin", is_superuser=True)]
    members += [Member(email=f"agent{k}@example.com", display_name=f"Agent {k}") for k in range(10)]
    for member in members:
        member.set_password("bench")
    db.session.add_all(members)
    db.session.commit()
    for number in range(DEPARTMENTS):
        create_department(SYSTEM, f"Department {number + 1}", slug=f"d{number + 1}")
    make_agent(members[0].get_id(), [], role="admin")
    agents = [
        make_agent(m.get_id(), [f"d{k % DEPARTMENTS + 1}"]).id for k, m in enumerate(members[1:])
    ]
    contact = Contact(name="Bench customer", email="bench@example.com")
    session().add(contact)
    session().commit()
    first_department = session().scalar(select(Department.id).order_by(Department.id))
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=DAYS)
    step = DAYS * 86400 / n
    started = time.perf_counter()
    with engine.begin() as c:
        if dialect == "postgresql":
            for table in ("helpdesk_ticket", "helpdesk_message"):
                c.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            series = f"FROM generate_series(1, {n}) AS g(x)"
            created = (
                f"(TIMESTAMP '{start:%Y-%m-%d %H:%M:%S}' + (x * {step}) * INTERVAL '1 second')"
            )
            code = "'B-' || lpad(x::text, 8, '0')"
            prefix = ""
        else:
            for (name,) in c.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'trigger'"
            ).all():
                c.exec_driver_sql(f'DROP TRIGGER "{name}"')
            series = "FROM g"
            created = (
                f"datetime({int(start.timestamp())} + CAST(x * {step} AS INTEGER), 'unixepoch')"
            )
            code = "printf('B-%08d', x)"
            prefix = (
                f"WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < {n}) "
            )
        channel = (
            "CASE x % 20 WHEN 0 THEN 'api' WHEN 1 THEN 'desk'"
            " ELSE CASE WHEN x % 3 = 0 THEN 'email' ELSE 'web' END END"
        )
        assignee = f"(SELECT {agents[0]} + (x % {len(agents)}))"
        c.execute(
            text(
                prefix + "INSERT INTO helpdesk_ticket (code, subject, status, priority, channel,"
                " department_id, requester_id, assignee_id, notify_sms, created_at, updated_at,"
                " sla_clock_seconds, sla_after_hours, first_response_breached,"
                " next_response_breached, resolution_breached, reopen_count)"
                f" SELECT {code}, 'Bench ticket ' || x,"
                " CASE WHEN x % 50 = 0 THEN 'answered' ELSE 'closed' END, x % 4,"
                f" {channel}, {first_department} + x % {DEPARTMENTS}, {contact.id}, {assignee},"
                f" false, {created}, {created}, 0, false, false, false, false, 0 {series}"
            )
        )
        print(f"tickets: {time.perf_counter() - started:.0f}s", flush=True)
        first_wait = "((CAST(t.id AS BIGINT) * 7919) % 14400 + 60)"
        resolve_wait = "((CAST(t.id AS BIGINT) * 104729) % 300000 + 3600)"
        c.execute(
            text(
                "INSERT INTO helpdesk_message (ticket_id, kind, channel, author_contact_id,"
                " author_agent_id, body, data, created_at)"
                " SELECT t.id, 'reply', t.channel,"
                " CASE WHEN k.k = 2 THEN NULL ELSE t.requester_id END,"
                " CASE WHEN k.k = 2 THEN t.assignee_id END, 'Message ' || k.k, '{}',"
                f" {seconds_after(dialect, 't.created_at', f'(k.k - 1) * {first_wait}')}"
                " FROM helpdesk_ticket t"
                " CROSS JOIN (SELECT 1 AS k UNION ALL SELECT 2 UNION ALL SELECT 3) k"
            )
        )
        print(f"messages: {time.perf_counter() - started:.0f}s", flush=True)
        common = "t.id, t.department_id, t.assignee_id, t.channel, t.priority"
        columns = (
            "ticket_id, department_id, assignee_id, channel, priority, kind, at, agent_id,"
            " wall_seconds, work_seconds, met, target, backlog_delta, good, stars"
        )
        answered = seconds_after(dialect, "t.created_at", first_wait)
        resolved = seconds_after(dialect, "t.created_at", resolve_wait)
        breach = seconds_after(dialect, "t.created_at", "7200")
        for kind, at, rest, where in [
            ("created", "t.created_at", "NULL, NULL, NULL, NULL, NULL, 1, NULL, NULL", "1 = 1"),
            (
                "first_response",
                answered,
                f"t.assignee_id, {first_wait}, {first_wait} * 7 / 10,"
                f" {first_wait} * 7 / 10 <= 7200, NULL, 0, NULL, NULL",
                "1 = 1",
            ),
            (
                "reply",
                answered,
                f"t.assignee_id, {first_wait}, {first_wait} * 7 / 10, NULL, NULL, 0, NULL, NULL",
                "1 = 1",
            ),
            (
                "breached",
                breach,
                "NULL, NULL, NULL, NULL, 'first_response', 0, NULL, NULL",
                f"{first_wait} * 7 / 10 > 7200",
            ),
            (
                "resolved",
                resolved,
                f"t.assignee_id, {resolve_wait}, {resolve_wait} / 3, NULL, NULL, -1, NULL, NULL",
                "t.status = 'closed'",
            ),
            (
                "rated",
                resolved,
                "NULL, NULL, NULL, NULL, NULL, 0, (t.id * 13) % 5 + 1 >= 4, (t.id * 13) % 5 + 1",
                "t.status = 'closed' AND t.id % 5 < 2",
            ),
        ]:
            c.execute(
                text(
                    f"INSERT INTO helpdesk_ticket_fact ({columns})"
                    f" SELECT {common}, '{kind}', {at}, {rest} FROM helpdesk_ticket t WHERE {where}"
                )
            )
            print(f"facts {kind}: {time.perf_counter() - started:.0f}s", flush=True)
        if dialect == "postgresql":
            for table in ("helpdesk_ticket", "helpdesk_message"):
                c.exec_driver_sql(f"ALTER TABLE {table} ENABLE TRIGGER USER")
    rebuild(app)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.exec_driver_sql("VACUUM ANALYZE" if dialect == "postgresql" else "ANALYZE")
    print(f"loaded {n:,} tickets in {time.perf_counter() - started:.0f}s", flush=True)


def rebuild(app) -> None:
    """The daily roll-up from the loaded facts, as the migration and the backfill build it."""
    engine = app.extensions["helpdesk"].engine
    began, cpu = time.perf_counter(), time.process_time()
    with engine.begin() as c:
        rows = rebuild_rollup(c, app.extensions["helpdesk"].config["HELPDESK_REPORTS_TIMEZONE"])
    print(
        f"roll-up rebuilt: {rows:,} rows in {time.perf_counter() - began:.1f}s"
        f" (client CPU {time.process_time() - cpu:.1f}s)",
        flush=True,
    )


def measure(app, repeat: int) -> None:
    with app.app_context():
        engine = app.extensions["helpdesk"].engine
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with app.app_context():
        admin = db.session.scalar(select(Member).where(Member.email == "admin@example.com"))
        counts = {
            name: db.session.execute(text(f"SELECT count(*) FROM {name}")).scalar()
            for name in (
                "helpdesk_ticket",
                "helpdesk_message",
                "helpdesk_ticket_fact",
                "helpdesk_report_day",
            )
        }
        last = db.session.execute(text("SELECT max(at) FROM helpdesk_ticket_fact")).scalar()
    print(", ".join(f"{k}: {v:,}" for k, v in counts.items()))
    last_day = (last if isinstance(last, datetime) else datetime.fromisoformat(str(last))).date()
    first_day = last_day - timedelta(days=89)
    app.test_client_class = FlaskLoginClient  # logged in as the admin, without the login form
    client = app.test_client(user=admin)
    period = f"first={first_day}&last={last_day}"
    print(f"90-day period {first_day} to {last_day}, previous period compared; {repeat} runs")
    print("load average (1/5/15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    for label, url in [
        ("page, by department", f"/support/desk/reports?{period}&by=department"),
        ("page, by agent", f"/support/desk/reports?{period}&by=agent"),
        ("page, by channel", f"/support/desk/reports?{period}&by=channel"),
        ("page, by priority", f"/support/desk/reports?{period}&by=priority"),
        ("CSV, by department", f"/support/desk/reports.csv?{period}&by=department"),
    ]:
        assert client.get(url).status_code == 200, url  # warm-up
        times, cpu_times = [], []
        for _run in range(repeat):
            statements.clear()
            began, cpu = time.perf_counter(), time.process_time()
            response = client.get(url)
            response.get_data()
            times.append((time.perf_counter() - began) * 1000)
            cpu_times.append((time.process_time() - cpu) * 1000)
            assert response.status_code == 200
        print(
            f"  {label:22} median {statistics.median(times):7.1f} ms"
            f"   worst {max(times):7.1f} ms   Python CPU {statistics.median(cpu_times):6.1f} ms"
            f"   {len(statements)} statements"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True, help="database URL (PostgreSQL or SQLite)")
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-load", action="store_true")
    parser.add_argument(
        "--rebuild", action="store_true", help="with --skip-load: rebuild the roll-up first"
    )
    args = parser.parse_args()
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": args.url,
            "HELPDESK_REDIS_URL": None,
            "MAIL_SUPPRESS_SEND": True,
            "HELPDESK_MAIL_BACKEND": "log",
        }
    )
    if not args.skip_load:
        with app.app_context():
            load(app, args.tickets)
    elif args.rebuild:
        with app.app_context():
            rebuild(app)
    measure(app, args.repeat)


if __name__ == "__main__":
    main()
