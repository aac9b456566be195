"""The audit trail: one row for every change a service makes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from .base import HelpdeskModel, utcnow


class AuditEvent(HelpdeskModel):
    __tablename__ = "helpdesk_audit_event"
    __table_args__ = (
        Index("ix_helpdesk_audit_event_ticket_created", "ticket_id", "created_at"),
        # On SQLite only the events an agent made (migration 0037): a customer's or the
        # system's is not written to it; a lookup by agent implies the column is set.
        Index(
            "ix_helpdesk_audit_event_actor_agent_id",
            "actor_agent_id",
            sqlite_where=text("actor_agent_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)  # e.g. "ticket.created"
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("helpdesk_ticket.id", ondelete="SET NULL")
    )
    actor_agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("helpdesk_agent.id", ondelete="SET NULL")
    )
    actor_contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("helpdesk_contact.id", ondelete="SET NULL"), index=True
    )
    ip_address: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
