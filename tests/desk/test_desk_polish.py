"""What agents noticed on the desk (issue 14): the status control shows the ticket's status,
phone numbers read left to right in Persian, agent wording, headings and accessible tables."""

from __future__ import annotations

import re

from flask_helpdesk.services import messages, tickets
from tests.conftest import client_for, make_member, post_form
from tests.desk.conftest import DESK, open_as
from tests.untranslated import untranslated


def test_status_control_shows_the_current_status_selected(app, departments, agent, lan):
    ticket = open_as(lan, departments["account"])
    tickets.change_status(agent.actor, ticket, "processing")
    page = client_for(app, agent.member).get(f"{DESK}/tickets/{ticket.code}").get_data(True)
    select = re.search(r'<select[^>]*name="status"[^>]*>(.*?)</select>', page, re.S).group(1)
    assert re.search(r'<option selected value="processing">', select)
    assert select.index('value="processing"') < select.index('value="open"')


def test_saving_the_current_status_changes_nothing(app, departments, agent, lan):
    ticket = open_as(lan, departments["account"])
    url = f"{DESK}/tickets/{ticket.code}"
    response = post_form(client_for(app, agent.member), url, f"{url}/status", {"status": "open"})
    assert response.status_code == 302
    thread = messages.thread(agent.actor, ticket)
    assert [m.kind.value for m in thread] == ["reply"]  # no "changed the status" event


def test_phone_numbers_read_left_to_right_in_the_persian_desk(app, departments, lan):
    member = make_member("Sara Ahmadi", language="fa")
    from flask_helpdesk.services.agents import make_agent

    make_agent(member.get_id(), ["account"])
    ticket = open_as(lan, departments["account"])
    page = client_for(app, member).get(f"{DESK}/tickets/{ticket.code}").get_data(True)
    assert '<span dir="ltr">+84900000001</span>' in page
    assert untranslated(page, "fa") == []


def test_new_ticket_page_title_is_text_and_wording_is_the_agents(app, departments, agent, lan):
    client = client_for(app, agent.member)
    page = client.get(f"{DESK}/new?requester={lan.contact.id}").get_data(True)
    title = re.search(r"<title>(.*?)</title>", page, re.S).group(1)
    assert "<" not in title and "New ticket" in title
    assert "Notify the customer by SMS when support replies" in page
    assert "Notify me by SMS" not in page


def test_every_queue_page_has_a_heading(app, departments, agent):
    client = client_for(app, agent.member)
    for query, heading in [("", "All tickets"), ("?view=unassigned", "Unassigned")]:
        page = client.get(f"{DESK}/{query}").get_data(True)
        assert re.search(rf"<h1>\s*{heading}\s*</h1>", page), query
    assert re.search(r"<h1>\s*Tickets\s*</h1>", client.get(f"{DESK}/?q=invoice").get_data(True))


def test_canned_replies_table_has_no_empty_header(app, departments, agent):
    client = client_for(app, agent.member)
    post_form(
        client,
        f"{DESK}/canned",
        f"{DESK}/canned",
        {"title": "Thanks", "body": "Thank you!", "department_id": ""},
    )
    page = client.get(f"{DESK}/canned").get_data(True)
    assert "Thanks" in page
    assert "<th></th>" not in page


def test_access_facts_speak_to_the_agent(app, departments, agent, lan):
    from flask_helpdesk.services import consent

    ticket = open_as(lan, departments["account"])
    consent.request_access(agent.actor, ticket, "Check the invoice settings", "act")
    page = client_for(app, agent.member).get(f"{DESK}/tickets/{ticket.code}").get_data(True)
    assert "Act as the customer" in page and "Waiting for the customer's answer" in page
    assert "Act as you" not in page and "Waiting for your answer" not in page


def test_properties_panel_saves_every_changed_field_with_one_save(
    app, departments, agent, other_agent, lan
):
    """Sara moves a ticket to Billing, takes it, raises it, tags it and sets it processing."""
    from flask_helpdesk.models import Priority, TicketStatus
    from flask_helpdesk.services.base import session

    ticket = open_as(lan, departments["account"])
    url = f"{DESK}/tickets/{ticket.code}"
    response = post_form(
        client_for(app, other_agent.member),
        url,
        f"{url}/properties",
        {
            "status": "processing",
            "priority": str(int(Priority.HIGH)),
            "assignee_id": str(other_agent.actor.agent.id),
            "department_id": str(departments["billing"].id),
            "tags": "VIP, refund",
        },
    )
    assert response.status_code == 302
    session().expire_all()
    assert ticket.department_id == departments["billing"].id
    assert ticket.assignee_id == other_agent.actor.agent.id
    assert ticket.priority == Priority.HIGH and ticket.status == TicketStatus.PROCESSING
    assert sorted(t.name for t in ticket.tags) == ["refund", "vip"]


