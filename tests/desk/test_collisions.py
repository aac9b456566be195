"""Two agents on one ticket (issue 3 point 3): each sees the other is there, and when both
answer at once the second is shown the first reply and asked to confirm; nothing is lost."""

from __future__ import annotations

import re

from flask_helpdesk.models import Message, MessageKind
from flask_helpdesk.services.base import session
from tests.conftest import csrf_from
from tests.desk.conftest import DESK, open_as
from tests.views.conftest import isolated_client

MARKER = re.compile(r'name="last_seen_message_id" type="hidden" value="(\d*)"')


def form_state(html: str) -> dict[str, str]:
    match = MARKER.search(html)
    assert match, "reply form has no marker"
    return {"csrf_token": csrf_from(html), "last_seen_message_id": match.group(1)}


def replies(ticket) -> list[str]:
    rows = session().query(Message).filter_by(ticket_id=ticket.id, kind=MessageKind.REPLY)
    return [m.body for m in rows.order_by(Message.id)]


def test_second_agent_is_warned_and_confirms_without_losing_text(
    app, departments, agent, other_agent, lan
):
    ticket = open_as(lan, departments["account"], "Refund", "Where is my refund?")
    page = f"{DESK}/tickets/{ticket.code}"
    minh, sara = isolated_client(app, agent.member), isolated_client(app, other_agent.member)
    minh_page = minh.get(page).get_data(as_text=True)
    sara_page = sara.get(page).get_data(as_text=True)
    # Presence: Sara opened the page after Minh, so she is told he is on it; the poll tells
    # Minh about Sara.
    assert "Minh Tran is viewing this ticket." in sara_page
    poll = minh.get(page + "/presence").get_json()
    assert poll["viewers"] == ["Sara Ahmadi"]

    response = minh.post(
        page + "/reply",
        data={**form_state(minh_page), "body": "Refund sent today.", "action": "reply"},
    )
    assert response.status_code == 302
    # Sara's page learns of it on its next poll (the script shows a warning).
    poll = sara.get(page + "/presence").get_json()
    assert poll["newest_message_id"] > int(form_state(sara_page)["last_seen_message_id"])

    sara_text = "We will refund you within 3 days."
    response = sara.post(
        page + "/reply", data={**form_state(sara_page), "body": sara_text, "action": "reply"}
    )
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "Not sent yet: new messages were written since you opened this ticket." in html
    assert "Refund sent today." in html  # the reply she had not seen
    assert re.search(r'id="hd-reply-body"[^>]*>\s*' + re.escape(sara_text) + "</textarea>", html)
    assert "Send anyway" in html
    assert replies(ticket) == ["Where is my refund?", "Refund sent today."]

    # She read it and sends anyway: the form she got back carries the new marker.
    response = sara.post(
        page + "/reply", data={**form_state(html), "body": sara_text, "action": "reply"}
    )
    assert response.status_code == 302
    assert replies(ticket) == ["Where is my refund?", "Refund sent today.", sara_text]


def test_a_note_by_a_colleague_also_warns_but_the_agents_own_messages_do_not(
    app, departments, agent, other_agent, lan
):
    ticket = open_as(lan, departments["account"])
    page = f"{DESK}/tickets/{ticket.code}"
    minh, sara = isolated_client(app, agent.member), isolated_client(app, other_agent.member)
    sara_page = sara.get(page).get_data(as_text=True)
    minh_page = minh.get(page).get_data(as_text=True)
    minh.post(page + "/reply", data={**form_state(minh_page), "body": "Note", "action": "note"})
    # Sara's own earlier reply in another tab does not count as a collision.
    own = sara.post(page + "/reply", data={**form_state(sara_page), "body": "A", "action": "note"})
    assert own.status_code == 409  # Minh's note is new to her
    sara_page = sara.get(page).get_data(as_text=True)
    first = sara.post(
        page + "/reply", data={**form_state(sara_page), "body": "B", "action": "reply"}
    )
    assert first.status_code == 302
    again = sara.post(
        page + "/reply", data={**form_state(sara_page), "body": "C", "action": "reply"}
    )
    assert again.status_code == 302


def test_customer_reply_while_typing_is_shown_before_sending(app, departments, agent, lan):
    from flask_helpdesk.services import messages

    ticket = open_as(lan, departments["account"])
    page = f"{DESK}/tickets/{ticket.code}"
    minh = isolated_client(app, agent.member)
    minh_page = minh.get(page).get_data(as_text=True)
    messages.post_message(lan, ticket, "Never mind, it works now!")
    response = minh.post(
        page + "/reply", data={**form_state(minh_page), "body": "Try X", "action": "reply"}
    )
    assert response.status_code == 409
    assert "Never mind, it works now!" in response.get_data(as_text=True)
