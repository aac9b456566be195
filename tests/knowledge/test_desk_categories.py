"""The desk's page of help-center categories (admins): create, rename per language, reorder,
delete when empty; agents who are not admins cannot."""

from __future__ import annotations

from sqlalchemy import select

from flask_helpdesk.models import ArticleCategory, AuditEvent
from flask_helpdesk.services import knowledge
from flask_helpdesk.services.base import session
from tests.conftest import client_for, count_queries, csrf_from, make_member, post_form
from tests.knowledge.conftest import write

PAGE = "/support/desk/articles/categories"


def names() -> list[str]:
    session().expire_all()
    return [c.name_in("en") for c in knowledge.categories()]


def admin_client(app):
    admin = make_member("Alex Admin", "alex.categories@example.com", admin=True)
    client = client_for(app, admin)
    assert client.get("/support/desk/").status_code == 200  # mirrored as staff
    return client


def test_an_admin_creates_renames_reorders_and_deletes_categories(app, departments):
    client = admin_client(app)
    for name in ("Billing", "Your account"):
        created = post_form(
            client, PAGE, data={"name_en": name, "name_vi": f"{name} (vi)", "name_fa": ""}
        )
        assert created.status_code == 302
    assert names() == ["Billing", "Your account"]
    account = session().scalar(
        select(ArticleCategory).where(ArticleCategory.slug == "your-account")
    )
    assert account.names == {"en": "Your account", "vi": "Your account (vi)"}

    renamed = post_form(
        client,
        PAGE,
        f"{PAGE}/{account.id}",
        data={
            "name_en": "Account",
            "name_vi": "Tài khoản",
            "name_fa": "حساب",
            "description_fa": "ورود",
        },
    )
    assert renamed.status_code == 302
    session().expire_all()
    assert account.names == {"en": "Account", "vi": "Tài khoản", "fa": "حساب"}
    assert account.descriptions == {"fa": "ورود"}

    assert post_form(client, PAGE, f"{PAGE}/{account.id}/up").status_code == 302
    assert names() == ["Account", "Billing"]
    assert post_form(client, PAGE, f"{PAGE}/{account.id}/up").status_code == 302  # first stays
    assert names() == ["Account", "Billing"]

    assert post_form(client, PAGE, f"{PAGE}/{account.id}/delete").status_code == 302
    assert names() == ["Billing"]
    actions = set(session().scalars(select(AuditEvent.action)))
    assert {"kb_category.created", "kb_category.updated", "kb_category.moved"} <= actions
    assert "kb_category.deleted" in actions


def test_a_category_with_articles_is_not_deleted(app, writer, category):
    write(writer, "Secret draft", "x", status="draft", category_id=category.id)
    client = admin_client(app)
    page = client.get(PAGE).get_data(as_text=True)
    assert "Only an empty category can be deleted." in page
    refused = post_form(client, PAGE, f"{PAGE}/{category.id}/delete", follow_redirects=True)
    assert "still has articles" in refused.get_data(as_text=True)
    assert names() == ["Your account"]


def test_bad_input_is_refused_with_the_typed_text_kept(app, departments, category):
    client = admin_client(app)
    nameless = post_form(
        client, PAGE, f"{PAGE}/{category.id}", data={"name_en": " ", "name_vi": ""}
    )
    assert nameless.status_code == 422 and "A category needs a name." in nameless.get_data(
        as_text=True
    )
    long = post_form(client, PAGE, data={"name_en": "x" * 121, "name_vi": "Kept\x00 text"})
    html = long.get_data(as_text=True)
    assert long.status_code == 422 and "Too long" in html and 'value="Kept text"' in html
    taken = post_form(client, PAGE, data={"name_en": "Other", "slug": "account"})
    assert taken.status_code == 422 and "Another category uses it." in taken.get_data(as_text=True)
    assert names() == ["Your account"]
    assert post_form(client, PAGE, f"{PAGE}/99999999999999999999/up").status_code == 404


def test_an_agent_who_is_not_admin_cannot(app, minh, writer, category):
    client = client_for(app, minh)
    assert client.get(PAGE).status_code == 403
    token = csrf_from(client.get("/support/desk/articles").get_data(as_text=True))
    assert (
        client.post(f"{PAGE}/{category.id}/delete", data={"csrf_token": token}).status_code == 403
    )
    assert names() == ["Your account"]


def test_the_page_costs_the_same_with_more_categories(app, departments):
    client = admin_client(app)
    counts = []
    for batch in range(2):
        for i in range(5):
            knowledge.create_category(knowledge_actor(), f"c{batch}{i}", {"en": f"C {batch}{i}"})
        with count_queries(app) as statements:
            assert client.get(PAGE).status_code == 200
        counts.append(len(statements))
    assert counts[0] == counts[1], counts


def knowledge_actor():
    from flask_helpdesk.services.identity import SYSTEM

    return SYSTEM
