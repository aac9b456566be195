"""The knowledge base: categories, articles and their translations, revisions, files, votes.

Agents write articles in Markdown (rendered and sanitized here on every save, sanitized again
when shown); each save that changes the text keeps a revision. An article is one language; a
translation joins the *translation group* of the article it translates, one article per
language. Slugs are unique per language and keep the title's own script.

Who may do what is asked of :mod:`.permissions`: agents write, admins manage categories,
everyone else reads published public articles only, and what they may not read is "not found".
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, update

from ..i18n import gettext as _
from ..inputs import parse_id
from ..models import (
    Article,
    ArticleCategory,
    ArticleFile,
    ArticleRevision,
    ArticleStatus,
    ArticleVisibility,
    Message,
    utcnow,
)
from ..richtext import html_to_text, markdown_to_html, slugify
from ..state import current_helpdesk
from . import audit
from .attachments import Upload, store_uploads
from .base import Forbidden, NotFound, ValidationError, commit, session
from .identity import Actor
from .permissions import can_read_article, can_write_articles, ensure, visible_articles

TITLE_MAX = 200
BODY_MAX = 100_000
CATEGORY_SLUG_MAX = 80


@dataclass
class ArticleData:
    """What the editor (or a test, or an import) sends to create or change an article."""

    title: str
    body_markdown: str
    language: str
    category_id: int | str | None = None
    status: ArticleStatus | str = ArticleStatus.DRAFT
    visibility: ArticleVisibility | str = ArticleVisibility.PUBLIC
    slug: str = ""  # empty: made from the title
    translation_of: int | str | None = None  # the article this one translates (new ones only)


def _writer(actor: Actor) -> None:
    if not can_write_articles(actor):
        raise Forbidden(_("Only support staff can do this."))


# -- categories ---------------------------------------------------------------------------------
def categories() -> list[ArticleCategory]:
    return list(
        session().scalars(
            select(ArticleCategory).order_by(ArticleCategory.position, ArticleCategory.id)
        )
    )


def create_category(
    actor: Actor,
    slug: str,
    names: dict[str, str],
    descriptions: dict[str, str] | None = None,
    position: int = 0,
) -> ArticleCategory:
    ensure(actor, "manage")
    clean_slug = slugify(slug or names.get("en", ""))[:CATEGORY_SLUG_MAX]
    clean_names = {k: v.strip()[:120] for k, v in names.items() if v and v.strip()}
    if not clean_slug or not clean_names:
        raise ValidationError(_("A category needs a name."), {"names": [_("Required.")]})
    exists = session().scalar(select(ArticleCategory.id).where(ArticleCategory.slug == clean_slug))
    if exists is not None:
        raise ValidationError(
            _("This address is taken."), {"slug": [_("Another category uses it.")]}
        )
    category = ArticleCategory(
        slug=clean_slug,
        names=clean_names,
        descriptions={k: v.strip()[:500] for k, v in (descriptions or {}).items() if v},
        position=position,
    )
    session().add(category)
    session().flush()
    audit.record(actor, "kb_category.created", category_id=category.id, slug=clean_slug)
    commit()
    return category


def find_category(slug: str) -> ArticleCategory:
    if "\x00" in slug:  # no slug holds one, and PostgreSQL refuses a NUL in a parameter
        raise NotFound(_("No such category."))
    category = session().scalar(select(ArticleCategory).where(ArticleCategory.slug == slug))
    if category is None:
        raise NotFound(_("No such category."))
    return category


# -- reading ------------------------------------------------------------------------------------
def languages() -> tuple[str, ...]:
    return tuple(current_helpdesk.config["HELPDESK_LANGUAGES"])


def find_article(actor: Actor | None, article_id: int | str) -> Article:
    """Article *article_id* if *actor* may read it; :class:`NotFound` otherwise."""
    found = session().get(Article, parse_id(article_id) or 0)
    if found is None or not can_read_article(actor, found):
        raise NotFound(_("No such article."))
    return found


def article_by_slug(actor: Actor | None, language: str, slug: str) -> Article:
    if "\x00" in language or "\x00" in slug:  # as find_category: none has one; PostgreSQL
        raise NotFound(_("No such article."))  # would refuse the parameter (a 500, not a 404)
    found = session().scalar(
        select(Article).where(
            Article.language == language, Article.slug == slug, visible_articles(actor)
        )
    )
    if found is None:
        raise NotFound(_("No such article."))
    return found


def published_articles(
    actor: Actor | None, language: str, category_id: int | None = None, limit: int = 200
) -> list[Article]:
    """The articles of *language* the help center lists (of one category, or all), by title."""
    query = select(Article).where(
        Article.language == language,
        Article.status == ArticleStatus.PUBLISHED,
        visible_articles(actor),
    )
    if category_id is not None:
        query = query.where(Article.category_id == category_id)
    return list(session().scalars(query.order_by(Article.title).limit(limit)))


def article_counts(actor: Actor | None, language: str) -> dict[int | None, int]:
    """How many published articles of *language* each category has (the help center's home)."""
    rows = session().execute(
        select(Article.category_id, func.count())
        .where(
            Article.language == language,
            Article.status == ArticleStatus.PUBLISHED,
            visible_articles(actor),
        )
        .group_by(Article.category_id)
    )
    return {category_id: count for category_id, count in rows}


def desk_articles(
    actor: Actor, language: str | None = None, status: str | None = None, limit: int = 500
) -> list[Article]:
    """The desk's list of articles (drafts too), newest change first."""
    _writer(actor)
    query = select(Article)
    if language in languages():  # anything else (a typo, a NUL byte) filters nothing
        query = query.where(Article.language == language)
    if status in {s.value for s in ArticleStatus}:
        query = query.where(Article.status == status)
    return list(session().scalars(query.order_by(Article.updated_at.desc()).limit(limit)))


def translations(actor: Actor | None, article: Article) -> list[Article]:
    """The other languages' versions of *article* that *actor* may read."""
    return list(
        session().scalars(
            select(Article)
            .where(
                Article.translation_group == article.translation_group,
                Article.id != article.id,
                visible_articles(actor),
            )
            .order_by(Article.language)
        )
    )


def revisions(actor: Actor, article: Article) -> list[ArticleRevision]:
    _writer(actor)
    return list(
        session().scalars(
            select(ArticleRevision)
            .where(ArticleRevision.article_id == article.id)
            .order_by(ArticleRevision.id.desc())
        )
    )


# -- writing ------------------------------------------------------------------------------------
def _clean(data: ArticleData) -> tuple[str, str, str]:
    title = " ".join((data.title or "").split())
    body = (data.body_markdown or "").replace("\r\n", "\n").strip()
    errors: dict[str, list[str]] = {}
    if not title:
        errors["title"] = [_("Required.")]
    elif len(title) > TITLE_MAX:
        errors["title"] = [_("At most %(n)d characters.", n=TITLE_MAX)]
    if len(body) > BODY_MAX:
        errors["body_markdown"] = [_("At most %(n)d characters.", n=BODY_MAX)]
    if data.language not in languages():
        errors["language"] = [_("Not a language of this help center.")]
    if errors:
        raise ValidationError(_("Please correct the marked fields."), errors)
    return title, body, data.language


def _choice(value: object, enum: type, field: str) -> object:
    try:
        return enum(value)
    except ValueError:
        raise ValidationError(
            _("Please correct the marked fields."), {field: [_("Unknown.")]}
        ) from None


def _category_id(value: int | str | None) -> int | None:
    if value in (None, "", 0, "0"):
        return None
    category = session().get(ArticleCategory, parse_id(value) or 0)
    if category is None:
        raise ValidationError(
            _("Please correct the marked fields."), {"category_id": [_("No such category.")]}
        )
    return category.id


def _unique_slug(language: str, wanted: str, title: str, article_id: int | None) -> str:
    """*wanted* (or the title's slug) made unique in *language*: ``-2``, ``-3``… if taken."""
    base = slugify(wanted) or slugify(title) or "article"
    taken = set(
        session().scalars(
            select(Article.slug).where(
                Article.language == language,
                Article.slug.startswith(base, autoescape=True),
                Article.id != (article_id or 0),
            )
        )
    )
    slug, number = base, 1
    while slug in taken:
        number += 1
        slug = f"{base}-{number}"
    return slug


def _translation_group(value: int | str | None, language: str) -> str:
    if value in (None, ""):
        return uuid.uuid4().hex
    original = session().get(Article, parse_id(value) or 0)
    if original is None:
        raise ValidationError(
            _("Please correct the marked fields."), {"translation_of": [_("No such article.")]}
        )
    _language_free(original.translation_group, language)
    return original.translation_group


def _language_free(group: str, language: str) -> None:
    """Refuse a second article of *language* in translation group *group*."""
    clash = session().scalar(
        select(Article.id).where(Article.translation_group == group, Article.language == language)
    )
    if clash is not None:
        raise ValidationError(
            _("This article already has a translation in that language."),
            {"language": [_("Already translated into this language.")]},
        )


def _render(article: Article) -> None:
    article.body_html = markdown_to_html(article.body_markdown, [f.filename for f in article.files])
    article.body_text = html_to_text(article.body_html)


def _attach(article: Article, uploads: Sequence[Upload]) -> None:
    for stored in store_uploads(list(uploads), field="files"):
        article.files.append(
            ArticleFile(
                filename=stored.filename,
                content_type=stored.content_type,
                size=stored.size,
                sha256=stored.sha256,
            )
        )


def create_article(actor: Actor, data: ArticleData, uploads: Sequence[Upload] = ()) -> Article:
    _writer(actor)
    title, body, language = _clean(data)
    status = _choice(data.status, ArticleStatus, "status")
    article = Article(
        title=title,
        body_markdown=body,
        language=language,
        category_id=_category_id(data.category_id),
        status=status,
        visibility=_choice(data.visibility, ArticleVisibility, "visibility"),
        translation_group=_translation_group(data.translation_of, language),
        slug=_unique_slug(language, data.slug, title, None),
        author_id=actor.agent.id if actor.agent is not None else None,
        published_at=utcnow() if status is ArticleStatus.PUBLISHED else None,
        files=[],
    )
    _attach(article, uploads)
    _render(article)
    session().add(article)
    session().flush()
    _revision(actor, article)
    audit.record(actor, "kb_article.created", article_id=article.id, title=title)
    commit()
    return article


def update_article(
    actor: Actor, article: Article, data: ArticleData, uploads: Sequence[Upload] = ()
) -> Article:
    """Save the editor's changes; a changed title or text keeps a revision."""
    _writer(actor)
    title, body, language = _clean(data)
    if language != article.language:
        _language_free(article.translation_group, language)
    status = _choice(data.status, ArticleStatus, "status")
    text_changed = (title, body) != (article.title, article.body_markdown)
    if status is ArticleStatus.PUBLISHED and article.published_at is None:
        article.published_at = utcnow()
    slug = data.slug.strip() or article.slug
    if slug != article.slug or language != article.language:
        article.slug = _unique_slug(language, slug, title, article.id)
    article.title, article.body_markdown, article.language = title, body, language
    article.category_id = _category_id(data.category_id)
    article.status = status
    article.visibility = _choice(data.visibility, ArticleVisibility, "visibility")
    _attach(article, uploads)
    _render(article)
    article.updated_at = utcnow()
    if text_changed:
        _revision(actor, article)
    audit.record(actor, "kb_article.updated", article_id=article.id, status=status)
    commit()
    return article


def _revision(actor: Actor, article: Article) -> None:
    session().add(
        ArticleRevision(
            article_id=article.id,
            title=article.title,
            body_markdown=article.body_markdown,
            author_id=actor.agent.id if actor.agent is not None else None,
        )
    )


def delete_article(actor: Actor, article: Article) -> None:
    _writer(actor)
    audit.record(actor, "kb_article.deleted", article_id=article.id, title=article.title)
    session().delete(article)
    commit()


def remove_file(actor: Actor, article: Article, file_id: int | str) -> None:
    _writer(actor)
    file = next((f for f in article.files if f.id == parse_id(file_id)), None)
    if file is None:
        raise NotFound(_("File not found."))
    article.files.remove(file)
    _render(article)
    audit.record(actor, "kb_article.file_removed", article_id=article.id, filename=file.filename)
    commit()


def find_file(actor: Actor | None, article: Article, file_id: int | str) -> ArticleFile:
    """A file of *article*, which *actor* may read (checked by the caller's find)."""
    if not can_read_article(actor, article):
        raise NotFound(_("File not found."))
    file = next((f for f in article.files if f.id == parse_id(file_id)), None)
    if file is None:
        raise NotFound(_("File not found."))
    return file


def vote(actor: Actor | None, article: Article, helpful: bool) -> None:
    """Count one "was this helpful?" answer (the views let a browser answer once)."""
    if not can_read_article(actor, article):
        raise NotFound(_("No such article."))
    if actor is not None and actor.read_only:
        # An agent looking through a view-only grant writes nothing for the customer.
        raise Forbidden(_("Only support staff can do this."))
    column = Article.helpful_yes if helpful else Article.helpful_no
    # One UPDATE adding one: two visitors answering at once both count.
    session().execute(
        update(Article).where(Article.id == article.id).values({column: column + 1}),
        execution_options={"synchronize_session": False},
    )
    commit()


def draft_from_message(actor: Actor, message: Message, language: str) -> Article:
    """A draft article from an agent's reply (the desk's "turn into article")."""
    _writer(actor)
    ensure(actor, "view", message.ticket)
    title = message.ticket.subject or _("Untitled article")
    return create_article(
        actor,
        ArticleData(
            title=title[:TITLE_MAX],
            body_markdown=message.body,
            language=language if language in languages() else languages()[0],
            status=ArticleStatus.DRAFT,
        ),
    )
