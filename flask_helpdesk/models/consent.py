"""Account access with the customer's consent (DESIGN §5): grants and what was done with them.

An :class:`AccessGrant` is asked for by one agent, on one ticket, for that ticket's customer, with
one scope; only that customer can accept it. :class:`ImpersonationLog` keeps one row for every
request the agent made while acting as the customer, and the customer can read it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..i18n import lazy_gettext as _l
from .base import EnumText, HelpdeskModel, utcnow
from .people import Agent, Contact
from .ticket import Ticket


class GrantScope(StrEnum):
    VIEW = "view"  # look only: every unsafe HTTP method is refused
    ACT = "act"  # act as the customer (except endpoints marked never-impersonated)

    @property
    def label(self) -> str:
        return {"view": _l("View only"), "act": _l("Act as you")}[self]

    @property
    def desk_label(self) -> str:
        """The same scope in the agent's words (``label`` speaks to the customer)."""
        return {"view": _l("View only"), "act": _l("Act as the customer")}[self]


class GrantStatus(StrEnum):
    REQUESTED = "requested"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    REVOKED = "revoked"
    EXPIRED = "expired"

    @property
    def label(self) -> str:
        return {
            "requested": _l("Waiting for your answer"),
            "accepted": _l("Accepted"),
            "declined": _l("Declined"),
            "revoked": _l("Revoked"),
            "expired": _l("Expired"),
        }[self]

    @property
    def desk_label(self) -> str:
        """The status in the agent's words (``label`` speaks to the customer)."""
        if self is GrantStatus.REQUESTED:
            return _l("Waiting for the customer's answer")
        return self.label


class AccessGrant(HelpdeskModel):
    """One agent's request for access to one customer's account, and the customer's answer."""

    __tablename__ = "helpdesk_access_grant"
    __table_args__ = (
        Index("ix_helpdesk_access_grant_ticket_requested", "ticket_id", "requested_at"),
        Index("ix_helpdesk_access_grant_contact_status", "contact_id", "status"),
        Index("ix_helpdesk_access_grant_agent_status", "agent_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("helpdesk_ticket.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("helpdesk_contact.id", ondelete="CASCADE"))
    agent_id: Mapped[int] = mapped_column(ForeignKey("helpdesk_agent.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(Text)
    scope: Mapped[GrantScope] = mapped_column(EnumText(GrantScope, 8))
    duration_seconds: Mapped[int]
    status: Mapped[GrantStatus] = mapped_column(
        EnumText(GrantStatus, 16), default=GrantStatus.REQUESTED
    )
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]  # set on accept: decided_at + duration
    revoked_at: Mapped[datetime | None]

    ticket: Mapped[Ticket] = relationship()
    contact: Mapped[Contact] = relationship()
    agent: Mapped[Agent] = relationship()

    @property
    def duration(self) -> timedelta:
        return timedelta(seconds=self.duration_seconds)

    @property
    def is_pending(self) -> bool:
        return self.status == GrantStatus.REQUESTED

    def current_status(self, now: datetime | None = None) -> GrantStatus:
        """The status as of *now*: an accepted grant past its expiry reads as expired."""
        if self.status == GrantStatus.ACCEPTED and not self.is_usable(now):
            return GrantStatus.EXPIRED
        return self.status

    def is_usable(self, now: datetime | None = None) -> bool:
        """Accepted, not revoked and not past its expiry: the agent may act now."""
        now = now or utcnow()
        return (
            self.status == GrantStatus.ACCEPTED
            and self.expires_at is not None
            and self.expires_at > now
        )


class ImpersonationLog(HelpdeskModel):
    """One request made by an agent while acting as the customer (no query string kept)."""

    __tablename__ = "helpdesk_impersonation_log"
    __table_args__ = (
        Index("ix_helpdesk_impersonation_log_grant_created", "grant_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    grant_id: Mapped[int] = mapped_column(
        ForeignKey("helpdesk_access_grant.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(2048))
    status_code: Mapped[int]
    endpoint: Mapped[str | None] = mapped_column(String(255))
