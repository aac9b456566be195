"""The grant rules, through the services: consent, binding, durations, audit, signals, notices."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from flask_helpdesk import signals
from flask_helpdesk.models import AuditEvent, GrantStatus
from flask_helpdesk.services import Conflict, Forbidden, NotFound, ValidationError, consent
from flask_helpdesk.services.base import session
from flask_helpdesk.services.identity import contact_as_actor, sync_contact
from tests.access.conftest import _staff, accepted, ask, customer_of


def audit_actions(ticket) -> list[str]:
    return list(
        session().scalars(
            select(AuditEvent.action)
            .where(AuditEvent.ticket_id == ticket.id, AuditEvent.action.like("access.%"))
            .order_by(AuditEvent.id)
        )
    )


def test_request_needs_a_reason_and_a_valid_scope(agent, ticket):
    with pytest.raises(ValidationError) as error:
        consent.request_access(agent.actor, ticket, "   ", "act")
    assert "reason" in error.value.field_errors
    with pytest.raises(ValidationError) as error:
        consent.request_access(agent.actor, ticket, "Need it", "root")
    assert "scope" in error.value.field_errors
    assert consent.ticket_grants(agent.actor, ticket) == []


def test_duration_defaults_and_is_capped(app, agent, colleague, ticket):
    grant = consent.request_access(agent.actor, ticket, "Need to look", "view")
    assert grant.duration == app.config.get("HELPDESK_ACCESS_GRANT_DURATION", timedelta(hours=24))
    long = consent.request_access(colleague.actor, ticket, "Need long", "view", timedelta(days=30))
    assert long.duration == timedelta(hours=72)
    with pytest.raises(ValidationError):
        ask(agent, ticket, hours=0)


def test_only_agents_who_see_the_ticket_may_ask(departments, agent, ticket, customer):
    outsider = _staff("Billing Person", ["billing"])
    with pytest.raises(NotFound):
        ask(outsider, ticket)
    with pytest.raises(Forbidden):
        consent.request_access(customer_of(ticket), ticket, "I ask myself", "act")


def test_one_open_request_per_agent_and_ticket(agent, ticket):
    ask(agent, ticket)
    with pytest.raises(Conflict):
        ask(agent, ticket)


def test_nothing_is_granted_until_that_customer_accepts(agent, ticket, other_customer):
    grant = ask(agent, ticket)
    assert grant.status == GrantStatus.REQUESTED and not grant.is_usable()
    stranger = contact_as_actor(sync_contact(other_customer))
    with pytest.raises(NotFound):
        consent.accept(stranger, grant)
    with pytest.raises(NotFound):
        consent.accept(agent.actor, grant)
    assert grant.status == GrantStatus.REQUESTED
    consent.accept(customer_of(ticket), grant)
    assert grant.is_usable()
    assert grant.expires_at - grant.decided_at == timedelta(hours=24)


def test_an_answer_is_final(agent, ticket):
    grant = ask(agent, ticket)
    consent.decline(customer_of(ticket), grant)
    with pytest.raises(Conflict):
        consent.accept(customer_of(ticket), grant)
    assert grant.status == GrantStatus.DECLINED


def test_revoke_ends_access_and_agent_may_give_it_back(agent, colleague, ticket):
    grant = accepted(agent, ticket)
    consent.revoke(customer_of(ticket), grant)
    assert grant.status == GrantStatus.REVOKED and not grant.is_usable()
    with pytest.raises(Conflict):
        consent.revoke(customer_of(ticket), grant)
    other = accepted(colleague, ticket)
    with pytest.raises(NotFound):
        consent.revoke(agent.actor, other)  # not theirs: treated as a stranger
    consent.revoke(colleague.actor, other)
    assert other.status == GrantStatus.REVOKED


def test_no_access_to_staff_accounts(departments, agent):
    from flask_helpdesk.services import tickets

    staff_customer = _staff("Agent As Customer", ["billing"])
    own = tickets.open_ticket(
        contact_as_actor(sync_contact(staff_customer.member)),
        tickets.NewTicket(department_id=departments["account"].id, subject="Mine", body="x"),
    )
    with pytest.raises(Forbidden):
        ask(agent, own)


def test_audit_and_signals_for_every_step(app, agent, ticket):
    seen: list[tuple[str, int]] = []

    def listener(name):
        def receive(sender, grant, ticket, actor, **extra):
            seen.append((name, grant.id))

        return receive

    receivers = {
        name: listener(name)
        for name in ("access_requested", "access_granted", "access_revoked", "access_expired")
    }
    for name, receiver in receivers.items():
        getattr(signals, name).connect(receiver)
    try:
        grant = accepted(agent, ticket)
        consent.revoke(customer_of(ticket), grant)
        second = accepted(agent, ticket)
        from tests.access.conftest import set_expiry

        set_expiry(second, timedelta(seconds=-1))
        session().refresh(second)
        assert consent.expire_if_due(second)
    finally:
        for name, receiver in receivers.items():
            getattr(signals, name).disconnect(receiver)
    assert seen == [
        ("access_requested", grant.id),
        ("access_granted", grant.id),
        ("access_revoked", grant.id),
        ("access_requested", second.id),
        ("access_granted", second.id),
        ("access_expired", second.id),
    ]
    assert audit_actions(ticket) == [
        "access.requested",
        "access.granted",
        "access.revoked",
        "access.requested",
        "access.granted",
        "access.expired",
    ]


def test_customer_is_told_by_mail_and_sms(app, agent, ticket):
    mail = app.extensions["mail"]
    sms: list[tuple[str, str]] = []
    app.extensions["helpdesk"].extension._sms_sender = lambda phone, text: sms.append((phone, text))
    try:
        with mail.record_messages() as outbox:
            ask(agent, ticket)
    finally:
        app.extensions["helpdesk"].extension._sms_sender = None
    to_customer = [m for m in outbox if "lan@example.com" in m.recipients]
    assert len(to_customer) == 1
    assert "asks for access to your account" in to_customer[0].subject
    assert "I need to see your profile page." in to_customer[0].body
    assert sms and sms[0][0] == "+84900000001" and ticket.code in sms[0][1]


def test_agent_hears_the_answer(app, agent, ticket):
    grant = ask(agent, ticket)
    with app.extensions["mail"].record_messages() as outbox:
        consent.accept(customer_of(ticket), grant)
    assert [m.recipients for m in outbox] == [[agent.agent.email]]
    assert "Accepted" in outbox[0].subject
