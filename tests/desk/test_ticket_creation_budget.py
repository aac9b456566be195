"""What opening a ticket costs the database (issue 17 §2): one commit and a bounded number of
statements, whatever the number of agents told; the staff notification queued after the
commit as ONE job, not one per agent. bench/ticket_create.py prints the speed itself.
"""

from __future__ import annotations

import pytest
from flask import current_app
from sqlalchemy import event

from flask_helpdesk.models import Message, Ticket
from flask_helpdesk.services import tickets
from flask_helpdesk.services.agents import make_agent
from flask_helpdesk.services.base import session
from flask_helpdesk.services.identity import contact_as_actor, sync_contact
from flask_helpdesk.services.notifications import tickets as notifications_tickets
from flask_helpdesk.services.notifications.tickets import staff_of_customer_activity
from tests.conftest import count_queries, make_member

# The creating transaction: the department, the code's uniqueness check, the customer (read
# again after the previous commit), the SLA policies, INSERTs of the ticket, its first message,
# the audit event and the reports' fact, and the spam filter's trained totals (20 before issue
# 17's work, with the inline notification), and the savepoint around the ticket's INSERT (its
# SAVEPOINT and RELEASE: a code two creators drew at once is drawn again). No UPDATE of the new
# row; no webhook outbox INSERT while no endpoint exists. The fact's daily roll-up upsert
# (issue 15: reports read the roll-up) is one more.
CREATE_BUDGET = 12
# The staff notification job: the message, its ticket, the author, the department's agents,
# the message's attachments; then each agent's host user (their language: one lookup each,
# through the host's own user loader, which the helpdesk cannot batch).
NOTIFY_BASE_BUDGET = 5


def _agents(count: int) -> None:
    for index in range(count):
        member = make_member(f"Agent {index}", email=f"agent{index}@shop.example.com")
        make_agent(member.get_id(), ["account"])


@pytest.fixture
def lan(app, customer):
    return contact_as_actor(sync_contact(customer))


def _open(lan, departments) -> tuple[list[str], list[int], list[str]]:
    """Open one ticket as Lan; the statements and commits, and the jobs it queued."""
    engine = session().get_bind(mapper=Ticket)
    statements: list[str] = []
    commits: list[int] = []
    queued: list[str] = []

    def statement(conn, cursor, sql, parameters, context, executemany):
        statements.append(sql)

    def commit(conn):
        commits.append(1)

    helpdesk_dispatcher = current_app.extensions["helpdesk"].dispatcher
    original = helpdesk_dispatcher.dispatch

    def record(func, *args, **kwargs):
        queued.append(func.__name__)

    helpdesk_dispatcher.dispatch = record
    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", commit)
    try:
        tickets.open_ticket_with_message(
            lan,
            tickets.NewTicket(
                department_id=departments["account"].id,
                subject="Cannot log in",
                body="The page says my password is wrong, but I just reset it.",
            ),
        )
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "commit", commit)
        helpdesk_dispatcher.dispatch = original
    return statements, commits, queued


@pytest.mark.parametrize("agents", [1, 6])
def test_opening_a_ticket_is_one_commit_and_a_bounded_number_of_statements(
    app, departments, lan, agents
):
    _agents(agents)
    _open(lan, departments)  # the first of a process reads settings cached for later ones
    statements, commits, queued = _open(lan, departments)
    assert len(commits) == 1
    assert len(statements) <= CREATE_BUDGET, "\n".join(statements)
    assert not [s for s in statements if s.lstrip().upper().startswith("UPDATE")], statements
    assert queued == ["staff_of_customer_activity"]  # one job, whatever the number of agents


@pytest.mark.parametrize("agents", [2, 5])
def test_the_staff_notification_costs_one_host_lookup_per_agent_and_renders_once(
    app, departments, lan, agents, monkeypatch
):
    _agents(agents)
    _open(lan, departments)
    ticket = session().query(Ticket).order_by(Ticket.id.desc()).first()
    message = session().query(Message).filter_by(ticket_id=ticket.id).one()
    rendered: list[str | None] = []
    real_render = notifications_tickets.render_mail

    def counting_render(template, locale=None, **context):
        rendered.append(locale)
        return real_render(template, locale=locale, **context)

    monkeypatch.setattr(notifications_tickets, "render_mail", counting_render)
    sent: list[list[str]] = []
    monkeypatch.setattr(
        notifications_tickets, "send_mail", lambda to, *args, **kwargs: sent.append(list(to))
    )
    session().expire_all()
    with count_queries(app) as statements:
        staff_of_customer_activity(message.id, new_ticket=True)
    assert len(statements) <= NOTIFY_BASE_BUDGET + agents, "\n".join(statements)
    assert sorted(to for (to,) in sent) == sorted(
        f"agent{i}@shop.example.com" for i in range(agents)
    )
    assert len(rendered) == 1  # every agent's language is the site's: one rendering for all
