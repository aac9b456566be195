"""A rule's "notify agents" action, mailed through a real SMTP server (jobs inline) within the
automatic-mail caps, and its "call webhooks" action, delivered signed to a real HTTP receiver."""

from __future__ import annotations

from standardwebhooks import Webhook

from flask_helpdesk.services import messages, webhooks
from flask_helpdesk.services.agents import make_agent
from flask_helpdesk.services.identity import SYSTEM
from tests.conftest import make_member
from tests.rules.test_engine import events


def notices(smtp, address: str | None = None) -> list:
    """The rule notices the SMTP server got (not the desk's ordinary new-ticket mails)."""
    found = [m for m in smtp.messages if "Rule " in m.message["Subject"]]
    return [m for m in found if address is None or address in m.rcpt_tos]


def _billing_agents():
    first = make_agent(make_member("Bich Ngoc", "ngoc@example.com").get_id(), ["billing"])
    second = make_agent(
        make_member("Dariush Farahani", "dariush@example.com").get_id(), ["billing"]
    )
    return first, second


def test_notify_mails_the_named_agents_and_the_departments(
    app, smtp, lan, agent, open_for, make_rule, departments
):
    ngoc, dariush = _billing_agents()
    outsider = make_agent(make_member("Omid Outside", "omid@example.com").get_id(), ["other"])
    make_rule(
        "ticket_created",
        {"field": "subject", "op": "contains", "value": "refund"},
        [
            {
                "type": "notify",
                "value": {
                    "agents": [agent.agent.id],
                    "department": departments["billing"].id,
                    "text": "A refund: please look today.",
                },
            }
        ],
        name="Refunds to billing",
    )
    open_for(lan, "Where is my refund?", "I sent the form a week ago.")
    open_for(lan, "Cannot log in", "Help")  # no refund: nobody is told
    told = sorted(address for m in notices(smtp) for address in m.rcpt_tos)
    assert told == sorted([agent.agent.email, ngoc.email, dariush.email])
    assert notices(smtp, outsider.email) == [] and notices(smtp, "lan@example.com") == []
    [mail] = notices(smtp, ngoc.email)
    assert "Refunds to billing" in mail.message["Subject"]
    assert "Where is my refund?" in mail.message["Subject"]
    assert "A refund: please look today." in mail.text


def test_notify_stops_at_the_per_ticket_cap_with_an_event(
    app, smtp, lan, agent, open_for, make_rule
):
    """A rule that fires on every customer reply tells an agent at most
    HELPDESK_AUTO_MAIL_PER_TICKET times about one ticket; the ticket says when it held one."""
    app.extensions["helpdesk"].config["HELPDESK_AUTO_MAIL_PER_TICKET"] = 2
    make_rule(
        "customer_replied",
        {},
        [{"type": "notify", "value": {"agents": [agent.agent.id], "text": "They wrote again"}}],
        name="Tell Minh",
    )
    ticket = open_for(lan)
    for n in range(4):
        messages.post_message(lan, ticket, f"Any news? ({n})")
    assert len(notices(smtp, agent.agent.email)) == 2
    held = events(ticket, "rule_mail_held")
    assert len(held) == 2 and {e["rule_name"] for e in held} == {"Tell Minh"}
    assert all("limit" in e["reason"] for e in held)


def test_notify_respects_the_hourly_cap_over_tickets(app, smtp, lan, agent, open_for, make_rule):
    app.extensions["helpdesk"].config["HELPDESK_AUTO_MAIL_PER_HOUR"] = 3
    make_rule(
        "ticket_created",
        {},
        [{"type": "notify", "value": {"agents": [agent.agent.id], "text": ""}}],
        name="Every new ticket",
    )
    opened = [open_for(lan, f"Question {n}") for n in range(5)]
    assert len(notices(smtp, agent.agent.email)) == 3
    assert [len(events(t, "rule_mail_held")) for t in opened] == [0, 0, 0, 1, 1]


def test_the_webhook_action_delivers_a_signed_event_to_a_real_receiver(
    app,
    lan,
    open_for,
    make_rule,
    receiver,
):
    endpoint = webhooks.create_endpoint(SYSTEM, receiver.url, ["rule.fired"])
    rule = make_rule(
        "ticket_created",
        {"field": "subject", "op": "contains", "value": "outage"},
        [{"type": "webhook"}],
        name="Page the on-call",
    )
    ticket = open_for(lan, "Total outage", "Nothing loads")
    open_for(lan, "A question", "Hello")  # no match: nothing sent
    assert webhooks.deliver_due() == 1
    [(_path, headers, body)] = receiver.requests
    payload = Webhook(endpoint.secret).verify(body, headers)
    assert payload["type"] == "rule.fired"
    assert payload["data"]["ticket"]["code"] == ticket.code
    assert payload["data"]["rule"] == "Page the on-call"
    assert payload["data"]["rule_id"] == rule.id
