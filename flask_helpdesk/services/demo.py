"""Demo data for ``flask helpdesk seed-demo``: departments from seed 000's categories, a
customer, two agents, an admin and tickets in every status, all made through the services, and
90 days of history for the reports (services/demo_history.py)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from ..i18n import SEEDED_DEPARTMENTS
from ..models import Department, Priority, TicketStatus, utcnow
from ..state import current_helpdesk
from . import desk, distribution, messages, tickets
from .agents import make_agent
from .api_tokens import create_token
from .base import session
from .calendars import add_holiday
from .demo_articles import seed_articles
from .demo_history import DAYS, seed_history
from .departments import create_department
from .identity import SYSTEM, agent_as_actor, contact_as_actor, sync_contact
from .rule_admin import configure_auto_close
from .sla_presets import install_preset

DEPARTMENTS = SEEDED_DEPARTMENTS

PEOPLE = [
    # key, name, email, is_admin
    ("customer", "Lan Nguyen", "lan@example.com", False),
    ("customer2", "Reza Karimi", "reza@example.com", False),
    ("agent1", "Minh Tran", "minh@example.com", False),
    ("agent2", "Sara Ahmadi", "sara@example.com", False),
    ("admin", "Alex Admin", "admin@example.com", True),
]


def seed_demo() -> list[str]:
    """Create the demo data once; returns lines describing what exists."""
    if session().scalar(select(Department).limit(1)) is not None:
        return ["The helpdesk already has data; nothing seeded."]
    factory = current_helpdesk.extension._demo_user_factory
    if factory is None:
        raise RuntimeError(
            "seed-demo needs host users: register @helpdesk.demo_user_factory in the host app"
        )
    for position, (slug, name) in enumerate(DEPARTMENTS):
        create_department(SYSTEM, name, slug=slug, position=position)
    users = {key: factory(key, name, email, is_admin) for key, name, email, is_admin in PEOPLE}
    agent1 = make_agent(users["agent1"].get_id(), ["account", "campaigns", "reports", "market"])
    agent2 = make_agent(
        users["agent2"].get_id(), ["revenue", "partners", "other", "account"], role="lead"
    )
    admin = make_agent(users["admin"].get_id(), [], role="admin")
    lan = contact_as_actor(sync_contact(users["customer"]))
    reza = contact_as_actor(sync_contact(users["customer2"]))
    minh, sara = agent_as_actor(agent1), agent_as_actor(agent2)
    dept = {d.slug: d.id for d in session().scalars(select(Department))}
    # The seeds' service levels (docs/sla.rst): seed 002's for Account, seed 000's for the rest,
    # so the queue and the customer's pages show live due times.
    install_preset(SYSTEM, "72-hours")
    business = install_preset(
        SYSTEM,
        "business-hour",
        "Asia/Ho_Chi_Minh",
        default=False,
        conditions={"department_ids": [dept["account"]]},
    )
    # Account, the department both agents work in, hands its tickets out in turn while they are
    # on shift (docs/automation.rst); the other departments leave it to the agents.
    account = session().get(Department, dept["account"])
    distribution.set_mode(SYSTEM, account, "round_robin")
    # Two of Vietnam's public holidays to come, so the calendar's page shows some.
    next_year = utcnow().year + 1
    for day, name in (
        (date(next_year, 1, 1), "Tết Dương lịch"),
        (date(next_year, 9, 2), "Quốc khánh"),
    ):
        add_holiday(SYSTEM, business.calendar_id, day, name)

    def new(actor, slug, subject, body, priority=Priority.NORMAL):
        return tickets.open_ticket(
            actor,
            tickets.NewTicket(
                department_id=dept[slug], subject=subject, body=body, priority=priority
            ),
        )

    new(
        lan,
        "account",
        "Cannot change my account email",
        "When I save a new email on the profile page nothing happens.",
    )
    answered = new(
        lan,
        "campaigns",
        "Campaign stuck in review",
        "My campaign 'Summer sale' has been in review for 3 days.",
        Priority.HIGH,
    )
    messages.post_message(
        minh,
        answered,
        "Thanks Lan, we asked the review team to look at it "
        "today. We will write again when it is approved.",
    )
    processing = new(
        lan,
        "revenue",
        "Reconciliation for October differs",
        "The October report shows 12 conversions less than our own records.",
    )
    tickets.change_status(sara, processing, TicketStatus.PROCESSING)
    # Owned tickets, so "My open" is not empty for either agent.
    desk.assign(minh, answered, agent1.id)
    desk.assign(sara, processing, agent2.id)
    replied = new(
        lan,
        "reports",
        "Export to CSV is empty",
        "The CSV export of the daily report downloads an empty file.",
    )
    messages.post_message(minh, replied, "Which date range did you choose?")
    messages.post_message(lan, replied, "The last 7 days, with the 'all partners' filter.")
    closed = new(
        lan,
        "account",
        "How do I add a second user?",
        "We want a colleague to see the reports too.",
        Priority.LOW,
    )
    messages.post_message(minh, closed, "Go to Settings → Team and invite them by email.")
    tickets.close_ticket(lan, closed)
    tickets.rate_ticket(lan, closed, 5, "Quick and clear, thanks!")
    new(
        reza,
        "other",
        "Partnership proposal",
        "We would like to discuss a partnership.",
        Priority.URGENT,
    )
    spam = new(reza, "other", "Cheap followers!!!", "Buy 10,000 followers now at example.net")
    tickets.change_status(agent_as_actor(admin, host_admin=True), spam, TicketStatus.SPAM)

    # Issue 13 §4: answered tickets the customer leaves for 3 days close, with a mail.
    configure_auto_close(SYSTEM, 3, working_days=False, active=True)
    past = seed_history()  # 90 days of closed tickets for the reports page
    articles = seed_articles(sara)

    _row, token = create_token(SYSTEM, "demo", scope="admin", agent=admin)
    site = (current_helpdesk.config["HELPDESK_EXTERNAL_URL"] or "http://127.0.0.1:5000").rstrip("/")
    api = site + current_helpdesk.config["HELPDESK_API_URL_PREFIX"]
    return [
        f"Seeded {len(DEPARTMENTS)} departments and 7 tickets,"
        f" and {past} tickets of {DAYS} days' history for the reports.",
        f"Help center: {articles} articles in English, Vietnamese and Persian.",
        "SLA: Account answers within 1 working hour (08:00-19:00, Asia/Ho_Chi_Minh), else"
        " 24 hours; the other departments within 72 hours.",
        "Auto-close: answered tickets without a customer reply for 3 days close (Admin → Rules).",
        "Distribution: Account gives new tickets to Minh and Sara in turn (round robin).",
        *(
            f"  {key:10} {name} <{email}>{' (admin)' if is_admin else ''}"
            for key, name, email, is_admin in PEOPLE
        ),
        f"API token of {admin.display_name} (admin scope; shown this once):",
        f"  {token}",
        f'  curl -H "Authorization: Bearer {token}" {api}/tickets',
    ]
