"""What the spam filter has learned, and the house rules admins switch on.

The filter's knowledge is counts: per token, how many spam and how many good ("ham") tickets
contained it, plus the number of tickets of each kind. Each ticket an agent marked keeps the
tokens it was trained with, so that undoing the mark subtracts exactly what was added (the
ticket's text may have changed since).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import HelpdeskModel, utcnow

SPAM = "spam"
HAM = "ham"


class SpamToken(HelpdeskModel):
    """Number of spam and ham tickets a token appeared in (rows at 0/0 are deleted)."""

    __tablename__ = "helpdesk_spam_token"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    spam_count: Mapped[int] = mapped_column(default=0, server_default="0")
    ham_count: Mapped[int] = mapped_column(default=0, server_default="0")


class SpamTotals(HelpdeskModel):
    """How many tickets each side was trained with (one row, id 1)."""

    __tablename__ = "helpdesk_spam_totals"

    id: Mapped[int] = mapped_column(primary_key=True)
    spam_count: Mapped[int] = mapped_column(default=0, server_default="0")
    ham_count: Mapped[int] = mapped_column(default=0, server_default="0")


class SpamTraining(HelpdeskModel):
    """What one ticket taught the filter: its label and its tokens.

    ``previous`` is the label it had before the current one (an agent marked spam a ticket
    earlier confirmed good), so undoing the mark restores exactly that.
    """

    __tablename__ = "helpdesk_spam_training"

    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("helpdesk_ticket.id", ondelete="CASCADE"), primary_key=True
    )
    label: Mapped[str] = mapped_column(String(8))
    previous: Mapped[str | None] = mapped_column(String(8))
    tokens: Mapped[list[str]] = mapped_column(JSON, default=list)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("helpdesk_agent.id"))
    trained_at: Mapped[datetime] = mapped_column(default=utcnow)


class HouseRule(HelpdeskModel):
    """A preset an admin switches on (wrong language, duplicates, abuse) and its settings."""

    __tablename__ = "helpdesk_house_rule"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    enabled: Mapped[bool] = mapped_column(default=False)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
