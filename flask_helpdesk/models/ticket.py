"""Tickets and what hangs off them: messages, attachments, ratings, tags."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import EnumInt, EnumText, HelpdeskModel, utcnow
from .enums import Channel, MessageKind, Priority, TicketStatus
from .people import Agent, Contact, Department

if TYPE_CHECKING:
    from .consent import AccessGrant
    from .desk import TicketViewer
    from .mail import InboundMail

ticket_tag = Table(
    "helpdesk_ticket_tag",
    HelpdeskModel.metadata,
    Column("ticket_id", ForeignKey("helpdesk_ticket.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("helpdesk_tag.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_helpdesk_ticket_tag_tag_id", "tag_id"),
)

# The shape of ``Ticket.code`` (``HD-4F7K2Q``; services/codes.py makes them). Crockford-like:
# no 0/O or 1/I to misread when a customer reads a code over the phone.
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_LENGTH = 6


class Tag(HelpdeskModel):
    __tablename__ = "helpdesk_tag"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)


# A customer wrote after the agents last looked (``Ticket.unread_for_agents`` in SQL).
UNREAD_FOR_AGENTS = (
    "last_customer_reply_at IS NOT NULL"
    " AND (agent_seen_at IS NULL OR last_customer_reply_at > agent_seen_at)"
)


class Ticket(HelpdeskModel):
    """One support request. ``code`` is the only identifier a customer ever sees."""

    __tablename__ = "helpdesk_ticket"
    __table_args__ = (
        # The customer's "my tickets" list, newest activity first.
        Index("ix_helpdesk_ticket_requester_updated", "requester_id", "updated_at", "id"),
        # Queue lists: by status, by department and status, by assignee and status.
        Index("ix_helpdesk_ticket_status_updated", "status", "updated_at", "id"),
        Index("ix_helpdesk_ticket_department_status", "department_id", "status", "updated_at"),
        Index("ix_helpdesk_ticket_assignee_status", "assignee_id", "status", "updated_at"),
        Index("ix_helpdesk_ticket_created", "created_at", "id"),
        # Desk queue: the unfiltered list by activity, and the "priority" sort / filter.
        Index("ix_helpdesk_ticket_updated", "updated_at", "id"),
        Index("ix_helpdesk_ticket_priority_updated", "priority", "updated_at", "id"),
        # "Unassigned", "My open", "assigned to X" in activity order (migration 0007).
        Index("ix_helpdesk_ticket_assignee_updated", "assignee_id", "updated_at", "id"),
        # On SQLite, the indexes below whose first column (or the one the queries filter on)
        # is NULL for many new tickets hold only the rows where it is set (migration 0037):
        # every query using them says ``IS NOT NULL`` or compares the column, which SQLite
        # knows implies it. A customer's new ticket without an SLA policy is written to none
        # of them: each index a commit touches is a page or more in SQLite's write-ahead log.
        # The SLA sweep's batch and the queue's "due" sort (migration 0016).
        Index(
            "ix_helpdesk_ticket_sla_due",
            "sla_due_at",
            "id",
            sqlite_where=text("sla_due_at IS NOT NULL"),
        ),
        # The escalation sweep's batch: tickets whose next warning or breach instant has come.
        Index(
            "ix_helpdesk_ticket_sla_check",
            "sla_check_at",
            "id",
            sqlite_where=text("sla_check_at IS NOT NULL"),
        ),
        # Time rules' sweeps: "N hours since the last customer/agent message", "N days in status".
        Index(
            "ix_helpdesk_ticket_status_last_agent",
            "status",
            "last_agent_reply_at",
            sqlite_where=text("last_agent_reply_at IS NOT NULL"),
        ),
        Index(
            "ix_helpdesk_ticket_status_last_customer",
            "status",
            "last_customer_reply_at",
            sqlite_where=text("last_customer_reply_at IS NOT NULL"),
        ),
        Index("ix_helpdesk_ticket_status_changed", "status", "status_changed_at"),
        # The queue's "created by agent X" filter (a customer's ticket has no creating agent).
        Index(
            "ix_helpdesk_ticket_creator_agent_id",
            "creator_agent_id",
            sqlite_where=text("creator_agent_id IS NOT NULL"),
        ),
        # The queue's "unread customer reply" filter and its count, both databases (migration
        # 0038): only the tickets with a customer message no agent has seen, in activity
        # order. Its condition is the filter's (services/queues.py), word for word, so the
        # planners know the filter implies it; no other index holds it (it compares two
        # columns), and the count read every visible ticket (419 ms at 1,000,000 on SQLite).
        Index(
            "ix_helpdesk_ticket_unread",
            "updated_at",
            "id",
            sqlite_where=text(UNREAD_FOR_AGENTS),
            postgresql_where=text(UNREAD_FOR_AGENTS),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(24), unique=True)
    subject: Mapped[str] = mapped_column(String(255))
    status: Mapped[TicketStatus] = mapped_column(EnumText(TicketStatus), default=TicketStatus.OPEN)
    priority: Mapped[Priority] = mapped_column(EnumInt(Priority), default=Priority.NORMAL)
    channel: Mapped[Channel] = mapped_column(EnumText(Channel), default=Channel.WEB)
    department_id: Mapped[int] = mapped_column(ForeignKey("helpdesk_department.id"))
    requester_id: Mapped[int] = mapped_column(ForeignKey("helpdesk_contact.id"))
    # Who created it: the requester themselves, or an agent on their behalf (seed 001).
    creator_contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("helpdesk_contact.id"), index=True
    )
    creator_agent_id: Mapped[int | None] = mapped_column(ForeignKey("helpdesk_agent.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("helpdesk_agent.id"))
    # Contact details given on this ticket (may differ from the contact's usual ones).
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(254))
    notify_sms: Mapped[bool] = mapped_column(default=False)
    locale: Mapped[str | None] = mapped_column(String(16))
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("helpdesk_ticket.id"))

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    first_response_at: Mapped[datetime | None]
    last_customer_reply_at: Mapped[datetime | None]
    last_agent_reply_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # When the status last changed ("N days in status" time rules; set by services/transitions).
    status_changed_at: Mapped[datetime | None]
    # Read markers: unread = a reply from the other side after the marker.
    customer_seen_at: Mapped[datetime | None]
    agent_seen_at: Mapped[datetime | None]

    # -- SLA (services/sla.py). One clock counts the working time the ticket has waited on
    # support: it runs while open, processing or customer_replied, pauses while answered, stops
    # while closed or spam. Targets are readings of that clock; due instants are derived from
    # it and stored (None while the clock does not run), the earliest of them indexed.
    # No database foreign key: SQLite cannot add or drop one without copying the table (which
    # would drop the full-text triggers); deleting a policy clears it (services.sla_policies).
    sla_policy_id: Mapped[int | None]
    sla_clock_seconds: Mapped[int] = mapped_column(default=0, server_default="0")
    sla_running_since: Mapped[datetime | None]  # None: paused or stopped
    sla_next_from: Mapped[int | None]  # clock reading when a next response became owed
    sla_after_hours: Mapped[bool] = mapped_column(default=False, server_default=false())
    first_response_due_at: Mapped[datetime | None]
    next_response_due_at: Mapped[datetime | None]
    resolution_due_at: Mapped[datetime | None]
    sla_due_at: Mapped[datetime | None]
    sla_check_at: Mapped[datetime | None]  # next warning or due instant the sweep must see
    # Facts recorded when they happen, for reports.
    first_response_seconds: Mapped[int | None]  # working seconds to the first response
    resolution_seconds: Mapped[int | None]  # working seconds to the (latest) close
    first_response_breached: Mapped[bool] = mapped_column(default=False, server_default=false())
    next_response_breached: Mapped[bool] = mapped_column(default=False, server_default=false())
    resolution_breached: Mapped[bool] = mapped_column(default=False, server_default=false())
    reopen_count: Mapped[int] = mapped_column(default=0, server_default="0")

    department: Mapped[Department] = relationship(lazy="joined", innerjoin=True)
    requester: Mapped[Contact] = relationship(foreign_keys=[requester_id])
    creator_contact: Mapped[Contact | None] = relationship(foreign_keys=[creator_contact_id])
    creator_agent: Mapped[Agent | None] = relationship(foreign_keys=[creator_agent_id])
    assignee: Mapped[Agent | None] = relationship(foreign_keys=[assignee_id])
    merged_into: Mapped[Ticket | None] = relationship(remote_side=[id])
    tags: Mapped[list[Tag]] = relationship(secondary=ticket_tag, order_by=Tag.name)
    # Deleted with the ticket (its foreign key cascades on PostgreSQL only; the ORM would set it
    # to NULL otherwise, which the column refuses: a rated ticket could not be deleted).
    rating: Mapped[Rating | None] = relationship(
        back_populates="ticket", uselist=False, cascade="save-update, merge, delete"
    )
    # Read-only, for the ticket pages' one-statement load (services/tickets.page_loads): the
    # access-grant panel, the collision notice and the held-mail notice read them there; their
    # rows are written through their own models and services (consent, presence, intake).
    # Unordered on purpose: an ORDER BY over the joined collections makes PostgreSQL sort their
    # product, and without statistics (a new table) it estimated that sort above the JIT
    # threshold (seconds of compiling for one page). The readers sort in Python.
    access_grants: Mapped[list[AccessGrant]] = relationship(viewonly=True)
    viewers: Mapped[list[TicketViewer]] = relationship(viewonly=True)
    held_mail: Mapped[list[InboundMail]] = relationship(
        primaryjoin="and_(InboundMail.ticket_id == Ticket.id, InboundMail.status == 'held')",
        viewonly=True,
    )
    unordered_tags: Mapped[list[Tag]] = relationship(secondary=ticket_tag, viewonly=True)

    @property
    def is_closed(self) -> bool:
        return self.status == TicketStatus.CLOSED

    @property
    def unread_for_customer(self) -> bool:
        """An agent replied after the customer last looked."""
        if self.last_agent_reply_at is None:
            return False
        return self.customer_seen_at is None or self.last_agent_reply_at > self.customer_seen_at

    @property
    def unread_for_agents(self) -> bool:
        if self.last_customer_reply_at is None:
            return False
        return self.agent_seen_at is None or self.last_customer_reply_at > self.agent_seen_at


class Message(HelpdeskModel):
    """A public reply, an internal note or a system event in a ticket's thread."""

    __tablename__ = "helpdesk_message"
    __table_args__ = (Index("ix_helpdesk_message_ticket_created", "ticket_id", "created_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("helpdesk_ticket.id", ondelete="CASCADE"))
    kind: Mapped[MessageKind] = mapped_column(EnumText(MessageKind), default=MessageKind.REPLY)
    channel: Mapped[Channel] = mapped_column(EnumText(Channel), default=Channel.WEB)
    author_contact_id: Mapped[int | None] = mapped_column(ForeignKey("helpdesk_contact.id"))
    author_agent_id: Mapped[int | None] = mapped_column(ForeignKey("helpdesk_agent.id"))
    # Plain text as written; shown escaped. Mail that came as HTML keeps a sanitized copy.
    body: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str | None] = mapped_column(Text)
    # Email threading: our Message-ID for outgoing mail, the sender's for incoming.
    email_message_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)  # event details
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    ticket: Mapped[Ticket] = relationship()
    author_contact: Mapped[Contact | None] = relationship()
    author_agent: Mapped[Agent | None] = relationship()
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="message", order_by="Attachment.id"
    )
    # The checked mail this message was posted from, if any: the desk shows its sender
    # verdict (services/mail_auth.sender_view). Read-only; mail intake writes InboundMail.
    inbound_mail: Mapped[InboundMail | None] = relationship(
        primaryjoin="and_(InboundMail.posted_message_id == Message.id, "
        "InboundMail.auth_dmarc.is_not(None))",
        viewonly=True,
        uselist=False,
    )

    @property
    def is_public(self) -> bool:
        return self.kind == MessageKind.REPLY

    @property
    def author_name(self) -> str:
        if self.author_agent is not None:
            return self.author_agent.display_name
        if self.author_contact is not None:
            return self.author_contact.display_name
        return ""


class Attachment(HelpdeskModel):
    """A file on a message, stored by content hash through the storage backend."""

    __tablename__ = "helpdesk_attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("helpdesk_ticket.id", ondelete="CASCADE"), index=True
    )
    message_id: Mapped[int] = mapped_column(
        ForeignKey("helpdesk_message.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(127))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    message: Mapped[Message] = relationship(back_populates="attachments")


class Rating(HelpdeskModel):
    """The customer's 1–5 stars after close; one per ticket (seed 001)."""

    __tablename__ = "helpdesk_rating"
    __table_args__ = (UniqueConstraint("ticket_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("helpdesk_ticket.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("helpdesk_contact.id"))
    stars: Mapped[int]
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    ticket: Mapped[Ticket] = relationship(back_populates="rating")
