"""The conditions schema: clear errors on save, and the Python reading (event rules) agreeing
with the SQL compilation (time rules, "which tickets match now") on every tree Hypothesis makes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from flask_helpdesk.models import (
    Channel,
    InboundMail,
    InboundStatus,
    Message,
    Ticket,
    utcnow,
)
from flask_helpdesk.services import desk, messages
from flask_helpdesk.services.base import session
from flask_helpdesk.services.rule_conditions import (
    ConditionError,
    Facts,
    SenderCheck,
    matches,
    needs_recheck,
    to_sql,
    validate,
)
from flask_helpdesk.services.rules import facts_for


@pytest.mark.parametrize(
    ("tree", "path", "text"),
    [
        ({"field": "colour", "op": "is", "value": "red"}, "conditions", "Unknown field"),
        ({"field": "status", "op": "contains", "value": "op"}, "conditions", "does not apply"),
        ({"field": "status", "op": "is"}, "conditions", "value is required"),
        ({"field": "status", "op": "is", "value": "lost"}, "value", "Not a valid value"),
        ({"all": []}, "conditions", "non-empty list"),
        (
            {"all": [{"field": "subject", "op": "is", "value": ""}]},
            "all[0].value",
            "Expected a text",
        ),
        (
            {"any": [{"not": {"field": "department", "op": "is", "value": "x"}}]},
            "any[0].not.value",
            "id",
        ),
        ({"field": "created_at", "op": "before", "value": "yesterday"}, "value", "Expected a date"),
        ({"all": [{"field": "x"}], "any": []}, "conditions", "exactly one key"),
        ({"field": "status", "op": "is", "value": "open", "extra": 1}, "conditions", "Unknown key"),
        ("status = open", "conditions", "Expected an object"),
    ],
)
def test_bad_conditions_are_refused_with_where_and_why(app, tree, path, text):
    with pytest.raises(ConditionError) as caught:
        validate(tree)
    assert caught.value.path == path
    assert text in caught.value.message


def test_changed_to_is_refused_for_time_rules(app):
    tree = {"field": "status", "op": "changed_to", "value": "open"}
    assert validate(tree) == tree
    with pytest.raises(ConditionError, match="change"):
        validate(tree, for_sql=True)


def test_values_are_normalized(app):
    assert validate({"field": "priority", "op": "in", "value": ["HIGH", 3]}) == {
        "field": "priority",
        "op": "in",
        "value": ["high", "urgent"],
    }
    assert validate({"field": "tags", "op": "contains", "value": " VIP "})["value"] == "vip"


# -- Python and SQL agree ------------------------------------------------------------------------

LEAVES = [
    {"field": "status", "op": "is", "value": "open"},
    {"field": "status", "op": "in", "value": ["answered", "processing"]},
    {"field": "priority", "op": "greater_than", "value": "normal"},
    {"field": "priority", "op": "less_than", "value": "high"},
    {"field": "status", "op": "less_than", "value": "processing"},
    {"field": "assignee", "op": "is_set"},
    {"field": "assignee", "op": "is_not_set"},
    {"field": "department", "op": "not_in", "value": [1]},
    {"field": "subject", "op": "contains", "value": "INVOICE"},
    {"field": "subject", "op": "starts_with", "value": "wrong"},
    {"field": "subject", "op": "is_not", "value": "hello"},
    {"field": "subject", "op": "in", "value": ["Hello", "other"]},
    {"field": "message", "op": "contains", "value": "refund"},
    {"field": "customer_email", "op": "starts_with", "value": "lan@"},
    {"field": "customer_name", "op": "is", "value": "lan nguyen"},
    {"field": "tags", "op": "contains", "value": "vip"},
    {"field": "tags", "op": "is_not", "value": "vip"},
    {"field": "tags", "op": "is_set"},
    {"field": "created_at", "op": "before", "value": "-2d"},
    {"field": "last_agent_reply_at", "op": "is_set"},
    {"field": "last_agent_reply_at", "op": "after", "value": "-1h"},
    {"field": "customer.plan", "op": "is", "value": "gold"},
    {"field": "customer.seats", "op": "greater_than", "value": 10},
    {"field": "customer.plan", "op": "is_not_set"},
    {"field": "locale", "op": "is_set"},
    {"field": "sender", "op": "is", "value": "verified"},
    {"field": "sender", "op": "in", "value": ["failed", "unverified"]},
    {"field": "sender", "op": "greater_than", "value": "unverified"},
    {"field": "sender", "op": "less_than", "value": "verified"},
    {"field": "sender", "op": "is_not", "value": "not_mail"},
]


def trees():
    leaf = st.sampled_from(LEAVES)
    return st.recursive(
        leaf,
        lambda children: st.one_of(
            st.builds(lambda xs: {"all": xs}, st.lists(children, min_size=1, max_size=3)),
            st.builds(lambda xs: {"any": xs}, st.lists(children, min_size=1, max_size=3)),
            st.builds(lambda x: {"not": x}, children),
        ),
        max_leaves=6,
    )


@pytest.fixture
def varied_tickets(app, lan, agent, open_for, clock):
    """Tickets that differ in every field the leaves read."""
    lan.contact.attributes = {"plan": "gold", "seats": 12}
    made = [
        open_for(lan, subject="Wrong invoice", body="I want a refund"),
        open_for(lan, subject="Hello", body="Just saying hi", priority="high"),
        open_for(lan, subject="invoice copy", body="please", priority="low"),
    ]
    clock.set("2026-03-05T09:00+00:00")
    messages.post_message(agent, made[1], "Answered")
    desk.assign(agent, made[2], agent.agent.id)
    desk.add_tags(agent, made[0], ["vip"])
    made.append(open_for(lan, subject="Plain", body="Nothing special", priority="urgent"))
    # The customer's latest message came by mail: verified, failed, never checked; the last
    # ticket's was written on the site (and made[1]'s answer is the agent's: not counted).
    for ticket, dmarc in zip(made, ("pass", "fail", None), strict=False):
        by_mail(ticket, dmarc)
    session().commit()
    return [t.id for t in made]


def by_mail(ticket, dmarc: str | None) -> None:
    """The ticket's first message as if it had come by mail with that DMARC verdict."""
    first = session().scalar(
        select(Message).where(Message.ticket_id == ticket.id).order_by(Message.id).limit(1)
    )
    first.channel = Channel.EMAIL
    if dmarc is not None:
        session().add(
            InboundMail(
                dedup_key=f"test-{ticket.id}",
                source="pipe",
                raw=b"",
                status=InboundStatus.PROCESSED,
                ticket_id=ticket.id,
                posted_message_id=first.id,
                auth_dmarc=dmarc,
                sender_verified=dmarc == "pass",
            )
        )
    session().flush()


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(tree=trees())
def test_python_and_sql_select_the_same_tickets(varied_tickets, clock, tree):
    tree = validate(tree)
    now = clock.now
    in_sql = set(
        session().scalars(select(Ticket.id).where(Ticket.id.in_(varied_tickets), to_sql(tree, now)))
    )
    in_python = set()
    for ticket in session().scalars(select(Ticket).where(Ticket.id.in_(varied_tickets))):
        facts = facts_for(ticket)
        facts.now = now
        if matches(tree, facts):
            in_python.add(ticket.id)
    if needs_recheck(tree):
        assert in_python <= in_sql
    else:
        assert in_sql == in_python


