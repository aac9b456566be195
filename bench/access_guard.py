"""What acting as a customer costs per request: the guard (grant check) and the log row.

    python bench/access_guard.py [--requests 300] [--database-url postgresql+psycopg://...]

Builds the demo host on a throwaway SQLite file (or the given database, which it EMPTIES: its
helpdesk and demo tables are dropped and created again), seeds the demo data, and times the same
portal page (the list of requests) requested by the customer herself and by an agent acting as
her on an accepted grant. Prints the mean and median time per request and the difference, plus
the log rows written.
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

from flask_login import FlaskLoginClient
from sqlalchemy import func, select

from example_app import create_app
from example_app.models import Member, db


def timed(client, url: str, n: int) -> list[float]:
    client.get(url)  # warm up
    times = []
    for _ in range(n):
        start = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.status_code
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=300)
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
        }
    )
    app.test_client_class = FlaskLoginClient
    from flask_helpdesk.models import Agent, ImpersonationLog, Ticket
    from flask_helpdesk.services import consent
    from flask_helpdesk.services.demo import seed_demo
    from flask_helpdesk.services.identity import agent_as_actor, contact_as_actor

    with app.app_context():
        state = app.extensions["helpdesk"]
        state.drop_all()
        db.drop_all()
        db.create_all()
        state.create_all()
        seed_demo()
        lan = db.session.scalar(select(Member).where(Member.email == "lan@example.com"))
        minh = db.session.scalar(select(Member).where(Member.email == "minh@example.com"))
        ticket = db.session.scalar(
            select(Ticket).where(Ticket.subject == "Cannot change my account email")
        )
        agent = db.session.scalar(select(Agent).where(Agent.user_id == minh.get_id()))
        grant = consent.request_access(
            agent_as_actor(agent, user=minh), ticket, "bench", "view", timedelta(hours=24)
        )
        consent.accept(contact_as_actor(ticket.requester), grant)
        # The list, not the ticket page: the ticket page also shows the growing log itself.
        page = "/support/"
        start_url = f"/support/desk/access/{grant.id}/start"
        lan_id, minh_id = lan.id, minh.id
        db.session.remove()

    app.config["WTF_CSRF_ENABLED"] = False  # the bench posts the start form without a page load
    with app.app_context():
        own = app.test_client(user=db.session.get(Member, lan_id))
        acting = app.test_client(user=db.session.get(Member, minh_id))
    assert acting.post(start_url).status_code == 302
    plain = timed(own, page, args.requests)
    guarded = timed(acting, page, args.requests)
    with app.app_context():
        rows = db.session.scalar(select(func.count()).select_from(ImpersonationLog))
    dialect = url.split(":", 1)[0]
    print(f"{args.requests} requests of the portal list on {dialect}")
    for name, times in (("customer herself", plain), ("agent acting as her", guarded)):
        print(
            f"  {name:20} mean {statistics.mean(times):6.2f} ms"
            f"  median {statistics.median(times):6.2f} ms"
        )
    overhead = statistics.median(guarded) - statistics.median(plain)
    print(f"  guard + log overhead: {overhead:+.2f} ms per request (median); {rows} log rows")


if __name__ == "__main__":
    main()
