"""The rule form's builder in a real browser: an admin builds a rule by clicking (a condition, a
nested "any" group, two ordered actions), saves it, and the server stores exactly that JSON;
every condition tree the server accepts (nested all / any / none / not, a "not" over an "all"
group, a lone test) opens in the builder and is written back unchanged; the page is axe-clean
with the builder shown, in English and in Persian at a phone's width."""

from __future__ import annotations

import json

from playwright.sync_api import expect
from sqlalchemy import select

from example_app.models import db
from flask_helpdesk.models import Rule
from flask_helpdesk.services import rule_admin
from flask_helpdesk.services.identity import SYSTEM

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


SUBJECT = {"field": "subject", "op": "contains", "value": "refund"}
URGENT = {"field": "priority", "op": "is", "value": "urgent"}
GOLD = {"field": "customer.plan", "op": "is", "value": "gold"}
TAGGED = {"field": "tags", "op": "is_set"}
# Every shape of group the engine accepts, each with the number of groups the builder shows.
TREES = [
    ({"not": {"all": [SUBJECT, URGENT]}}, 2),  # "none of" holding an "all" group
    ({"not": {"any": [SUBJECT, URGENT]}}, 1),  # "none of these"
    ({"not": SUBJECT}, 1),
    ({"not": {"not": {"any": [SUBJECT]}}}, 2),
    ({"not": {"not": {"all": [SUBJECT, GOLD]}}}, 3),
    (SUBJECT, 1),  # a lone test
    ({"any": [SUBJECT]}, 1),
    (
        {
            "any": [
                {"all": [GOLD, {"not": {"all": [SUBJECT, TAGGED]}}]},
                {"not": URGENT},
                {"any": [{"not": {"any": [TAGGED, GOLD]}}]},
            ]
        },
        7,
    ),
]


def _rules(app, trees) -> list[int]:
    with app.app_context():
        made = [
            rule_admin.create_rule(
                SYSTEM,
                rule_admin.RuleData(
                    f"Shape {n}", "ticket_created", tree, [{"type": "add_tags", "value": ["x"]}]
                ),
            )
            for n, (tree, _groups) in enumerate(trees)
        ]
        # The engine keeps them as written: the trees are already in its normal form.
        assert [rule.conditions for rule in made] == [tree for tree, _groups in trees]
        return [rule.id for rule in made]


def test_every_accepted_tree_opens_in_the_builder_and_comes_back_unchanged(
    new_page,
    live_server,
    axe_source,  # noqa: F811
):
    ids = _rules(live_server.app, TREES)
    page = new_page()
    log_in(page, "admin@example.com")
    for rule_id, (tree, groups) in zip(ids, TREES, strict=True):
        page.goto(f"/support/desk/admin/rules/{rule_id}")
        # The builder, not the JSON box, whatever the shape.
        expect(page.locator(".hd-rule-builder").first).to_be_visible()
        expect(page.locator("textarea#conditions")).to_be_hidden()
        expect(page.locator(".hd-rule-builder").first.locator(".hd-rb-group")).to_have_count(groups)
        # JSON -> builder -> JSON: what the builder writes back is what was stored.
        assert json.loads(page.locator("textarea#conditions").input_value()) == tree, tree
    assert violations(page, axe_source) == []  # the deepest tree, every control named

    # Edited in the builder: the "not" over an "all" group keeps its shape when saved.
    page.goto(f"/support/desk/admin/rules/{ids[0]}")
    inner = page.locator(".hd-rb-group .hd-rb-group")
    inner.locator(".hd-rb-row").first.get_by_label("Value").fill("invoice")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").filter(has_text="Rule saved.")).to_be_visible()
    with live_server.app.app_context():
        assert db.session.get(Rule, ids[0]).conditions == {
            "not": {"all": [{**SUBJECT, "value": "invoice"}, URGENT]}
        }


def test_nested_negations_in_persian_on_a_phone(new_page, live_server, axe_source):  # noqa: F811
    (rule_id,) = _rules(live_server.app, TREES[-1:])
    page = new_page()
    log_in(page, "admin@example.com")
    page.goto("/support/?lang=fa")
    page.set_viewport_size({"width": 390, "height": 900})
    page.goto(f"/support/desk/admin/rules/{rule_id}")
    expect(page.locator(".hd-rule-builder").first.locator(".hd-rb-group")).to_have_count(7)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # three levels deep
    assert json.loads(page.locator("textarea#conditions").input_value()) == TREES[-1][0]
    assert violations(page, axe_source) == []
