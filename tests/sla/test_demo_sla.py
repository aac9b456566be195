"""The demo is seeded with the seeds' two presets, so its tickets show live due times."""

from __future__ import annotations

from sqlalchemy import select

from flask_helpdesk.models import SlaPolicy, Ticket, TicketStatus
from flask_helpdesk.services.base import session
from flask_helpdesk.services.demo import seed_demo


def test_demo_has_both_presets_and_live_due_times(app):
    report = seed_demo()
    assert any("within 72 hours" in line for line in report)
    policies = {p.name: p for p in session().scalars(select(SlaPolicy))}
    assert policies["Answer within 72 hours"].is_default
    business = policies["1 working hour 08:00-19:00, else 24 hours"]
    assert business.calendar.timezone == "Asia/Ho_Chi_Minh"
    waiting = (
        session()
        .scalars(
            select(Ticket).where(
                Ticket.status.in_([TicketStatus.OPEN, TicketStatus.CUSTOMER_REPLIED])
            )
        )
        .all()
    )
    assert waiting and all(t.sla_due_at is not None for t in waiting)
    account = [t for t in waiting if t.department.slug == "account"]
    assert account and all(t.sla_policy_id == business.id for t in account)