def test_properties_panel_shows_a_refused_value_on_its_field(app, departments, agent, lan):
    ticket = open_as(lan, departments["account"])
    url = f"{DESK}/tickets/{ticket.code}"
    response = post_form(
        client_for(app, agent.member), url, f"{url}/properties", {"assignee_id": "999999"}
    )
    assert response.status_code == 422
    page = response.get_data(True)
    assert "Not an agent of this department." in page
    assert fresh_status(ticket) == "open"


def fresh_status(ticket) -> str:
    from flask_helpdesk.services.base import session

    session().expire_all()
    return ticket.status.value


def test_send_and_close_in_one_step(app, departments, agent, lan):
    ticket = open_as(lan, departments["account"])
    url = f"{DESK}/tickets/{ticket.code}"
    client = client_for(app, agent.member)
    page = client.get(url).get_data(True)
    assert "and close the ticket" in page
    from tests.conftest import csrf_from

    last_seen = re.search(r'name="last_seen_message_id" type="hidden" value="(\d+)"', page)
    response = client.post(
        f"{url}/reply",
        data={
            "csrf_token": csrf_from(page),
            "body": "Fixed, closing.",
            "action": "reply",
            "then_status": "closed",
            "last_seen_message_id": last_seen.group(1) if last_seen else "",
        },
    )
    assert response.status_code == 302
    assert fresh_status(ticket) == "closed"
    bodies = [m.body for m in messages.thread(agent.actor, ticket) if m.kind.value == "reply"]
    assert bodies[-1] == "Fixed, closing."


def test_queue_counts_its_tickets_and_offers_to_clear_filters(app, departments, agent, lan):
    for n in range(3):
        open_as(lan, departments["account"], subject=f"Printer {n}")
    client = client_for(app, agent.member)
    page = client.get(f"{DESK}/").get_data(True)
    assert "3 tickets" in page and "Clear filters" not in page
    filtered = client.get(f"{DESK}/?q=printer&status=open").get_data(True)
    assert "3 tickets" in filtered and "Clear filters" in filtered
    assert "No tickets match." in client.get(f"{DESK}/?q=nothinglikethis").get_data(True)


def test_queue_count_stops_at_the_cap(app, departments, agent, lan, monkeypatch):
    from flask_helpdesk.services import queues

    monkeypatch.setattr(queues, "COUNT_CAP", 2)
    for n in range(3):
        open_as(lan, departments["account"], subject=f"Printer {n}")
    page = client_for(app, agent.member).get(f"{DESK}/").get_data(True)
    assert "More than 2 tickets" in page


def test_access_request_form_states_the_longest_grant(app, departments, agent, lan):
    ticket = open_as(lan, departments["account"])
    page = client_for(app, agent.member).get(f"{DESK}/tickets/{ticket.code}").get_data(True)
    assert re.search(r'<input[^>]*max="72"[^>]*name="duration_hours"', page)
    assert "At most 72 hours." in page


def test_a_search_is_not_counted_twice(app, departments, agent, lan):
    """The count of a text search comes from its page: exact when it fits, "more than" else."""
    for n in range(4):
        open_as(lan, departments["account"], subject=f"Printer {n}")
    app.extensions["helpdesk"].config["HELPDESK_TICKETS_PER_PAGE"] = 3
    client = client_for(app, agent.member)
    assert "More than 3 tickets" in client.get(f"{DESK}/?q=printer").get_data(True)
    assert "1 ticket<" in client.get(f"{DESK}/?q=printer 2").get_data(True)


def test_persian_queue_counts_in_persian_digits(app, departments, lan):
    from flask_helpdesk.services.agents import make_agent

    member = make_member("Sara Ahmadi", language="fa")
    make_agent(member.get_id(), ["account"])
    for n in range(3):
        open_as(lan, departments["account"], subject=f"Printer {n}")
    page = client_for(app, member).get(f"{DESK}/").get_data(True)
    assert "۳ تیکت" in page
    # The department counters beside the list too: three new tickets in Account.
    counters = page[page.index('class="hd-counters"') :]
    row = counters[counters.index(f'data-department="{departments["account"].id}"') :]
    row = row[: row.index("</tr>")]
    assert "<td>۳</td>" in row and "<td>3</td>" not in row
