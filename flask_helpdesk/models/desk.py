"""What the agent desk keeps besides tickets: saved queue views and who is looking at a ticket."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import HelpdeskModel, utcnow
from .people import Agent


class SavedView(HelpdeskModel):
    """An agent's own named queue filter ("My open" and "Unassigned" are built in, not rows).

    ``query`` is the queue's normalized URL query string, so a saved view is exactly the page the
    agent saw and survives new filter fields (unknown keys are ignored when parsed).
    """

    __tablename__ = "helpdesk_saved_view"
    __table_args__ = (Index("ix_helpdesk_saved_view_agent_position", "agent_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("helpdesk_agent.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(80))
    query: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TicketViewer(HelpdeskModel):
    """Lightweight presence: an agent had a ticket open at ``last_seen_at`` (polled, upserted).

    A row per (ticket, agent) rather than Redis keys so the collision warning works on the
    embedded default (SQLite, no Redis) exactly as at scale.
    """

    __tablename__ = "helpdesk_ticket_viewer"
    __table_args__ = (Index("ix_helpdesk_ticket_viewer_seen", "ticket_id", "last_seen_at"),)

    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("helpdesk_ticket.id", ondelete="CASCADE"), primary_key=True
    )
    agent_id: Mapped[int] = mapped_column(
        ForeignKey("helpdesk_agent.id", ondelete="CASCADE"), primary_key=True
    )
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)

    agent: Mapped[Agent] = relationship()
