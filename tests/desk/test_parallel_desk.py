"""Agents and customers at the same moment, in real parallel transactions on PostgreSQL (each
thread its own app and connection): two agents answering one ticket at once, eight creators at
once, and the counters and badges the desk shows afterwards."""

from __future__ import annotations

import contextlib
import itertools
import re
import threading

from sqlalchemy import func, select

from flask_helpdesk.models import (
    Agent,
    AuditEvent,
    Contact,
    Message,
    MessageKind,
    Ticket,
    TicketStatus,
)
from flask_helpdesk.services import presence, queues, tickets
from flask_helpdesk.services.base import session
from flask_helpdesk.services.identity import agent_as_actor, contact_as_actor, sync_contact
from tests.conftest import make_member
from tests.desk.conftest import DESK, open_as
from tests.desk.test_collisions import form_state
from tests.parallel import UserId, only_postgres, run_at_once
from tests.views.conftest import isolated_client

pytestmark = only_postgres


def test_two_agents_answering_at_once_the_second_is_warned_and_nothing_is_lost(
    app, departments, agent, other_agent, lan, database_url, tmp_path, monkeypatch
):
    ticket = open_as(lan, departments["account"], "Refund", "Where is my refund?")
    page = f"{DESK}/tickets/{ticket.code}"
    people = [UserId(agent.member), UserId(other_agent.member)]
    texts = ["Refund sent today.", "We will refund you within 3 days."]
    chosen = [TicketStatus.PROCESSING.value, TicketStatus.CLOSED.value]
    # Both forms are sent at the same moment, each by an agent whose page showed the same
    # newest message. To make the race certain rather than likely, whoever has checked for
    # newer messages waits (at most 2 s) for the other to have checked too before sending:
    # without a lock both checks pass and both replies go out unseen.
    checked = threading.Barrier(2, timeout=2)
    original = presence.written_since

    def written_since_then_wait(*args, **kwargs):
        newer = original(*args, **kwargs)
        # Broken (timed out): the other one waits for this transaction and comes after it.
        with contextlib.suppress(threading.BrokenBarrierError):
            checked.wait()
        return newer

    monkeypatch.setattr(presence, "written_since", written_since_then_wait)

    def send(client, html: str, index: int):
        """Send agent *index*'s reply from the page *html* they have in front of them."""
        data = {**form_state(html), "body": texts[index], "action": "reply"}
        return client.post(page + "/reply", data={**data, "then_status": chosen[index]})

    def answer(index: int):
        from flask import current_app

        client = isolated_client(current_app._get_current_object(), people[index])
        response = send(client, client.get(page).get_data(as_text=True), index)
        return client, response.status_code, response.get_data(as_text=True)

    results = run_at_once(database_url, tmp_path, answer)
    monkeypatch.setattr(presence, "written_since", original)
    assert sorted(status for _client, status, _html in results) == [302, 409]
    first = next(i for i, (_c, status, _h) in enumerate(results) if status == 302)
    second = 1 - first
    client, _status, html = results[second]
    # The second agent is shown the first one's reply, with their own text kept.
    assert "Not sent yet: new messages were written since you opened this ticket." in html
    assert texts[first] in html
    assert re.search(r'id="hd-reply-body"[^>]*>\s*' + re.escape(texts[second]), html)
    # They read it and send anyway.
    assert send(client, html, second).status_code == 302
    session().expire_all()
    bodies = session().scalars(
        select(Message.body)
        .where(Message.ticket_id == ticket.id, Message.kind == MessageKind.REPLY)
        .order_by(Message.id)
    )
    assert list(bodies) == ["Where is my refund?", texts[first], texts[second]]
    assert session().get(Ticket, ticket.id).status.value in chosen
    # Lan has two replies she has not read: her badge counts the ticket (once).
    assert tickets.unread_count(lan) == 1


def test_two_agents_changing_the_status_at_once_leave_one_choice_and_a_true_trail(
    app, departments, agent, other_agent, lan, database_url, tmp_path, monkeypatch
):
    ticket = open_as(lan, departments["account"])
    page = f"{DESK}/tickets/{ticket.code}"
    people = [UserId(agent.member), UserId(other_agent.member)]
    chosen = [TicketStatus.PROCESSING.value, TicketStatus.CLOSED.value]
    # Both pages loaded the ticket as "open" before either change is made (each waits, at most
    # 2 s, for the other to have loaded it).
    loaded = threading.Barrier(2, timeout=2)
    original = tickets.change_status

    def change_status_after_both_loaded(*args, **kwargs):
        with contextlib.suppress(threading.BrokenBarrierError):
            loaded.wait()
        return original(*args, **kwargs)

    monkeypatch.setattr(tickets, "change_status", change_status_after_both_loaded)

    def change(index: int) -> int:
        from flask import current_app

        client = isolated_client(current_app._get_current_object(), people[index])
        html = client.get(page).get_data(as_text=True)
        response = client.post(
            page + "/status",
            data={"csrf_token": form_state(html)["csrf_token"], "status": chosen[index]},
        )
        return response.status_code

    answers = run_at_once(database_url, tmp_path, change)
    # The second change is made from the status the first one left (closed cannot go back to
    # processing by hand: refused, and the page says so), never from the stale "open".
    assert sorted(answers) in ([302, 302], [302, 422])
    session().expire_all()
    final = session().get(Ticket, ticket.id).status.value
    assert final in chosen
    # The audit trail agrees: each change starts where the one before ended.
    trail = [
        (e.data["old"], e.data.get("new", "closed"))
        for e in session().scalars(
            select(AuditEvent)
            .where(
                AuditEvent.ticket_id == ticket.id,
                AuditEvent.action.in_(["ticket.status_changed", "ticket.closed"]),
            )
            .order_by(AuditEvent.id)
        )
    ]
    assert trail[0][0] == "open"
    assert trail[-1][1] == final
    for (_old, new), (old, _new) in itertools.pairwise(trail):
        assert old == new, trail


