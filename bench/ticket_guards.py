"""What the spam filter and the house rules cost per ticket a customer opens.

    python bench/ticket_guards.py [--tickets 200] [--database-url postgresql+psycopg://...]

Builds the demo host on a throwaway SQLite file (or the given database, which it EMPTIES: its
helpdesk and demo tables are dropped and created again), trains the filter with 100 spam and
100 good tickets marked by an agent, and opens the same number of customer tickets twice:
with the filter off and every house rule off, then with the filter on and the three house
rules on (limits high enough never to refuse; 20 open tickets to compare for duplicates;
texts in English, Vietnamese and Persian, all accepted). Prints the median time per ticket
each way and the difference: the cost of the classifier and the guards.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from example_app import create_app
from example_app.models import Member, db
from flask_helpdesk.models import TicketStatus
from flask_helpdesk.services import house_rules, tickets
from flask_helpdesk.services.agents import make_agent
from flask_helpdesk.services.departments import create_department
from flask_helpdesk.services.identity import SYSTEM, agent_as_actor, contact_as_actor, sync_contact

WORDS = {
    "spam": [
        "free",
        "prize",
        "winner",
        "click",
        "claim",
        "offer",
        "cheap",
        "casino",
        "bonus",
        "money",
        "now",
        "limited",
    ],
    "ham": [
        "cannot",
        "login",
        "account",
        "invoice",
        "password",
        "reset",
        "order",
        "delivery",
        "refund",
        "help",
    ],
    "vi": [
        "tôi",
        "không",
        "thể",
        "đăng",
        "nhập",
        "vào",
        "tài",
        "khoản",
        "của",
        "mình",
        "từ",
        "hôm",
        "qua",
        "xin",
        "giúp",
    ],
    "fa": [
        "سلام",
        "از",
        "دیروز",
        "نمی\u200cتوانم",
        "وارد",
        "حساب",
        "کاربری",
        "شوم",
        "لطفا",
        "کمک",
        "کنید",
    ],
}


def text(kind: str, rng: random.Random, n: int = 25) -> str:
    """*n* words of *kind*, and an order number: requests alike, but no two the same."""
    words = [rng.choice(WORDS[kind]) for _ in range(n)]
    return " ".join(words) + f" #{rng.randrange(10**9)} #{rng.randrange(10**9)}"


def member(email: str, admin: bool = False) -> Member:
    person = Member(email=email, display_name=email.split("@")[0], is_superuser=admin)
    person.set_password("bench")
    db.session.add(person)
    db.session.commit()
    return person


def open_many(customer, department, count: int, rng: random.Random) -> list[float]:
    times = []
    for n in range(count):
        kind = ("ham", "vi", "fa")[n % 3]
        data = tickets.NewTicket(
            department_id=department.id, subject=f"Request {n}", body=text(kind, rng)
        )
        start = time.perf_counter()
        tickets.open_ticket(customer, data)
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=200)
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
            "HELPDESK_SPAM_MIN_TRAINING": 50,
        }
    )
    rng = random.Random(0)
    with app.app_context():
        state = app.extensions["helpdesk"]
        state.drop_all()
        db.drop_all()
        db.create_all()
        state.create_all()
        department = create_department(SYSTEM, "Support", slug="support")
        admin = agent_as_actor(make_agent(member("admin@example.com", True).get_id(), [], "admin"))
        agent = agent_as_actor(make_agent(member("agent@example.com").get_id(), ["support"]))
        customer = contact_as_actor(sync_contact(member("customer@example.com")))
        trainer = contact_as_actor(sync_contact(member("trainer@example.net")))
        for n in range(100):  # an agent's marks: 100 spam, 100 good
            spam = tickets.open_ticket(
                trainer, tickets.NewTicket(department.id, f"Offer {n}", text("spam", rng))
            )
            if spam.status != TicketStatus.SPAM:  # the filter may have caught it by itself
                tickets.change_status(agent, spam, TicketStatus.SPAM)
            good = tickets.open_ticket(
                trainer, tickets.NewTicket(department.id, f"Help {n}", text("ham", rng))
            )
            good.status = TicketStatus.SPAM
            tickets.change_status(agent, good, TicketStatus.OPEN)

        app.extensions["helpdesk"].config["HELPDESK_SPAM_FILTER"] = False
        plain = open_many(customer, department, args.tickets, rng)

        app.extensions["helpdesk"].config["HELPDESK_SPAM_FILTER"] = True
        house_rules.save(
            admin,
            {
                house_rules.LANGUAGE: (True, {"accepted": ["en", "vi", "fa"]}),
                house_rules.DUPLICATE: (True, {}),
                house_rules.ABUSE: (True, {"per_hour": 10_000, "per_day": 10_000}),
            },
        )
        house_rules.detect_language("warm the detector's model up once", 1, 0.0)
        guarded = open_many(customer, department, args.tickets, rng)
        db.session.remove()
    dialect = url.split(":", 1)[0]
    print(f"{args.tickets} customer tickets opened each way on {dialect}")
    for name, times in (("filter and rules off", plain), ("filter and rules on", guarded)):
        print(
            f"  {name:22} mean {statistics.mean(times):6.2f} ms"
            f"  median {statistics.median(times):6.2f} ms"
        )
    cost = statistics.median(guarded) - statistics.median(plain)
    print(f"  classifier + guards: {cost:+.2f} ms per created ticket (median)")


if __name__ == "__main__":
    main()
