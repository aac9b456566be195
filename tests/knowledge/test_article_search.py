"""Article search on the database's own engine (SQLite FTS5 / PostgreSQL full text + trigram):
the issue's exact cases, and that customers never get what they may not read."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from flask_helpdesk.models import ArticleStatus, ArticleVisibility
from flask_helpdesk.services import knowledge
from flask_helpdesk.services.base import session
from flask_helpdesk.services.kb_search import Audience, search_articles
from tests.knowledge.conftest import write


@pytest.fixture
def library(writer, category):
    """A small English help center, plus texts customers must never be offered."""
    articles = {
        "password": write(
            writer,
            "How to reset your password",
            "Open the sign-in page and choose **Forgot password**. We mail you a link that"
            " is valid for one hour.",
            category_id=category.id,
        ),
        "refund": write(
            writer,
            "Refund policy",
            "We return the money for an order within 30 days if you are not satisfied.",
        ),
        "email": write(
            writer,
            "Change the email address of your account",
            "Your account page lets you change your email and your password.",
        ),
        "shipping": write(
            writer,
            "Shipping times",
            "Orders leave our warehouse within two days. I want to be sure you know my"
            " address rules: we ship back to the billing address only.",
        ),
        "order": write(
            writer,
            "Where is my order?",
            "I want to know where my parcel is: open your orders page and follow the link.",
        ),
        "cancel": write(
            writer,
            "Cancel my subscription",
            "If you want to stop paying, cancel from your account page; you keep access to"
            " the end of the month.",
        ),
    }
    articles["draft"] = write(
        writer,
        "Reset your password (new flow)",
        "Not ready yet: reset password refund money back.",
        status=ArticleStatus.DRAFT,
    )
    articles["internal"] = write(
        writer,
        "Refund password reset override for agents",
        "Internal: how agents force a password reset or a refund; money back.",
        visibility=ArticleVisibility.INTERNAL,
    )
    return articles


def titles(query: str, language: str = "en", **kwargs) -> list[str]:
    return [a.title for a in search_articles(query, language, **kwargs)]


def test_a_half_typed_question_finds_the_password_article_first(library):
    assert titles("cant reset passw")[0] == "How to reset your password"


def test_a_described_problem_finds_the_refund_policy_first(library):
    assert titles("I want my money back refund")[0] == "Refund policy"


@pytest.mark.parametrize(
    "query",
    [
        "cant reset passw",
        "I want my money back refund",
        "reset password",
        "refund",
        "new flow",
        "agents override",
        "internal",
        "not ready yet",
    ],
)
def test_drafts_and_internal_articles_never_reach_customers(library, query):
    found = search_articles(query, "en")
    assert library["draft"] not in found
    assert library["internal"] not in found
    assert len(found) <= 5


def test_agents_may_search_internal_articles_and_drafts(library):
    assert "Refund password reset override for agents" in titles(
        "override", audience=Audience(internal=True)
    )
    assert "Reset your password (new flow)" not in titles("new flow", audience=Audience(True))
    assert "Reset your password (new flow)" in titles(
        "new flow", audience=Audience(internal=True, drafts=True)
    )


def test_unpublishing_an_article_takes_it_out_of_the_results_at_once(library, writer):
    article = library["refund"]
    knowledge.update_article(
        writer,
        article,
        knowledge.ArticleData(
            title=article.title,
            body_markdown=article.body_markdown,
            language="en",
            status=ArticleStatus.DRAFT,
        ),
    )
    assert "Refund policy" not in titles("refund")


def test_edited_text_is_searched_as_edited(library, writer):
    article = library["shipping"]
    knowledge.update_article(
        writer,
        article,
        knowledge.ArticleData(
            title="Delivery times",
            body_markdown="Parcels travel by courier.",
            language="en",
            status=ArticleStatus.PUBLISHED,
        ),
    )
    assert "Delivery times" in titles("courier")
    assert "Delivery times" not in titles("warehouse")


def test_suggestions_are_in_the_customers_language(library, writer):
    write(writer, "Đặt lại mật khẩu", "Chọn Quên mật khẩu trên trang đăng nhập.", language="vi")
    write(writer, "بازنشانی رمز عبور", "در صفحه ورود، «فراموشی رمز» را بزنید.", language="fa")
    assert titles("mật khẩu", "vi") == ["Đặt lại mật khẩu"]
    assert titles("رمز عبور", "fa") == ["بازنشانی رمز عبور"]
    assert titles("mật khẩu", "en") == []


def test_operators_and_odd_input_are_plain_words(library):
    for query in ['"', "*", "reset AND OR NOT", "NEAR(", "a:* | b", "'; drop", "\x00", "", "   "]:
        found = search_articles(query, "en")
        assert all(a.is_public for a in found)
    assert titles("password\x00reset")[0] == "How to reset your password"


def test_at_most_five_suggestions(writer):
    for n in range(8):
        write(writer, f"Invoice question {n}", "About invoices.")
    assert len(search_articles("invoice", "en")) == 5
    assert len(search_articles("invoice", "en", limit=20)) == 8


def test_a_misspelt_word_finds_its_title_on_postgresql(app, library):
    if app.extensions["helpdesk"].engine.dialect.name != "postgresql":
        pytest.skip(
            "PostgreSQL only (trigrams); set HELPDESK_TEST_DATABASE_URL to a PostgreSQL URL"
        )
    assert titles("pasword")[0] == "How to reset your password"
    assert titles("refnd polcy")[0] == "Refund policy"


def accents_fold(app) -> bool:
    """Whether this database's article search folds accents: always on SQLite (FTS5); on
    PostgreSQL exactly when the server offers the unaccent extension (migration 0030)."""
    if app.extensions["helpdesk"].engine.dialect.name == "sqlite":
        return True
    offered = session().scalar(
        text("SELECT count(*) FROM pg_available_extensions WHERE name = 'unaccent'")
    )
    folded = session().scalar(text("SELECT helpdesk_kb_fold('Đặt lại')"))
    assert folded == ("Dat lai" if offered else "Đặt lại")  # degrades to no folding, no error
    return bool(offered)


def test_vietnamese_is_found_with_and_without_accents(app, writer):
    write(writer, "Đặt lại mật khẩu", "Chọn Quên mật khẩu.", language="vi")
    assert titles("đặt lại mật khẩu", "vi") == ["Đặt lại mật khẩu"]
    # Customers often type Vietnamese without accents: FTS5's tokenizer folds them on SQLite,
    # unaccent on PostgreSQL (both sides, documents and typed words).
    if accents_fold(app):
        assert titles("dat lai mat khau", "vi") == ["Đặt lại mật khẩu"]
        assert titles("Dat lai mat khau", "vi") == ["Đặt lại mật khẩu"]
        assert titles("mat khau", "vi") == ["Đặt lại mật khẩu"]
    # FTS5's tokenizer folds accents: customers often type Vietnamese without them.
    # PostgreSQL's simple configuration keeps accents (a known gap, docs/knowledge-base.rst).
    if app.extensions["helpdesk"].engine.dialect.name == "sqlite":
        assert titles("dat lai mat khau", "vi") == ["Đặt lại mật khẩu"]
