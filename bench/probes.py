"""What the load balancer's probes cost, per request: liveness, and readiness with and without
Redis.

    python bench/probes.py [--requests 500] [--database-url postgresql+psycopg://...]
                           [--redis-url redis://127.0.0.1:6379/0]

Builds the demo host on a throwaway SQLite file (or the given database, whose helpdesk tables it
creates if missing; it writes no rows) and requests each probe through the test client. Prints
the median and 95th percentile wall time, the CPU time per request (time.process_time) and the
SQL statements per request, with the load average: the machine is shared.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event

from example_app import create_app


def measure(app, url: str, n: int) -> tuple[float, float, float, float]:
    client = app.test_client()
    statements = 0

    def count(*_args) -> None:
        nonlocal statements
        statements += 1

    with app.app_context():
        engine = app.extensions["helpdesk"].engine
    client.get(url)  # warm up: pool connection, Redis client
    event.listen(engine, "before_cursor_execute", count)
    walls = []
    cpu_start = time.process_time()
    for _ in range(n):
        began = time.perf_counter()
        response = client.get(url)
        walls.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, (url, response.status_code, response.json)
    cpu = (time.process_time() - cpu_start) * 1000 / n
    event.remove(engine, "before_cursor_execute", count)
    walls.sort()
    return statistics.median(walls), walls[int(len(walls) * 0.95) - 1], cpu, statements / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--database-url")
    parser.add_argument("--redis-url")
    args = parser.parse_args()
    url = args.database_url or "sqlite:///" + os.path.join(tempfile.mkdtemp(), "probes.sqlite")
    setups = [("without Redis", None)]
    if args.redis_url:
        setups.append(("with Redis", args.redis_url))
    print(f"{args.requests} requests each on {url.split(':')[0]}; load average {os.getloadavg()}")
    print(f"{'probe':34} {'median ms':>10} {'p95 ms':>8} {'CPU ms':>8} {'SQL/req':>8}")
    for label, redis_url in setups:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "HELPDESK_REDIS_URL": redis_url})
        with app.app_context():
            app.extensions["helpdesk"].create_all()
        for probe in ("live", "ready"):
            median, p95, cpu, sql = measure(app, f"/support/health/{probe}", args.requests)
            name = f"/health/{probe} ({label})"
            print(f"{name:34} {median:10.2f} {p95:8.2f} {cpu:8.2f} {sql:8.1f}")


if __name__ == "__main__":
    main()
