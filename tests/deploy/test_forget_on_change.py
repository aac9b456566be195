"""The per-process caches of rows (department rows, mail routing, active SLA policies, each
department's staff) are forgotten by the flush that changes those rows, through the one
registry of services/base.py (forget_on_change), whoever writes them."""

from __future__ import annotations

from flask_helpdesk.models import Agent, Availability, Department, Mailbox, SlaPolicy
from flask_helpdesk.services import base
from flask_helpdesk.services.agents import make_agent
from flask_helpdesk.services.base import cached_for_app, forget_on_change, session
from flask_helpdesk.services.departments import department_row
from flask_helpdesk.services.mail_routing import routing
from flask_helpdesk.services.notifications.tickets import department_staff
from flask_helpdesk.services.sla_policies import active_policies
from tests.conftest import make_member


def test_a_renamed_department_is_read_renamed_at_once(departments):
    billing_id = departments["billing"].id
    session().expunge_all()  # read from the process's copy, not the session's row
    assert department_row(billing_id).name == "Billing"
    session().execute(  # another process: this one's copy stays
        Department.__table__.update().where(Department.id == billing_id).values(name="Elsewhere")
    )
    session().commit()
    session().expunge_all()
    assert department_row(billing_id).name == "Billing"
    billing = session().get(Department, billing_id)
    billing.name = "Invoices"
    session().commit()
    session().expunge_all()
    assert department_row(billing_id).name == "Invoices"


def test_a_new_mailbox_routes_the_next_mail(departments):
    assert "help@example.org" not in routing().mailboxes
    mailbox = Mailbox(
        department_id=departments["billing"].id,
        address="help@example.org",
        host="imap.example.org",
        username="help",
    )
    session().add(mailbox)
    session().commit()
    assert routing().mailboxes["help@example.org"] == departments["billing"].id
    session().delete(mailbox)
    session().commit()
    assert "help@example.org" not in routing().mailboxes


def test_a_new_policy_is_tried_for_the_next_ticket(departments):
    assert active_policies() == []
    session().add(SlaPolicy(name="Fast", conditions={}, first_response_minutes=30))
    session().commit()
    assert [p.first_response_minutes for p in active_policies()] == [30]


def test_staff_follow_their_departments_but_not_their_presence(departments):
    mai = make_agent(str(make_member("Mai Tran", "mai@example.com").id), ["billing"])
    billing = departments["billing"].id
    assert [m.email for m in department_staff()[billing]] == ["mai@example.com"]
    cached = department_staff()

    mai = session().get(Agent, mai.id)
    mai.availability = Availability.AWAY  # presence: not what the cache holds
    session().commit()
    assert department_staff() is cached

    mai = session().get(Agent, mai.id)
    mai.email = "mai.tran@example.com"
    session().commit()
    assert [m.email for m in department_staff()[billing]] == ["mai.tran@example.com"]

    account = session().get(Department, departments["account"].id)
    account.agents.append(session().get(Agent, mai.id))  # from the department's side
    session().commit()
    assert [m.id for m in department_staff()[account.id]] == [mai.id]


def test_a_declared_key_is_forgotten_by_its_models_only(app, monkeypatch):
    monkeypatch.setattr(base, "_FORGOTTEN_ON_CHANGE", {})
    loads = iter(range(1, 100))

    def read() -> int:
        return cached_for_app("test-mailboxes", 3600, lambda: next(loads))

    forget_on_change("test-mailboxes", Mailbox)
    assert read() == 1
    session().add(Department(name="Sales", slug="sales"))
    session().commit()
    assert read() == 1  # not a mailbox
    session().add(
        Mailbox(department_id=session().query(Department.id).scalar(), host="h", username="u")
    )
    session().flush()
    assert read() == 2  # forgotten by the flush, before the commit
    session().rollback()
