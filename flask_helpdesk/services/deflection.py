"""Deflection: a customer who opened an article the new-ticket form suggested, and then did not
file the ticket, had their question answered by the article.

The view remembers the rows of the articles opened (in the visitor's session) and hands them
over when a ticket is filed in the same session; the rows left without a ticket are the
deflections.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select, update

from ..inputs import parse_id
from ..models import Article, ArticleDeflection, Ticket
from .base import commit, session
from .identity import Actor
from .permissions import can_read_article

# How many opened suggestions one session remembers (older ones count as deflections).
REMEMBERED = 20


def suggestion_opened(actor: Actor | None, article: Article) -> int | None:
    """Record that *article*, suggested while writing a request, was opened; its row id."""
    if not can_read_article(actor, article) or (actor is not None and actor.read_only):
        return None
    row = ArticleDeflection(
        article_id=article.id,
        contact_id=actor.contact.id if actor is not None and actor.contact is not None else None,
    )
    session().add(row)
    commit()
    return row.id


def ticket_filed(opened: Iterable[object], ticket: Ticket) -> None:
    """The request was filed after all: the articles opened before it did not answer it."""
    ids = [i for i in (parse_id(value) for value in opened) if i is not None][:REMEMBERED]
    if not ids:
        return
    session().execute(
        update(ArticleDeflection)
        .where(ArticleDeflection.id.in_(ids), ArticleDeflection.ticket_id.is_(None))
        .values(ticket_id=ticket.id),
        execution_options={"synchronize_session": False},
    )
    commit()


def counts(article_ids: list[int]) -> dict[int, tuple[int, int]]:
    """Per article: (times opened from a suggestion, times no ticket followed)."""
    if not article_ids:
        return {}
    rows = session().execute(
        select(
            ArticleDeflection.article_id,
            func.count(),
            func.count().filter(ArticleDeflection.ticket_id.is_(None)),
        )
        .where(ArticleDeflection.article_id.in_(article_ids))
        .group_by(ArticleDeflection.article_id)
    )
    return {article_id: (opened, deflected) for article_id, opened, deflected in rows}