def test_eight_creators_at_once_get_distinct_codes_and_right_counters(
    app, departments, agent, database_url, tmp_path
):
    customers = [
        contact_as_actor(sync_contact(make_member(f"Customer {i}", f"c{i}@example.com"))).contact.id
        for i in range(8)
    ]
    account_id = departments["account"].id
    per_creator = 10

    def create(index: int) -> list[str]:
        actor = contact_as_actor(session().get(Contact, customers[index]))
        made = []
        for n in range(per_creator):
            ticket = tickets.open_ticket(
                actor,
                tickets.NewTicket(
                    department_id=account_id, subject=f"Request {index}-{n}", body="Hello"
                ),
            )
            made.append(ticket.code)
        return made

    made = run_at_once(database_url, tmp_path, create, threads=8)
    all_codes = list(itertools.chain.from_iterable(made))
    assert len(all_codes) == 8 * per_creator
    assert len(set(all_codes)) == len(all_codes)
    session().expire_all()
    assert session().scalar(select(func.count()).select_from(Ticket)) == 8 * per_creator
    assert_counters_match_the_rows(agent.actor)
    # Every new ticket is unread on the desk (the queue's "unread" filter finds them all) and
    # no customer has an unread answer.
    unread = queues.queue_page(agent.actor, queues.QueueFilter(unread=True), None, 100)
    assert len(unread.items) == 8 * per_creator
    for contact_id in customers:
        actor = contact_as_actor(session().get(Contact, contact_id))
        assert tickets.unread_count(actor) == 0


def test_creators_drawing_the_same_code_at_once_both_get_a_ticket(
    app, departments, lan, reza, database_url, tmp_path, monkeypatch
):
    """A code is random (one in 10^9), so two creators drawing the same one at the same moment
    is rare; but then both pass the "is it free?" check and the second insert hits the unique
    index. Here both draw the same first code, and each waits (at most 2 s) until the other
    has checked it too."""
    checked = threading.Barrier(2, timeout=2)
    first_draw = threading.local()
    original = tickets.new_ticket_code

    def same_code_first() -> str:
        if getattr(first_draw, "done", False):
            return original()
        first_draw.done = True
        taken = session().scalar(select(func.count()).where(Ticket.code == "HD-SAME22"))
        assert not taken
        with contextlib.suppress(threading.BrokenBarrierError):
            checked.wait()
        return "HD-SAME22"

    monkeypatch.setattr(tickets, "new_ticket_code", same_code_first)
    creators = [lan.contact.id, reza.contact.id]
    account_id = departments["account"].id

    def create(index: int) -> str:
        actor = contact_as_actor(session().get(Contact, creators[index]))
        data = tickets.NewTicket(department_id=account_id, subject="Order", body="Hello")
        return tickets.open_ticket(actor, data).code

    made = run_at_once(database_url, tmp_path, create)
    assert "HD-SAME22" in made
    assert len(set(made)) == 2
    session().expire_all()
    assert session().scalar(select(func.count()).select_from(Ticket)) == 2


def assert_counters_match_the_rows(actor) -> None:
    """The department counters (as the queue's sidebar shows them) equal a fresh count."""
    counters = queues._count_by_department(actor)
    for department_id, counts in counters.items():
        rows = session().scalars(select(Ticket).where(Ticket.department_id == department_id))
        statuses = [t.status for t in rows]
        assert counts.new == statuses.count(TicketStatus.OPEN)
        assert counts.closed == statuses.count(TicketStatus.CLOSED)


def test_a_reply_written_while_the_customer_reads_stays_unread(
    app, departments, agent, lan, customer, database_url, tmp_path, monkeypatch
):
    """Lan opens her ticket while Minh's second reply is being sent: its time was taken before
    her page loaded, its commit comes after. Her page does not show it, so her badge must."""
    from flask_helpdesk.services import messages

    ticket = open_as(lan, departments["account"], "Refund", "Where is my refund?")
    messages.post_message(agent.actor, ticket, "Looking into it.")  # unread for Lan
    ticket_id, code, lan_id = ticket.id, ticket.code, UserId(customer)
    replying, read = threading.Event(), threading.Event()
    original = messages.transition

    def transition_after_the_customer_read(*args, **kwargs):
        replying.set()  # the reply's time is taken
        read.wait(timeout=10)
        return original(*args, **kwargs)

    monkeypatch.setattr(messages, "transition", transition_after_the_customer_read)

    def act(index: int):
        from flask import current_app

        if index == 0:
            messages.post_message(
                agent_as_actor(session().get(Agent, agent_id)),
                session().get(Ticket, ticket_id),
                "Refund sent today.",
            )
            return None
        replying.wait(timeout=10)
        client = isolated_client(current_app._get_current_object(), lan_id)
        try:
            return client.get(f"/support/tickets/{code}").get_data(as_text=True)
        finally:
            read.set()

    agent_id = agent.actor.agent.id
    page = run_at_once(database_url, tmp_path, act)[1]
    assert "Looking into it." in page
    assert "Refund sent today." not in page  # not committed when her page was read
    session().expire_all()
    assert tickets.unread_count(lan) == 1
