"""The knowledge base: articles in categories, per language, and what customers do with them.

An article is one text in one language; its translations share a ``translation_group`` (one
article per language in a group). Agents write Markdown; the sanitized HTML and the plain text
(which the full-text index reads, see ``knowledge_search.py``) are stored beside it when it is
saved, so a page view never renders Markdown.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..i18n import lazy_gettext as _l
from .base import EnumText, HelpdeskModel, utcnow
from .people import Agent, Contact, Department
from .ticket import Ticket


class ArticleStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"

    @property
    def label(self) -> str:
        return _l("Published") if self is ArticleStatus.PUBLISHED else _l("Draft")


class ArticleVisibility(StrEnum):
    PUBLIC = "public"  # the help center, for customers (and visitors, if the host allows)
    INTERNAL = "internal"  # agents only, in the desk

    @property
    def label(self) -> str:
        return _l("Public") if self is ArticleVisibility.PUBLIC else _l("Internal (agents only)")


class ArticleCategory(HelpdeskModel):
    """A section of the help center. Names per language (``{"en": ..., "vi": ...}``)."""

    __tablename__ = "helpdesk_kb_category"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    names: Mapped[dict[str, Any]] = mapped_column(default=dict)
    descriptions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def name_in(self, language: str) -> str:
        return self.names.get(language) or self.names.get("en") or self.slug

    def description_in(self, language: str) -> str:
        return self.descriptions.get(language) or ""


class Article(HelpdeskModel):
    __tablename__ = "helpdesk_kb_article"
    __table_args__ = (
        UniqueConstraint("language", "slug"),
        UniqueConstraint("translation_group", "language"),
        # The help center's lists: a language's published public articles of a category.
        Index("ix_helpdesk_kb_article_listing", "language", "status", "visibility", "category_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("helpdesk_kb_category.id", ondelete="SET NULL")
    )
    language: Mapped[str] = mapped_column(String(16))
    translation_group: Mapped[str] = mapped_column(String(32), index=True)
    slug: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(200))
    body_markdown: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")  # sanitized when saved
    body_text: Mapped[str] = mapped_column(Text, default="")  # what full-text search reads
    status: Mapped[ArticleStatus] = mapped_column(
        EnumText(ArticleStatus), default=ArticleStatus.DRAFT
    )
    visibility: Mapped[ArticleVisibility] = mapped_column(
        EnumText(ArticleVisibility), default=ArticleVisibility.PUBLIC
    )
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("helpdesk_agent.id", ondelete="SET NULL")
    )
    helpful_yes: Mapped[int] = mapped_column(default=0)
    helpful_no: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None]

    category: Mapped[ArticleCategory | None] = relationship(lazy="joined")
    author: Mapped[Agent | None] = relationship()
    files: Mapped[list[ArticleFile]] = relationship(
        back_populates="article", order_by="ArticleFile.id", cascade="all, delete-orphan"
    )

    @property
    def is_public(self) -> bool:
        return (
            self.status is ArticleStatus.PUBLISHED and self.visibility is ArticleVisibility.PUBLIC
        )


class ArticleRevision(HelpdeskModel):
    """The text of an article as one save left it; the newest is the current text."""

    __tablename__ = "helpdesk_kb_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("helpdesk_kb_article.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    body_markdown: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("helpdesk_agent.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    author: Mapped[Agent | None] = relationship(lazy="joined")


class ArticleFile(HelpdeskModel):
    """An image or file of an article, stored by content hash like ticket attachments."""

    __tablename__ = "helpdesk_kb_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("helpdesk_kb_article.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(127))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    article: Mapped[Article] = relationship(back_populates="files")


class ArticleDeflection(HelpdeskModel):
    """A customer opened an article the new-ticket form suggested.

    ``ticket_id`` is set if they filed a ticket afterwards in the same session; a row without
    one is a request the article answered (a deflection).
    """

    __tablename__ = "helpdesk_kb_deflection"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("helpdesk_kb_article.id", ondelete="CASCADE"), index=True
    )
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("helpdesk_contact.id", ondelete="SET NULL")
    )
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("helpdesk_ticket.id", ondelete="SET NULL")
    )
    opened_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    contact: Mapped[Contact | None] = relationship()
    ticket: Mapped[Ticket | None] = relationship()


class ContactRequest(HelpdeskModel):
    """A message sent through the help center's contact form by someone not logged in.

    Kept here until the sender confirms their address through the signed link mailed to them;
    the ticket is opened then (``ticket_id``), or at once when the host accepts unverified
    requests.
    """

    __tablename__ = "helpdesk_contact_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254), index=True)
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("helpdesk_department.id", ondelete="SET NULL")
    )
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(16))
    ip_address: Mapped[str | None] = mapped_column(String(45), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    confirmed_at: Mapped[datetime | None]
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("helpdesk_ticket.id", ondelete="SET NULL")
    )

    department: Mapped[Department | None] = relationship()
    ticket: Mapped[Ticket | None] = relationship()
