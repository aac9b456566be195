"""The help center pages: what visitors and customers read, votes, suggestions and deflection."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from flask_helpdesk.models import ArticleDeflection, ArticleStatus
from flask_helpdesk.services.base import session
from tests.conftest import client_for, count_queries, csrf_from, post_form
from tests.knowledge.conftest import write

HELP = "/support/help/"


@pytest.fixture
def articles(writer, category):
    english = write(
        writer,
        "How to reset your password",
        "Choose **Forgot password** on the sign-in page.",
        category_id=category.id,
    )
    return {
        "en": english,
        "fa": write(
            writer,
            "بازنشانی رمز عبور",
            "در صفحهٔ ورود «فراموشی رمز» را بزنید.",
            language="fa",
            category_id=category.id,
            translation_of=english.id,
        ),
        "draft": write(writer, "Secret draft", "x", status=ArticleStatus.DRAFT),
        "internal": write(writer, "Agents only", "x", visibility="internal"),
        "refund": write(writer, "Refund policy", "Money back within 30 days."),
    }


def url(article) -> str:
    return f"/support/help/articles/{article.language}/{article.slug}"


@pytest.mark.parametrize("logged_in", [False, True])
def test_visitors_and_customers_read_published_public_articles(app, articles, customer, logged_in):
    client = client_for(app, customer if logged_in else None)
    home = client.get(HELP)
    assert home.status_code == 200
    assert "Your account" in home.get_data(as_text=True)
    page = client.get(url(articles["en"]))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<strong>Forgot password</strong>" in html
    assert "بازنشانی رمز عبور" in html  # the link to the translation
    for hidden in ("draft", "internal"):
        assert client.get(url(articles[hidden])).status_code == 404
    assert client.get("/support/help/categories/account").status_code == 200
    assert client.get("/support/help/categories/nothing").status_code == 404


def test_a_persian_article_reads_right_to_left(app, articles):
    html = app.test_client().get(url(articles["fa"]) + "?lang=fa").get_data(as_text=True)
    assert 'lang="fa" dir="rtl"' in html
    assert 'dir="rtl"' in html.split('class="helpdesk"', 1)[1][:40]


def test_search_finds_what_a_customer_describes(app, articles):
    html = app.test_client().get("/support/help/search?q=cant+reset+passw").get_data(as_text=True)
    assert html.index("How to reset your password") < html.index("Still need help?")
    html = app.test_client().get("/support/help/search?q=agents+secret").get_data(as_text=True)
    assert "Agents only" not in html and "Secret draft" not in html


def test_the_host_can_keep_the_help_center_for_logged_in_users(app, articles, customer):
    app.extensions["helpdesk"].config["HELPDESK_HELP_CENTER_PUBLIC"] = False
    for path in (HELP, url(articles["en"]), "/support/help/suggest?q=reset"):
        response = app.test_client().get(path)
        assert response.status_code == 302 and "/login" in response.location
    assert client_for(app, customer).get(HELP).status_code == 200


def test_one_vote_per_browser(app, articles):
    client = app.test_client()
    page = client.get(url(articles["en"])).get_data(as_text=True)
    token = csrf_from(page)
    for _ in range(2):
        response = client.post(
            url(articles["en"]) + "/vote", data={"csrf_token": token, "helpful": "yes"}
        )
        assert response.status_code == 302
    assert "Was this article helpful?" not in client.get(url(articles["en"])).get_data(as_text=True)
    session().refresh(articles["en"])
    assert (articles["en"].helpful_yes, articles["en"].helpful_no) == (1, 0)
    # No token, or no answer: refused.
    assert client.post(url(articles["en"]) + "/vote", data={"helpful": "yes"}).status_code == 400
    assert client.post(url(articles["en"]) + "/vote", data={"csrf_token": token}).status_code == 400


def test_suggestions_while_typing_are_published_articles_of_the_page_language(app, articles):
    found = app.test_client().get("/support/help/suggest?q=I+want+my+money+back+refund").get_json()
    assert found[0]["title"] == "Refund policy"
    assert found[0]["url"].endswith("?from=suggestion")
    assert app.test_client().get("/support/help/suggest?q=agents").get_json() == []
    assert app.test_client().get("/support/help/suggest?q=").get_json() == []
    persian = app.test_client().get("/support/help/suggest?q=رمز&lang=fa").get_json()
    assert [a["title"] for a in persian] == ["بازنشانی رمز عبور"]


def test_the_new_ticket_form_suggests_without_javascript_too(app, articles, departments, customer):
    client = client_for(app, customer)
    html = client.get("/support/new?q=cant+reset+passw").get_data(as_text=True)
    assert "These articles may answer your question" in html
    assert url(articles["en"]) + "?from=suggestion" in html


def deflections():
    session().expire_all()
    return session().scalars(select(ArticleDeflection)).all()


def test_opening_a_suggestion_and_not_filing_is_a_deflection(app, articles, departments, customer):
    client = client_for(app, customer)
    client.get(url(articles["en"]) + "?from=suggestion")
    client.get(url(articles["en"]))  # not from a suggestion: not counted
    [row] = deflections()
    assert row.article_id == articles["en"].id and row.ticket_id is None

    response = post_form(client, "/support/new", data={
        "department_id": departments["account"].id, "subject": "Still locked out",
        "body": "The link did not arrive.", "priority": "1"})  # fmt: skip
    assert response.status_code == 302
    [row] = deflections()
    assert row.ticket_id is not None  # filed after all: not a deflection


def test_help_center_pages_make_a_bounded_number_of_queries(app, writer, category, customer):
    for n in range(30):
        write(writer, f"Article {n}", "Text " * 50, category_id=category.id)
    client = client_for(app, customer)
    article_url = "/support/help/articles/en/article-7"
    for path in (HELP, "/support/help/categories/account", article_url,
                 "/support/help/search?q=article+text"):  # fmt: skip
        client.get(path)  # warm up (the customer's mirror row, caches)
        with count_queries(app) as statements:
            assert client.get(path).status_code == 200
        assert len(statements) <= 8, (path, statements)
