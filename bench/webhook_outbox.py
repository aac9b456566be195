"""What the webhook outbox costs the change that writes it, and a burst of 10,000 events.

    python bench/webhook_outbox.py [--events 10000] [--database-url postgresql+psycopg://...]

Builds the demo host on a throwaway SQLite file (or the given database, which it EMPTIES), then
times agent replies (a service call: validate, write, audit, outbox, commit) with no webhook
endpoint, with one subscribed endpoint and with ten, and finally makes a burst of --events
replies with one endpoint subscribed and counts the deliveries queued. Nothing is sent: jobs
run inline and no sweep runs, so the figures are the writing side only.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select

from example_app import create_app
from example_app.models import db


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=300)
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
    from flask_helpdesk.models import Agent, Ticket, WebhookDelivery, WebhookEndpoint
    from flask_helpdesk.services import messages, webhooks
    from flask_helpdesk.services.demo import seed_demo
    from flask_helpdesk.services.identity import SYSTEM, agent_as_actor

    with app.app_context():
        state = app.extensions["helpdesk"]
        state.drop_all()
        db.drop_all()
        db.create_all()
        state.create_all()
        seed_demo()
        admin = agent_as_actor(db.session.scalar(select(Agent).where(Agent.role == "admin")))
        ticket = db.session.scalar(select(Ticket).order_by(Ticket.id))

        def replies(n: int) -> list[float]:
            times = []
            for i in range(n):
                start = time.perf_counter()
                messages.post_message(admin, ticket, f"note {i}", internal=True)
                times.append((time.perf_counter() - start) * 1000)
            return times

        def median_with(endpoints: int) -> float:
            db.session.execute(WebhookEndpoint.__table__.delete())
            db.session.commit()
            for i in range(endpoints):
                webhooks.create_endpoint(SYSTEM, f"https://example.com/{i}", ["note.created"])
            replies(20)  # warm up
            return statistics.median(replies(args.samples))

        dialect = url.split(":", 1)[0]
        print(f"internal note by an agent on {dialect}, median of {args.samples}:")
        for endpoints in (0, 1, 10):
            print(f"  {endpoints:2} subscribed endpoint(s): {median_with(endpoints):6.2f} ms")
        db.session.execute(WebhookDelivery.__table__.delete())
        db.session.execute(WebhookEndpoint.__table__.delete())
        db.session.commit()
        webhooks.create_endpoint(SYSTEM, "https://example.com/burst", ["note.created"])
        start = time.perf_counter()
        replies(args.events)
        seconds = time.perf_counter() - start
        queued = db.session.scalar(select(func.count()).select_from(WebhookDelivery))
        print(
            f"burst: {args.events} notes in {seconds:.1f} s"
            f" ({seconds / args.events * 1000:.2f} ms each), {queued} deliveries queued"
        )


if __name__ == "__main__":
    main()
