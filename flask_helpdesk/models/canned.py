"""Canned replies: text an agent inserts into the reply box instead of typing it again."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import HelpdeskModel, utcnow
from .people import Agent, Department


class CannedReply(HelpdeskModel):
    """A reply template shared by a department, or personal to one agent.

    Exactly one of ``department_id`` and ``owner_agent_id`` is set (the service guarantees it):
    department replies are managed by the department's leads and admins and offered to every
    agent of the department; personal ones only to, and only by, their owner. The body may hold
    placeholders (``{customer_name}``, ``{ticket_code}``, ``{agent_name}``) filled in when the
    reply is inserted.
    """

    __tablename__ = "helpdesk_canned_reply"
    __table_args__ = (
        Index("ix_helpdesk_canned_reply_department_title", "department_id", "title"),
        Index("ix_helpdesk_canned_reply_owner_title", "owner_agent_id", "title"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("helpdesk_department.id", ondelete="CASCADE")
    )
    owner_agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("helpdesk_agent.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    department: Mapped[Department | None] = relationship(lazy="joined")
    owner: Mapped[Agent | None] = relationship(lazy="joined")

    @property
    def is_personal(self) -> bool:
        return self.owner_agent_id is not None
