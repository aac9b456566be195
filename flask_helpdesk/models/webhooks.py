"""Outgoing webhooks: endpoints a host configures and the outbox of deliveries to them.

A delivery row is written in the same transaction as the change it reports (one INSERT ... SELECT
over the subscribed endpoints), so a change is never reported without happening or the reverse;
the worker sends it later. The row is the truth: a sweep re-sends whatever is due.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import HelpdeskModel, utcnow


class WebhookEndpoint(HelpdeskModel):
    __tablename__ = "helpdesk_webhook_endpoint"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    # Space-separated event names with spaces around (" ticket.created message.created "), or
    # " * " for all: one LIKE in the outbox's INSERT ... SELECT picks the subscribers.
    events: Mapped[str] = mapped_column(String(1000), default=" * ")
    secret: Mapped[str] = mapped_column(String(100))  # whsec_<base64>, the signing key
    description: Mapped[str] = mapped_column(String(200), default="")
    is_active: Mapped[bool] = mapped_column(default=True)
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    # First failure of the current run (None while the last attempt succeeded): auto-disable
    # needs a run that is long in time as well as in count, so a burst of events during a short
    # outage does not switch a healthy receiver off.
    failing_since: Mapped[datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def event_list(self) -> list[str]:
        return self.events.split()


class WebhookDelivery(HelpdeskModel):
    """One event for one endpoint; every retry sends the same ``msg_id`` (receivers dedupe)."""

    __tablename__ = "helpdesk_webhook_delivery"
    __table_args__ = (
        # The sweep: pending deliveries whose next attempt is due.
        Index("ix_helpdesk_webhook_delivery_due", "status", "next_attempt_at"),
        Index("ix_helpdesk_webhook_delivery_endpoint", "endpoint_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("helpdesk_webhook_endpoint.id", ondelete="CASCADE")
    )
    msg_id: Mapped[str] = mapped_column(String(40))
    event: Mapped[str] = mapped_column(String(60))
    payload: Mapped[str] = mapped_column(Text)  # the exact JSON body signed and sent
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending/delivered/failed
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_attempt_at: Mapped[datetime | None]
    response_status: Mapped[int | None]
    response_body: Mapped[str | None] = mapped_column(String(2000))  # truncated
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    endpoint: Mapped[WebhookEndpoint] = relationship()
