"""Knowledge-base categories as admins manage them in the desk: rename (per language),
reorder, delete when empty. Creating one is :func:`knowledge.create_category`."""

from __future__ import annotations

from sqlalchemy import func, select

from ..i18n import gettext as _
from ..inputs import parse_id
from ..models import Article, ArticleCategory
from . import audit, knowledge
from .base import NotFound, ValidationError, commit, session
from .identity import Actor
from .permissions import ensure

NAME_MAX, DESCRIPTION_MAX = 120, 500


def get_category(actor: Actor, category_id: int | str | None) -> ArticleCategory:
    ensure(actor, "manage")
    found = session().get(ArticleCategory, parse_id(category_id) or 0)
    if found is None:
        raise NotFound(_("No such category."))
    return found


def article_counts() -> dict[int, int]:
    """Category id -> its articles of any language, status and visibility (one query)."""
    rows = session().execute(
        select(Article.category_id, func.count())
        .where(Article.category_id.is_not(None))
        .group_by(Article.category_id)
    )
    return {category_id: count for category_id, count in rows}


def _texts(values: dict[str, str], limit: int, field: str) -> dict[str, str]:
    languages = set(knowledge.languages())
    # NUL bytes dropped: PostgreSQL stores none (the typed text, kept on the page, too).
    cleaned = {
        k: " ".join((v or "").replace("\x00", "").split())
        for k, v in values.items()
        if k in languages
    }
    too_long = sorted(k for k, v in cleaned.items() if len(v) > limit)
    if too_long:
        message = _("Too long (at most %(max)d characters).", max=limit)
        raise ValidationError(message, {f"{field}_{k}": [message] for k in too_long})
    return {k: v for k, v in cleaned.items() if v}


def create_category(
    actor: Actor, slug: str, names: dict[str, str], descriptions: dict[str, str]
) -> ArticleCategory:
    """A new category, last in the help center's order; names too long are refused (not cut)."""
    ensure(actor, "manage")
    clean_names = _texts(names, NAME_MAX, "name")
    clean_descriptions = _texts(descriptions, DESCRIPTION_MAX, "description")
    return knowledge.create_category(
        actor, slug, clean_names, clean_descriptions, position=next_position()
    )


def update_category(
    actor: Actor, category: ArticleCategory, names: dict[str, str], descriptions: dict[str, str]
) -> ArticleCategory:
    """Rename *category* and change its descriptions, per language (an empty one falls back to
    English on the help center)."""
    ensure(actor, "manage")
    clean_names = _texts(names, NAME_MAX, "name")
    clean_descriptions = _texts(descriptions, DESCRIPTION_MAX, "description")
    if not clean_names:
        message = _("A category needs a name.")
        raise ValidationError(message, {f"name_{knowledge.languages()[0]}": [message]})
    if (clean_names, clean_descriptions) == (category.names, category.descriptions):
        return category
    category.names = clean_names  # new dicts: the JSON columns notice the change
    category.descriptions = clean_descriptions
    audit.record(actor, "kb_category.updated", category_id=category.id, languages=sorted(names))
    commit()
    return category


def move_category(actor: Actor, category: ArticleCategory, step: int) -> ArticleCategory:
    """Move *category* one place earlier (``step=-1``) or later (``1``) in the help center."""
    ensure(actor, "manage")
    ordered = knowledge.categories()
    index = next(i for i, c in enumerate(ordered) if c.id == category.id)
    target = index + (1 if step > 0 else -1)
    if not 0 <= target < len(ordered):
        return category
    ordered[index], ordered[target] = ordered[target], ordered[index]
    for position, each in enumerate(ordered):  # renumbered: equal positions cannot swap
        if each.position != position:
            each.position = position
    audit.record(actor, "kb_category.moved", category_id=category.id, position=target)
    commit()
    return category


def delete_category(actor: Actor, category: ArticleCategory) -> None:
    """Delete an empty category; one with articles (drafts and internal ones count) stays."""
    ensure(actor, "manage")
    if article_counts().get(category.id):
        raise ValidationError(_("This category still has articles: move or delete them first."))
    audit.record(actor, "kb_category.deleted", category_id=category.id, slug=category.slug)
    session().delete(category)
    commit()


def next_position() -> int:
    return (session().scalar(select(func.max(ArticleCategory.position))) or 0) + 1
