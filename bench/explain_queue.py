"""Database time of the queue's ticket query for each case of the benchmark. Run after
``queue_bench.py``::

    python bench/explain_queue.py --url postgresql+psycopg://postgres@127.0.0.1/hd_bench
    python bench/explain_queue.py --url sqlite:////tmp/bench.sqlite

PostgreSQL: the server's execution time from ``EXPLAIN ANALYZE`` (median of 5), without the
network, the driver, Python or a busy CPU's scheduling. SQLite has no server: the page's
queries as the queue runs them (``queue_page``: the search's plan choice, the ticket query, the
tags), median wall and CPU time (``time.process_time``) of ``--repeat`` runs and the statement
count, with the plan's shape from ``EXPLAIN QUERY PLAN``: which table or index drives it, and
"+sort" when SQLite sorts the matches (a temporary B-tree for the ORDER BY) instead of reading
them in the queue's order.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from urllib.parse import parse_qsl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select, text
from werkzeug.datastructures import MultiDict

from example_app import create_app
from example_app.models import db
from flask_helpdesk.models import Agent
from flask_helpdesk.services import queues
from flask_helpdesk.services.identity import agent_as_actor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument(
        "--search-plan",
        choices=("auto", "walk", "sort"),
        default="auto",
        help="force the search's plan (services/search.py) to compare the two at one size",
    )
    parser.add_argument("--repeat", type=int, default=15, help="runs per case (SQLite)")
    args = parser.parse_args()
    if args.search_plan != "auto":
        from flask_helpdesk.services import search

        walk = args.search_plan == "walk"
        search.walk_the_queue = lambda *args: walk
    sys.argv = sys.argv[:1]
    from queue_bench import search_words, ticket_search_word  # the benchmark's words

    app = create_app({"SQLALCHEMY_DATABASE_URI": args.url, "HELPDESK_REDIS_URL": None})
    with app.test_request_context():
        agent = db.session.scalar(select(Agent).where(Agent.email == "agent0@example.com"))
        actor = agent_as_actor(agent)
        department = agent.departments[0].id
        contact = db.session.scalar(text("SELECT requester_id FROM helpdesk_ticket LIMIT 1"))
        code = db.session.scalar(text("SELECT code FROM helpdesk_ticket ORDER BY id LIMIT 1"))
        common, medium, rare, frequent = search_words()
        third = ticket_search_word()
        per_page = app.config.get("HELPDESK_TICKETS_PER_PAGE", 25)
        page_1000 = queues.build_query(actor, queues.QueueFilter())
        before = db.session.scalars(page_1000.offset(999 * per_page - 1).limit(1)).unique().one()
        cases = {
            "queue page 1": "",
            "queue page 1,000 (cursor)": "CURSOR",
            "status=open,customer_replied": "status=open&status=customer_replied",
            "department": f"department={department}",
            "assignee=me": "assignee=me",
            "assignee=unassigned": "assignee=unassigned",
            "requester": f"requester={contact}",
            "creator": f"creator=contact:{contact}",
            "priority=urgent": "priority=3",
            "tag": "tag=vip",
            "unread customer reply": "unread=1",
            "sort=created": "sort=created",
            "sort=priority": "sort=priority",
            "view: My open": "VIEW:mine",
            "view: Unassigned": "VIEW:unassigned",
            f"search common word ({common[1]:.1%})": f"q={common[0]}",
            f"search medium word ({medium[1]:.2%})": f"q={medium[0]}",
            f"search rare word ({rare[1]:.3%})": f"q={rare[0]}",
            "search two words (common + medium)": f"q={common[0]}+{medium[0]}",
            "search ticket code": f"q={code}",
            f"search frequent word ({frequent[1]:.1%})": f"q={frequent[0]}",
            "search two words (frequent + common)": f"q={frequent[0]}+{common[0]}",
            f"search word in {third[1]:.0%} of tickets": f"q={third[0]}",
            "search two words (30% + common)": f"q={third[0]}+{common[0]}",
        }
        views = {slug: f for slug, _label, f in queues.builtin_views()}
        if db.engine.dialect.name == "sqlite":
            sqlite_times(actor, cases, views, before, per_page, args.repeat)
            return
        print(f"{'ticket query of':<42} {'median ms':>9}")
        for label, query in cases.items():
            cursor = None
            if query == "CURSOR":
                f, cursor = queues.QueueFilter(), queues.encode_cursor(before, "updated")
            elif query.startswith("VIEW:"):
                f = views[query[5:]]
            else:
                f = queues.parse(MultiDict(parse_qsl(query)))[0]
            statement = queues.build_query(actor, f)
            if cursor:
                key = queues.decode_cursor(cursor, "updated")
                assert key is not None
                from sqlalchemy import tuple_

                statement = statement.where(
                    tuple_(*queues._sort_columns("updated"))
                    < tuple_(
                        *[
                            queues._typed(c, v)
                            for c, v in zip(queues._sort_columns("updated"), key[1], strict=True)
                        ]
                    )
                )
            sql = str(
                statement.limit(per_page + 1).compile(
                    db.engine, compile_kwargs={"literal_binds": True}
                )
            )
            times = []
            for _ in range(5):
                plan = db.session.execute(text("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)).scalar()
                times.append(plan[0]["Execution Time"])
            print(f"{label:<42} {statistics.median(times):>9.1f}", flush=True)


def queue_filter(query: str, views: dict) -> queues.QueueFilter:
    if query.startswith("VIEW:"):
        return views[query[5:]]
    return queues.parse(MultiDict(parse_qsl(query)))[0]


def sqlite_times(actor, cases: dict, views: dict, before, per_page: int, repeat: int) -> None:
    import time

    from sqlalchemy import event

    statements: list[str] = []
    captured: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)
        captured.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    load = " ".join(f"{n:.1f}" for n in __import__("os").getloadavg())
    print(f"sqlite, {repeat} runs each, load average {load}")
    print(f"{'queue_page() of':<42} {'wall ms':>8} {'CPU ms':>8} {'stmts':>6}  plan")
    for label, query in cases.items():
        cursor = None
        if query == "CURSOR":
            f, cursor = queues.QueueFilter(), queues.encode_cursor(before, "updated")
        else:
            f = queue_filter(query, views)
        captured.clear()
        queues.queue_page(actor, f, cursor, per_page)
        ticket_query = next(s for s in captured if "ORDER BY" in s[0] and "helpdesk_ticket" in s[0])
        raw = db.session.connection().connection.dbapi_connection.cursor()
        steps = [
            row[-1] for row in raw.execute("EXPLAIN QUERY PLAN " + ticket_query[0], ticket_query[1])
        ]
        drives = next((s for s in steps if s.startswith(("SCAN", "SEARCH"))), "?")
        shape = drives.replace("USING COVERING INDEX", "USING").replace("USING INDEX ", "")
        if any("TEMP B-TREE FOR ORDER BY" in s for s in steps):
            shape += " +sort"
        walls, cpus = [], []
        for _ in range(repeat):
            db.session.expire_all()
            statements.clear()
            captured.clear()
            wall, cpu = time.perf_counter(), time.process_time()
            queues.queue_page(actor, f, cursor, per_page)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
        print(
            f"{label:<42} {statistics.median(walls) * 1000:>8.1f}"
            f" {statistics.median(cpus) * 1000:>8.1f} {len(statements):>6}  {shape[:60]}",
            flush=True,
        )


if __name__ == "__main__":
    main()
