"""Tickets through the API: the same services and permissions as the desk and the portal."""

from __future__ import annotations

import io

from flask_helpdesk.models import Message, Ticket, TicketStatus
from flask_helpdesk.services import tickets
from flask_helpdesk.services.base import session
from tests.api.conftest import ApiClient, open_as
from tests.conftest import count_queries


def test_agent_lists_their_departments_tickets_only(app, departments, agent_api, lan):
    mine = open_as(lan, departments["account"], "Login broken")
    open_as(lan, departments["billing"], "Invoice wrong")
    response = agent_api.get("/tickets")
    assert response.status_code == 200
    assert [t["code"] for t in response.json["items"]] == [mine.code]
    assert response.json["items"][0]["requester"]["name"] == "Lan Nguyen"
    assert response.json["items"][0]["sla"]["resolution_breached"] is False


def test_another_departments_ticket_reads_as_not_found(app, departments, billing_api, lan):
    ticket = open_as(lan, departments["account"])
    response = billing_api.get(f"/tickets/{ticket.code}")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.json["status"] == 404


def test_customer_session_sees_own_tickets_and_never_notes(
    app, departments, customer, lan, reza, agent
):
    own = open_as(lan, departments["account"], "Mine")
    open_as(reza, departments["account"], "Not mine")
    from flask_helpdesk.services import messages

    messages.post_message(agent.actor, own, "internal only", internal=True)
    messages.post_message(agent.actor, own, "public answer")
    api = ApiClient(app, member=customer)
    listed = api.get("/tickets").json["items"]
    assert [t["code"] for t in listed] == [own.code]
    thread = api.get(f"/tickets/{own.code}/messages").json["items"]
    bodies = [m["body"] for m in thread]
    assert "public answer" in bodies and "internal only" not in bodies
    assert all(m["author"] is None or m["author"]["id"] is None for m in thread)
    assert api.get(f"/tickets/{own.code}").json["sla"] is None  # staff's business


