"""The reports page and its CSV: who may see them, what they show, a bounded number of queries
whatever the number of tickets, and CSV cells a spreadsheet cannot run as formulas."""

from __future__ import annotations

import csv
import io
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flask_helpdesk.services import messages, reports, tickets
from flask_helpdesk.services.agents import make_agent
from flask_helpdesk.services.departments import create_department
from flask_helpdesk.services.identity import SYSTEM, agent_as_actor, contact_as_actor, sync_contact
from flask_helpdesk.views.desk_reports import FORMULA_STARTS, csv_cell
from tests.conftest import client_for, count_queries, make_member

PAGE = "/support/desk/reports"


@pytest.fixture
def boss(app, departments):
    member = make_member("Alex Admin", "admin@example.com", admin=True)
    make_agent(member.get_id(), [], role="admin")
    return member


@pytest.fixture
def minh(app, departments):
    member = make_member("Minh Tran", "minh@example.com")
    return member, agent_as_actor(make_agent(member.get_id(), ["account"]))


def _traffic(customer, agent_actor, department, count: int) -> None:
    lan = contact_as_actor(sync_contact(customer))
    for n in range(count):
        ticket = tickets.open_ticket(
            lan, tickets.NewTicket(department_id=department.id, subject=f"Q{n}", body="Help")
        )
        messages.post_message(agent_actor, ticket, "Answer")
        if n % 2:
            tickets.close_ticket(lan, ticket)
            tickets.rate_ticket(lan, ticket, 5 if n % 4 == 1 else 2)


def test_an_admin_sees_charts_each_with_its_table(app, boss, minh, customer, departments):
    _traffic(customer, minh[1], departments["account"], 4)
    page = client_for(app, boss).get(PAGE)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.count("<svg") == 2  # created/solved and backlog
    assert re.search(r'<svg[^>]+role="img"[^>]+aria-labelledby=', html)
    assert "<title id=" in html and "<desc id=" in html
    assert 'id="hd-report-days"' in html and 'id="hd-report-breakdown"' in html
    summary = html[html.index('id="hd-report-summary"') :]
    created = re.search(r'data-measure="created"><th scope="row">[^<]+</th><td[^>]*>(\d+)', summary)
    assert created.group(1) == "4"
    assert re.search(r'data-measure="csat"><th[^>]*>[^<]+</th><td[^>]*>50 %', summary)


def test_an_agent_sees_their_own_figures_without_backlog(app, minh, customer, departments):
    _traffic(customer, minh[1], departments["account"], 2)
    html = client_for(app, minh[0]).get(PAGE).get_data(as_text=True)
    assert "Your own figures" in html
    assert html.count("<svg") == 1


def test_a_customer_gets_no_reports(app, customer):
    assert client_for(app, customer).get(PAGE).status_code in (403, 404)
    assert client_for(app, customer).get(PAGE + ".csv").status_code in (403, 404)


def test_bad_dates_say_so_and_show_the_default_period(app, boss):
    page = client_for(app, boss).get(PAGE + "?first=2026-13-01&by=planet")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Please enter dates as YYYY-MM-DD." in html and "Unknown breakdown." in html
    assert (
        client_for(app, boss).get(PAGE + ".csv?first=2026-05-02&last=2026-05-01").status_code == 400
    )


def test_the_page_makes_as_many_queries_for_many_tickets_as_for_few(
    app, boss, minh, customer, departments
):
    client = client_for(app, boss)
    _traffic(customer, minh[1], departments["account"], 2)
    client.get(PAGE + "?by=agent")
    with count_queries(app) as few:
        assert client.get(PAGE + "?by=agent").status_code == 200
    bao = agent_as_actor(make_agent(make_member("Bao Le").get_id(), ["billing"]))
    _traffic(customer, bao, departments["billing"], 6)  # one more agent, one more department
    client.get(PAGE + "?by=agent")  # the same warm-up as before (the member is reloaded)
    with count_queries(app) as many:
        assert client.get(PAGE + "?by=agent").status_code == 200
    assert len(many) == len(few)
    # The roll-up: figures and backlog per group, the days and the backlog before them (4);
    # a small period's exact percentiles from the facts: PostgreSQL one query per table,
    # SQLite one per measure (four more each).
    budget = 10 if app.extensions["helpdesk"].engine.dialect.name == "postgresql" else 16
    assert len(many) <= budget, many
    rollup_reads = [s for s in many if "helpdesk_report_day" in s]
    assert len(rollup_reads) == 4, rollup_reads


def test_a_busy_period_reads_only_the_rollup(app, boss, minh, customer, departments, monkeypatch):
    """Above ``EXACT_UP_TO`` timed facts the percentiles come from the roll-up's histograms:
    the page reads no fact at all, four roll-up queries whatever the size."""
    monkeypatch.setattr(reports, "EXACT_UP_TO", 0)
    client = client_for(app, boss)
    _traffic(customer, minh[1], departments["account"], 3)
    client.get(PAGE + "?by=priority")
    with count_queries(app) as statements:
        response = client.get(PAGE + "?by=priority")
    assert response.status_code == 200
    assert not [s for s in statements if "helpdesk_ticket_fact" in s]
    assert len([s for s in statements if "helpdesk_report_day" in s]) == 4
    assert len(statements) <= 7, statements  # and who is asking (3)
    html = response.get_data(as_text=True)
    assert 'data-label="Backlog"' in html


def test_csv_exports_a_formula_as_text(app, boss, minh, customer):
    evil = create_department(SYSTEM, '=HYPERLINK("http://evil.example/x","Click")', slug="evil")
    admin_actor = agent_as_actor(make_agent(make_member("Root").get_id(), [], role="admin"))
    _traffic(customer, admin_actor, evil, 2)
    response = client_for(app, boss).get(PAGE + ".csv?by=department")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.is_streamed
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][:3] == ["period", "group", "created"]
    groups = {row[1] for row in rows[1:]}
    assert '\'=HYPERLINK("http://evil.example/x","Click")' in groups
    assert not any(cell.startswith(FORMULA_STARTS) for row in rows for cell in row)


@given(st.text())
def test_no_exported_text_cell_starts_a_formula(text):
    cell = csv_cell(text)
    assert not cell.startswith(FORMULA_STARTS)
    assert cell in (text, "'" + text)
