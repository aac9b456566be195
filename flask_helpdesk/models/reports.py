"""Facts for reports, recorded when they happen, and the customer's rating of single replies.

A report never replays a ticket's history: every service that changes what a report counts
writes one :class:`TicketFact` row in the same transaction as the change (services/facts.py),
carrying the ticket's department, assignee, channel and priority of that moment and, for the
timed facts, the wall-clock and working seconds (the SLA clock, businesstime.py). Reports are
plain aggregates over these rows, filtered by ``at``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import EnumInt, EnumText, HelpdeskModel, utcnow
from .enums import Channel, Priority


class FactKind(StrEnum):
    CREATED = "created"  # backlog +1
    FIRST_RESPONSE = "first_response"  # wall/work seconds since creation; met = within target
    REPLY = "reply"  # each public agent reply; seconds since the customer began to wait
    RESOLVED = "resolved"  # closed: backlog -1; seconds since creation; met = within target
    REOPENED = "reopened"  # a closed ticket came back: backlog +1
    SPAM = "spam"  # marked spam while in the backlog: backlog -1
    RESTORED = "restored"  # taken out of spam: backlog +1
    MOVED_OUT = "moved_out"  # transferred away while in the backlog: -1 for the old department
    MOVED_IN = "moved_in"  # ... and +1 for the new one
    BREACHED = "breached"  # the escalation sweep found a target missed (``target`` says which)
    RATED = "rated"  # a customer's rating: 1–5 stars after close, or good/bad on one reply


class TicketFact(HelpdeskModel):
    """One thing that happened to a ticket, as reports count it."""

    __tablename__ = "helpdesk_ticket_fact"
    __table_args__ = (
        # Every report filters a period of one kind; the department and agent scopes add theirs.
        Index("ix_helpdesk_ticket_fact_kind_at", "kind", "at"),
        Index("ix_helpdesk_ticket_fact_department", "department_id", "kind", "at"),
        Index("ix_helpdesk_ticket_fact_assignee", "assignee_id", "kind", "at"),
        # The backlog before a period: the sum of the deltas up to its start.
        Index("ix_helpdesk_ticket_fact_backlog", "at", "backlog_delta"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("helpdesk_ticket.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[FactKind] = mapped_column(EnumText(FactKind))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    # The ticket as it was when this happened (no foreign keys: a report outlives a department).
    department_id: Mapped[int]
    assignee_id: Mapped[int | None]
    channel: Mapped[Channel] = mapped_column(EnumText(Channel))
    priority: Mapped[Priority] = mapped_column(EnumInt(Priority))
    # Who acted: the agent of a reply, a close or a reopen (None: customer or system).
    agent_id: Mapped[int | None]
    wall_seconds: Mapped[int | None]
    work_seconds: Mapped[int | None]
    # Within the SLA target (None: no target applied); breaches say which target.
    met: Mapped[bool | None]
    target: Mapped[str | None] = mapped_column(String(20))
    backlog_delta: Mapped[int] = mapped_column(SmallInteger, default=0)
    # Ratings: good or not (stars 4–5 are good), the stars when given, the reply rated.
    good: Mapped[bool | None]
    stars: Mapped[int | None] = mapped_column(SmallInteger)
    message_id: Mapped[int | None]


class ReplyRating(HelpdeskModel):
    """The customer's good/bad on one agent reply (seed 004), changeable until the ticket
    closes; its fact row follows every change."""

    __tablename__ = "helpdesk_reply_rating"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("helpdesk_message.id", ondelete="CASCADE"), unique=True
    )
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("helpdesk_ticket.id", ondelete="CASCADE"), index=True
    )
    good: Mapped[bool]
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