def test_list_pages_by_cursor_without_repeats(app, departments, agent_api, lan):
    codes = {open_as(lan, departments["account"], f"T{i}").code for i in range(7)}
    seen, cursor = [], None
    while True:
        response = agent_api.get("/tickets?per_page=3" + (f"&cursor={cursor}" if cursor else ""))
        assert response.status_code == 200
        seen += [t["code"] for t in response.json["items"]]
        cursor = response.json["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(codes)


def test_list_and_get_cost_a_fixed_number_of_queries(app, departments, agent, agent_api, lan):
    from flask_helpdesk.services import desk

    def budget(path: str) -> int:
        agent_api.get(path)  # warm: last_used_at written
        with count_queries(app) as statements:
            assert agent_api.get(path).status_code == 200
        return len(statements)

    first = open_as(lan, departments["account"])
    desk.set_tags(agent.actor, first, ["vip"])
    desk.assign(agent.actor, first, agent.actor.agent.id)
    small = budget("/tickets?per_page=50")
    for i in range(30):
        t = open_as(lan, departments["account"], f"More {i}")
        desk.set_tags(agent.actor, t, [f"t{i}"])
    large = budget("/tickets?per_page=50")
    assert small == large <= 12
    assert budget(f"/tickets/{first.code}") <= 12


def test_customer_opens_a_ticket_through_the_session_with_csrf(app, departments, customer):
    api = ApiClient(app, member=customer)
    data = {"department_id": departments["billing"].id, "subject": "Refund", "body": "Please"}
    without = api.post("/tickets", json=data)
    assert without.status_code == 403  # no CSRF token: a cross-site form could do this
    page = api.client.get("/support/new")
    from tests.conftest import csrf_from

    token = csrf_from(page.get_data(as_text=True))
    created = api.post("/tickets", json=data, headers={"X-CSRFToken": token})
    assert created.status_code == 201, created.json
    assert created.json["status"] == "open" and created.json["channel"] == "api"
    assert created.headers["ETag"]


def test_agent_opens_a_ticket_on_behalf_and_sends_it(app, departments, agent_api, lan):
    data = {
        "department_id": departments["account"].id,
        "subject": "We called you",
        "body": "As discussed on the phone.",
        "requester": f"contact:{lan.contact.id}",
        "send_to_user": True,
    }
    response = agent_api.post("/tickets", json=data)
    assert response.status_code == 201, response.json
    assert response.json["status"] == "answered"
    assert response.json["requester"]["id"] == lan.contact.id


def test_agent_cannot_open_in_a_department_they_do_not_work_in(app, departments, agent_api, lan):
    data = {
        "department_id": departments["billing"].id,
        "subject": "x",
        "body": "y",
        "requester": f"contact:{lan.contact.id}",
    }
    response = agent_api.post("/tickets", json=data)
    assert response.status_code == 422
    assert response.json["errors"][0]["field"] == "department_id"


def test_reply_and_note_move_the_status_like_the_desk(app, departments, agent_api, lan):
    ticket = open_as(lan, departments["account"])
    note = agent_api.post(f"/tickets/{ticket.code}/messages", json={"body": "hm", "internal": True})
    assert note.status_code == 201 and note.json["kind"] == "note"
    reply = agent_api.post(f"/tickets/{ticket.code}/messages", json={"body": "Fixed."})
    assert reply.status_code == 201 and reply.json["kind"] == "reply"
    assert agent_api.get(f"/tickets/{ticket.code}").json["status"] == "answered"


def test_customer_cannot_write_internal_notes(app, departments, customer, lan):
    ticket = open_as(lan, departments["account"])
    app.config["WTF_CSRF_ENABLED"] = False
    api = ApiClient(app, member=customer)
    response = api.post(f"/tickets/{ticket.code}/messages", json={"body": "x", "internal": True})
    assert response.status_code == 403
    assert session().query(Message).filter_by(body="x").count() == 0


def test_update_needs_the_current_etag(app, departments, agent, agent_api, lan):
    ticket = open_as(lan, departments["account"])
    path = f"/tickets/{ticket.code}"
    etag = agent_api.get(path).headers["ETag"]
    missing = agent_api.patch(path, json={"priority": "high"})
    assert missing.status_code == 428
    changed = agent_api.patch(
        path,
        json={"priority": "high", "tags": ["VIP"], "assignee_id": agent.actor.agent.id},
        headers={"If-Match": etag},
    )
    assert changed.status_code == 200, changed.json
    assert changed.json["priority"] == "high" and changed.json["tags"] == ["vip"]
    assert changed.json["assignee"]["id"] == agent.actor.agent.id
    assert changed.headers["ETag"] != etag
    # A second client still holding the old version is refused, and nothing changes.
    stale = agent_api.patch(path, json={"priority": "low"}, headers={"If-Match": etag})
    assert stale.status_code == 412
    assert agent_api.get(path).json["priority"] == "high"


def test_status_change_goes_through_the_state_machine(app, departments, agent_api, lan):
    ticket = open_as(lan, departments["account"])
    path = f"/tickets/{ticket.code}"
    etag = agent_api.get(path).headers["ETag"]
    closed = agent_api.patch(path, json={"status": "closed"}, headers={"If-Match": etag})
    assert closed.status_code == 200 and closed.json["status"] == "closed"
    again = agent_api.patch(
        path, json={"status": "spam"}, headers={"If-Match": closed.headers["ETag"]}
    )
    assert again.status_code in (200, 422)
    assert again.status_code != 500


def test_customer_may_close_and_rate_but_not_set_other_statuses(app, departments, customer, lan):
    app.config["WTF_CSRF_ENABLED"] = False
    ticket = open_as(lan, departments["account"])
    api = ApiClient(app, member=customer)
    path = f"/tickets/{ticket.code}"
    etag = api.get(path).headers["ETag"]
    refused = api.patch(path, json={"status": "processing"}, headers={"If-Match": etag})
    assert refused.status_code == 403
    early = api.post(f"{path}/rating", json={"stars": 5})
    assert early.status_code == 422
    closed = api.patch(path, json={"status": "closed"}, headers={"If-Match": etag})
    assert closed.status_code == 200
    rated = api.post(f"{path}/rating", json={"stars": 4, "comment": "ok"})
    assert rated.status_code == 201 and rated.json["stars"] == 4
    assert api.get(path).json["rating"] == 4


def test_merge_moves_the_thread(app, departments, agent_api, lan):
    duplicate = open_as(lan, departments["account"], "Dup", "first words")
    target = open_as(lan, departments["account"], "Target")
    response = agent_api.post(f"/tickets/{duplicate.code}/merge", json={"into": target.code})
    assert response.status_code == 200 and response.json["code"] == target.code
    bodies = [m["body"] for m in agent_api.get(f"/tickets/{target.code}/messages").json["items"]]
    assert "first words" in bodies
    assert agent_api.get(f"/tickets/{duplicate.code}").json["status"] == "closed"


def test_attachments_upload_and_download(app, departments, agent_api, lan):
    ticket = open_as(lan, departments["account"])
    response = agent_api.post(
        f"/tickets/{ticket.code}/messages",
        data={"body": "see file", "attachments": [(io.BytesIO(b"log line"), "app.log")]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.json
    url = response.json["attachments"][0]["url"]
    download = agent_api.get(url)
    assert download.status_code == 200 and download.data == b"log line"
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    refused = agent_api.post(
        f"/tickets/{ticket.code}/messages",
        data={"body": "x", "attachments": [(io.BytesIO(b"MZ"), "evil.exe")]},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422


def test_service_token_sees_all_departments(app, departments, service_api, lan):
    open_as(lan, departments["account"])
    open_as(lan, departments["billing"])
    assert len(service_api.get("/tickets").json["items"]) == 2


def test_spam_stays_hidden_from_customers(app, departments, customer, lan, agent):
    ticket = open_as(lan, departments["account"])
    tickets.change_status(agent.actor, ticket, TicketStatus.SPAM)
    api = ApiClient(app, member=customer)
    assert api.get(f"/tickets/{ticket.code}").status_code == 404
    assert session().get(Ticket, ticket.id) is not None


def test_a_refused_status_leaves_the_other_fields_unapplied(
    app, departments, agent, agent_api, lan
):
    ticket = open_as(lan, departments["account"])
    tickets.close_ticket(agent.actor, ticket)
    path = f"/tickets/{ticket.code}"
    etag = agent_api.get(path).headers["ETag"]
    refused = agent_api.patch(  # a closed ticket cannot go to "processing" directly
        path, json={"priority": "urgent", "status": "processing"}, headers={"If-Match": etag}
    )
    assert refused.status_code == 422
    assert refused.json["errors"][0]["field"] == "status"
    after = agent_api.get(path)
    assert after.json["priority"] == "normal" and after.headers["ETag"] == etag


def test_a_refused_later_field_rolls_back_the_earlier_ones(app, departments, agent, agent_api, lan):
    """Minh may move a ticket to Billing but then can neither see nor take it there: the whole
    change is refused, the move included, and the ETag still matches."""
    ticket = open_as(lan, departments["account"])
    path = f"/tickets/{ticket.code}"
    etag = agent_api.get(path).headers["ETag"]
    refused = agent_api.patch(
        path,
        json={
            "department_id": departments["billing"].id,
            "priority": "urgent",
            "assignee_id": agent.actor.agent.id,
        },
        headers={"If-Match": etag},
    )
    assert refused.status_code in (404, 422), refused.json
    session().expire_all()
    stored = session().get(Ticket, ticket.id)
    assert stored.department_id == departments["account"].id
    assert stored.priority.name.lower() == "normal"
    after = agent_api.get(path)
    assert after.status_code == 200 and after.headers["ETag"] == etag
