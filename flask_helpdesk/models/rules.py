"""Automation rules: a trigger, conditions and ordered actions, kept as data.

The engine (``services/rules.py``) evaluates them; the conditions' schema lives in
``services/rule_conditions.py``. Two small tables make the loop guards hold across processes:
:class:`RuleFiring` (a time rule fires once per ticket and condition window, enforced by a
unique key even with two sweeps at once) and :class:`AutoMail` (automatic mails sent, for the
per-recipient caps).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..i18n import gettext
from .base import HelpdeskModel, utcnow


class Rule(HelpdeskModel):
    """One automation rule. ``position`` is the admin's order: rules run lowest first."""

    __tablename__ = "helpdesk_rule"
    __table_args__ = (Index("ix_helpdesk_rule_active_trigger", "is_active", "trigger", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    # What starts an evaluation: an event name (``ticket_created``, ``status_changed``, ...) or
    # a time trigger (``time_since_customer``, ``time_since_agent``, ``time_in_status``).
    trigger: Mapped[str] = mapped_column(String(40))
    # Time triggers: {"after": N, "unit": "hours" | "working_hours" | "days" | "working_days"}.
    schedule: Mapped[dict[str, Any]] = mapped_column(default=dict)
    conditions: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {} matches every ticket
    actions: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"steps": [...]}, in order
    position: Mapped[int] = mapped_column(default=0)
    is_active: Mapped[bool] = mapped_column(default=False)
    preset: Mapped[str | None] = mapped_column(String(40), unique=True)  # "auto_close", ...
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def steps(self) -> list[dict[str, Any]]:
        return list((self.actions or {}).get("steps", []))

    @property
    def display_name(self) -> str:
        """The name as shown: a preset's (stored in English) in the reader's language, an
        admin's own rule as written."""
        return gettext(self.name) if self.preset else self.name


class RuleFiring(HelpdeskModel):
    """A time rule fired on a ticket for one condition window, named by the instant it counts
    from (the agent's reply of 10:02, the status change of Monday): the unique key is what keeps
    a rule that keeps matching from firing every sweep, even with two sweeps at once."""

    __tablename__ = "helpdesk_rule_firing"
    __table_args__ = (UniqueConstraint("rule_id", "ticket_id", "anchor_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("helpdesk_rule.id", ondelete="CASCADE"))
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("helpdesk_ticket.id", ondelete="CASCADE"), index=True
    )
    anchor_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AutoMail(HelpdeskModel):
    """An automatic mail a rule sent (or queued): the per-recipient caps count these."""

    __tablename__ = "helpdesk_auto_mail"
    __table_args__ = (Index("ix_helpdesk_auto_mail_recipient_created", "recipient", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("helpdesk_ticket.id", ondelete="CASCADE"), index=True
    )
    recipient: Mapped[str] = mapped_column(String(254))
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("helpdesk_rule.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
