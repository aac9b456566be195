"""Writing articles: slugs per language, translations, revisions, sanitizing, who may write."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flask_helpdesk.models import ArticleRevision, ArticleStatus
from flask_helpdesk.richtext import markdown_to_html, slugify
from flask_helpdesk.services import Forbidden, NotFound, ValidationError, knowledge
from flask_helpdesk.services.base import session
from flask_helpdesk.services.identity import Actor
from tests.knowledge.conftest import write


def test_slugs_keep_vietnamese_and_persian_letters():
    assert slugify("Đặt lại mật khẩu của bạn") == "đặt-lại-mật-khẩu-của-bạn"
    assert slugify("بازنشانی رمز عبور") == "بازنشانی-رمز-عبور"
    # Persian's zero-width non-joiner joins, it does not split a word.
    assert slugify("می‌خواهم") == "میخواهم"
    assert slugify("How to reset your password?") == "how-to-reset-your-password"
    # A title pasted in decomposed form gets the same slug.
    assert slugify(unicodedata.normalize("NFD", "Đặt lại")) == "đặt-lại"


@given(st.text(max_size=300))
def test_a_slug_is_always_one_safe_path_segment(title):
    slug = slugify(title)
    assert len(slug) <= 120
    assert not any(ch in slug for ch in "/?#%&\\ \t\n")
    assert not slug.startswith("-") and not slug.endswith("-")
    assert slugify(slug) == slug


def test_slugs_are_unique_per_language(writer):
    first = write(writer, "Refund policy")
    second = write(writer, "Refund policy!")
    vietnamese = write(writer, "Refund policy", language="vi")
    assert (first.slug, second.slug, vietnamese.slug) == (
        "refund-policy",
        "refund-policy-2",
        "refund-policy",
    )


def test_a_title_without_letters_still_gets_an_address(writer):
    assert write(writer, "???").slug == "article"


def test_translations_share_a_group_one_article_per_language(writer):
    english = write(writer, "Refund policy")
    persian = write(writer, "سیاست بازپرداخت", language="fa", translation_of=english.id)
    assert persian.translation_group == english.translation_group
    assert knowledge.translations(None, english) == [persian]
    with pytest.raises(ValidationError) as error:
        write(writer, "Another", language="fa", translation_of=english.id)
    assert "language" in error.value.field_errors


def test_every_change_of_the_text_keeps_a_revision(writer):
    article = write(writer, "Shipping", "Two days.")
    data = knowledge.ArticleData(
        title="Shipping", body_markdown="Three days.", language="en", status="published"
    )
    knowledge.update_article(writer, article, data)
    knowledge.update_article(writer, article, data)  # nothing changed: no revision
    history = knowledge.revisions(writer, article)
    assert [r.body_markdown for r in history] == ["Three days.", "Two days."]
    assert all(isinstance(r, ArticleRevision) and r.author_id for r in history)


def test_markdown_is_sanitized_when_saved_and_shown(writer):
    article = write(
        writer,
        "Tricks",
        '<script>alert(1)</script> <img src=x onerror="alert(1)"> [x](javascript:alert(1))'
        " **bold**",
    )
    assert "<script" not in article.body_html
    assert "<img" not in article.body_html  # raw HTML is text: "&lt;img …&gt;"
    assert "href" not in article.body_html
    assert "<strong>bold</strong>" in article.body_html
    assert "alert(1)" in article.body_text  # shown as text, searchable as text


def test_uploaded_images_are_referenced_by_name():
    html = markdown_to_html(
        "![Screen](screen.png) ![Far](https://tracker.example/x.png)", ["screen.png"]
    )
    assert 'src="cid:screen.png"' in html
    assert "tracker.example" not in html  # remote images would tell who reads


def test_bad_input_is_refused_and_nothing_is_written(writer):
    for data, field in [
        (knowledge.ArticleData(title="", body_markdown="x", language="en"), "title"),
        (knowledge.ArticleData(title="x" * 201, body_markdown="x", language="en"), "title"),
        (knowledge.ArticleData(title="x", body_markdown="x", language="de"), "language"),
        (
            knowledge.ArticleData(title="x", body_markdown="x", language="en", status="gone"),
            "status",
        ),
        (
            knowledge.ArticleData(title="x", body_markdown="x", language="en", category_id=99),
            "category_id",
        ),
    ]:
        with pytest.raises(ValidationError) as error:
            knowledge.create_article(writer, data)
        assert field in error.value.field_errors
    assert knowledge.desk_articles(writer) == []


def test_only_staff_write_and_customers_read_only_published_public(writer, customer):
    from flask_helpdesk.services.identity import sync_contact

    visitor = Actor(perspective="customer", contact=sync_contact(customer))
    with pytest.raises(Forbidden):
        write(visitor, "Mine")
    draft = write(writer, "Draft", status=ArticleStatus.DRAFT)
    internal = write(writer, "Internal", visibility="internal")
    public = write(writer, "Public")
    for reader in (visitor, None):
        with pytest.raises(NotFound):
            knowledge.find_article(reader, draft.id)
        with pytest.raises(NotFound):
            knowledge.article_by_slug(reader, "en", internal.slug)
        assert knowledge.find_article(reader, public.id) == public
        assert knowledge.published_articles(reader, "en") == [public]
    assert knowledge.find_article(writer, draft.id) == draft


def test_helpful_votes_add_up(writer):
    article = write(writer, "Votes")
    knowledge.vote(None, article, True)
    knowledge.vote(None, article, True)
    knowledge.vote(None, article, False)
    session().refresh(article)
    assert (article.helpful_yes, article.helpful_no) == (2, 1)


def test_moving_an_article_into_a_language_its_group_has_is_refused(writer):
    english = write(writer, "Refund policy")
    write(writer, "سیاست بازپرداخت", language="fa", translation_of=english.id)
    data = knowledge.ArticleData(title="Refund policy", body_markdown="", language="fa")
    with pytest.raises(ValidationError) as error:
        knowledge.update_article(writer, english, data)
    assert "language" in error.value.field_errors
    session().refresh(english)
    assert english.language == "en"
