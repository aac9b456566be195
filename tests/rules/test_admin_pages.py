"""The rules pages of the desk's admin area: list, create (clear errors, nothing lost), edit,
switch, order, auto-close preset, "which open tickets would match now" (paginated, bounded
queries); admins only, CSRF on every form, audited."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from flask_helpdesk.models import AuditEvent, Rule
from flask_helpdesk.services import rule_admin
from flask_helpdesk.services.agents import make_agent
from flask_helpdesk.services.base import session
from flask_helpdesk.services.demo import seed_demo
from tests.conftest import count_queries, make_member, post_form
from tests.views.conftest import isolated_client

RULES = "/support/desk/admin/rules"


@pytest.fixture
def admin_client(app, departments, admin):
    member = make_member("Ana Admin", "ana@example.com", admin=True)
    make_agent(member.get_id(), [], role="admin")
    return isolated_client(app, member)


def test_only_admins_see_the_rules_pages(app, departments, agent):
    member = make_member("Bao Agent", "bao@example.com")
    make_agent(member.get_id(), ["account"])
    client = isolated_client(app, member)
    assert client.get(RULES).status_code == 403
    assert client.get(f"{RULES}/new").status_code == 403


def test_create_a_rule_with_the_form(admin_client):
    page = post_form(
        admin_client,
        f"{RULES}/new",
        data={
            "name": "Invoices",
            "trigger": "ticket_created",
            "conditions": '{"field": "subject", "op": "contains", "value": "invoice"}',
            "actions": '[{"type": "set_priority", "value": "high"}]',
            "is_active": "y",
        },
    )
    assert page.status_code == 302
    rule = session().scalar(select(Rule).where(Rule.name == "Invoices"))
    assert rule.is_active and rule.steps == [{"type": "set_priority", "value": "high"}]
    listing = admin_client.get(RULES).get_data(as_text=True)
    assert "Invoices" in listing and "A ticket is created" in listing
    audit = session().scalar(select(AuditEvent).where(AuditEvent.action == "rule.created"))
    assert audit.data["name"] == "Invoices"


def test_a_mistake_is_shown_where_it_is_and_nothing_typed_is_lost(admin_client):
    conditions = '{"all": [{"field": "status", "op": "is", "value": "lost"}]}'
    page = post_form(
        admin_client,
        f"{RULES}/new",
        data={
            "name": "Broken",
            "trigger": "ticket_created",
            "conditions": conditions,
            "actions": "[{",
        },
    )
    assert page.status_code == 422
    html = page.get_data(as_text=True)
    assert "all[0].value: Not a valid value: lost." in html
    assert "Not valid JSON" in html
    assert "Broken" in html and "&#34;lost&#34;" in html  # what was typed is still there
    assert session().scalar(select(Rule)) is None


def test_switch_order_and_test_a_rule(admin_client, admin, lan, open_for):
    first = rule_admin.create_rule(
        admin,
        rule_admin.RuleData(
            "First", "ticket_created", {}, [{"type": "add_tags", "value": ["a"]}], is_active=True
        ),
    )
    second = rule_admin.create_rule(
        admin,
        rule_admin.RuleData(
            "Second",
            "status_changed",
            {
                "all": [
                    {"field": "subject", "op": "contains", "value": "stuck"},
                    {"field": "status", "op": "changed_to", "value": "open"},
                ]
            },
            [{"type": "add_tags", "value": ["b"]}],
        ),
    )
    post_form(admin_client, RULES, f"{RULES}/{first.id}/switch")
    session().expire_all()
    assert not first.is_active
    post_form(admin_client, RULES, f"{RULES}/{second.id}/move", data={"direction": "up"})
    assert [r.id for r in rule_admin.list_rules(admin)] == [second.id, first.id]

    for n in range(30):
        open_for(lan, subject=f"stuck {n}")
    open_for(lan, subject="fine")
    with count_queries(admin_client.application) as queries:
        page = admin_client.get(f"{RULES}/{second.id}/test")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert html.count("stuck ") == rule_admin.TEST_PAGE_SIZE and "fine" not in html
    assert "left out" in html  # the "changed to" part
    assert len(queries) < 25  # independent of the page size
    second_page = admin_client.get(f"{RULES}/{second.id}/test?page=2").get_data(as_text=True)
    assert second_page.count("stuck ") == 30 - rule_admin.TEST_PAGE_SIZE


def test_edit_shows_the_json_and_saves_changes(admin_client, admin):
    rule = rule_admin.create_rule(
        admin,
        rule_admin.RuleData("Edit me", "ticket_created", {}, [{"type": "close"}]),
    )
    page = admin_client.get(f"{RULES}/{rule.id}").get_data(as_text=True)
    assert "&#34;close&#34;" in page
    response = post_form(
        admin_client,
        f"{RULES}/{rule.id}",
        data={
            "name": "Edited",
            "trigger": "time_since_agent",
            "after": "48",
            "unit": "working_hours",
            "conditions": json.dumps({"field": "status", "op": "is", "value": "answered"}),
            "actions": json.dumps([{"type": "close"}]),
        },
    )
    assert response.status_code == 302
    session().expire_all()
    assert rule.name == "Edited" and rule.schedule == {"after": 48, "unit": "working_hours"}
    rule_id = rule.id
    post_form(admin_client, RULES, f"{RULES}/{rule_id}/delete")
    session().expire_all()
    assert session().scalar(select(Rule).where(Rule.id == rule_id)) is None


def test_the_auto_close_preset_form(admin_client):
    response = post_form(
        admin_client, RULES, f"{RULES}/auto-close", data={"after": "5", "is_active": "y"}
    )
    assert response.status_code == 302
    preset = rule_admin.auto_close_rule()
    assert preset.is_active and preset.schedule == {"after": 5, "unit": "days"}
    html = admin_client.get(RULES).get_data(as_text=True)
    assert re.search(r'name="after"[^>]*value="5"', html)
    bad = post_form(admin_client, RULES, f"{RULES}/auto-close", data={"after": "0"})
    assert bad.status_code == 422


def test_forms_need_their_csrf_token(admin_client, admin):
    rule = rule_admin.create_rule(
        admin, rule_admin.RuleData("R", "ticket_created", {}, [{"type": "close"}], is_active=True)
    )
    admin_client.post(f"{RULES}/{rule.id}/switch")
    admin_client.post(f"{RULES}/{rule.id}/delete")
    session().expire_all()
    assert session().scalar(select(Rule.is_active).where(Rule.id == rule.id)) is True


@pytest.mark.parametrize("lang", ["vi", "fa"])
def test_the_pages_are_translated(admin_client, lang):
    html = admin_client.get(RULES, headers={"Accept-Language": lang}).get_data(as_text=True)
    assert ("Quy tắc" if lang == "vi" else "قاعده") in html


def test_the_demo_has_auto_close_switched_on(app):
    assert any("Auto-close" in line for line in seed_demo())
    preset = rule_admin.auto_close_rule()
    assert preset.is_active and preset.schedule == {"after": 3, "unit": "days"}