def test_the_sender_verdict_of_the_customers_latest_message(varied_tickets, clock):
    expected = ["verified", "failed", "unverified", "not_mail"]
    for value in SenderCheck:
        tree = validate({"field": "sender", "op": "is", "value": value.value})
        in_sql = set(
            session().scalars(
                select(Ticket.id).where(Ticket.id.in_(varied_tickets), to_sql(tree, clock.now))
            )
        )
        in_python = {
            t.id
            for t in session().scalars(select(Ticket).where(Ticket.id.in_(varied_tickets)))
            if matches(tree, facts_for(t))
        }
        wanted = {i for i, state in zip(varied_tickets, expected, strict=True) if state == value}
        assert in_sql == in_python == wanted, value
    with pytest.raises(ConditionError, match="Not a valid value"):
        validate({"field": "sender", "op": "is", "value": "trusted"})


def test_matches_word_is_a_word_not_a_substring(app, lan, open_for):
    ticket = open_for(lan, subject="Invoices are fine")
    tree = validate({"field": "subject", "op": "matches_word", "value": "invoice"})
    assert not matches(tree, Facts(ticket))
    assert matches(tree, Facts(open_for(lan, subject="An invoice, wrong")))
    assert needs_recheck(tree)
    assert ticket.id in set(session().scalars(select(Ticket.id).where(to_sql(tree, utcnow()))))


def test_relative_times(app, lan, open_for):
    ticket = open_for(lan)
    tree = validate({"field": "created_at", "op": "before", "value": "-3d"})
    assert not matches(tree, Facts(ticket, now=utcnow()))
    assert matches(tree, Facts(ticket, now=utcnow() + timedelta(days=3, seconds=1)))
