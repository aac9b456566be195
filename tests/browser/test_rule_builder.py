"""The rule form's builder in a real browser: an admin builds a rule by clicking (a condition, a
nested "any" group, two ordered actions), saves it, and the server stores exactly that JSON;
the page is axe-clean with the builder shown, in English and in Persian at a phone's width."""

from __future__ import annotations

import json

from playwright.sync_api import expect
from sqlalchemy import select

from example_app.models import db
from flask_helpdesk.models import Rule

from .conftest import log_in
from .test_every_page import axe_source, violations  # noqa: F401 (the axe fixture)


def test_an_admin_builds_a_rule_by_clicking_and_saves_it(new_page, live_server, axe_source):  # noqa: F811
    page = new_page()
    log_in(page, "admin@example.com")
    page.goto("/support/desk/admin/rules/new")
    builder = page.locator(".hd-rule-builder").first
    expect(builder).to_be_visible()
    expect(page.locator("textarea#conditions")).to_be_hidden()  # the JSON is written for you
    page.get_by_label("Name").fill("Refunds from gold customers")

    # The new-rule page starts with "status is open"; make it "priority is greater than normal"
    # and add a group: any of "subject contains refund" / "customer attribute plan is gold".
    conditions = page.locator(".hd-rb-group").first
    row = conditions.locator(".hd-rb-row").first
    row.get_by_label("Field").select_option(label="Priority")
    row.get_by_label("Operator").select_option(label="is greater than")
    row.get_by_label("Value").select_option(label="Normal")
    conditions.get_by_role("button", name="Add group").last.click()
    group = page.locator(".hd-rb-group .hd-rb-group")
    group.get_by_role("button", name="Add condition").click()
    first = group.locator(".hd-rb-row").nth(0)
    first.get_by_label("Field").select_option(label="Subject")
    first.get_by_label("Operator").select_option(label="contains")
    first.get_by_label("Value").fill("refund")
    group.get_by_role("button", name="Add condition").click()
    second = group.locator(".hd-rb-row").nth(1)
    second.get_by_label("Field").select_option(label="Customer attribute")
    second.get_by_label("Attribute name").fill("plan")
    second.get_by_label("Operator").select_option(label="is")
    second.get_by_label("Value").fill("gold")

    # Actions: replace the example with "set priority: urgent", then "add tags", moved first.
    actions = page.locator(".hd-rule-builder").nth(1)
    action = actions.locator(".hd-rb-row").first
    action.get_by_label("Action").select_option(label="Set priority")
    action.get_by_label("Value").select_option(label="Urgent")
    actions.get_by_role("button", name="Add action").click()
    added = actions.locator(".hd-rb-row").nth(1)
    added.get_by_label("Action").select_option(label="Add tags")
    added.get_by_label("Value").fill("refund, gold")
    added.get_by_role("button", name="Move up").click()

    assert violations(page, axe_source) == []
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").filter(has_text="Rule saved.")).to_be_visible()

    with live_server.app.app_context():
        rule = db.session.scalar(select(Rule).where(Rule.name == "Refunds from gold customers"))
        assert rule.conditions == {
            "all": [
                {"field": "priority", "op": "greater_than", "value": "normal"},
                {
                    "any": [
                        {"field": "subject", "op": "contains", "value": "refund"},
                        {"field": "customer.plan", "op": "is", "value": "gold"},
                    ]
                },
            ]
        }
        assert rule.steps == [
            {"type": "add_tags", "value": ["refund", "gold"]},
            {"type": "set_priority", "value": "urgent"},
        ]

    # Opened again, the builder shows what was saved; "Edit as JSON" gives the text back.
    page.goto(f"/support/desk/admin/rules/{rule.id}")
    expect(page.locator(".hd-rb-group .hd-rb-group .hd-rb-row")).to_have_count(2)
    page.get_by_role("button", name="Edit as JSON").first.click()
    shown = json.loads(page.locator("textarea#conditions").input_value())
    assert shown == rule.conditions


def test_the_builder_in_persian_on_a_phone(new_page, live_server, axe_source):  # noqa: F811
    page = new_page()
    log_in(page, "admin@example.com")
    page.goto("/support/?lang=fa")
    page.set_viewport_size({"width": 390, "height": 900})
    page.goto("/support/desk/admin/rules/new")
    expect(page.locator(".hd-rule-builder").first).to_be_visible()
    assert page.evaluate("document.documentElement.dir || document.body.dir") == "rtl" or (
        page.locator("[dir=rtl]").count() > 0
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert violations(page, axe_source) == []
