"""Inbound mail: the mailboxes the helpdesk polls, every mail it received, and who may write in.

An :class:`InboundMail` row holds the raw bytes of a mail before anything parses them, so a bug,
a crash or a broken message never loses what a customer sent: the row is processed, set aside
(``ignored``/``failed``, with the reason) and retried from there.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import DDL, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..i18n import lazy_gettext as _l
from .base import EnumText, HelpdeskModel, utcnow
from .people import Department

if TYPE_CHECKING:
    from .ticket import Ticket


class MailSecurity(StrEnum):
    IMAPS = "imaps"  # TLS from the first byte (port 993)
    STARTTLS = "starttls"  # plain connection upgraded to TLS (port 143)
    NONE = "none"  # no TLS: only for a server on the same host


class InboundStatus(StrEnum):
    RECEIVED = "received"  # stored, not processed yet
    PROCESSING = "processing"  # a worker claimed it (stale claims are picked up again)
    PROCESSED = "processed"  # became a ticket or a reply
    IGNORED = "ignored"  # noise (auto-reply, bounce, bulk, storm): kept, nothing posted
    FAILED = "failed"  # could not be processed; kept with the reason, retryable
    HELD = "held"  # the sender could not be verified: waits for an agent to accept or discard

    @property
    def label(self) -> str:
        return {
            "received": _l("Received"),
            "processing": _l("Processing"),
            "processed": _l("Processed"),
            "ignored": _l("Ignored"),
            "failed": _l("Failed"),
            "held": _l("Held"),
        }[self.value]


class Mailbox(HelpdeskModel):
    """An IMAP mailbox polled by ``flask helpdesk fetch-mail`` for one department.

    ``password`` is stored in the database as given. Write ``env:NAME`` to keep the secret in
    the environment variable ``NAME`` of the fetching process instead.
    """

    __tablename__ = "helpdesk_mailbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    department_id: Mapped[int] = mapped_column(
        ForeignKey("helpdesk_department.id", ondelete="CASCADE"), index=True
    )
    # The address customers write to; replies set it as Reply-To.
    address: Mapped[str | None] = mapped_column(String(254), index=True)
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int | None]  # None: 993 for imaps, 143 otherwise
    security: Mapped[MailSecurity] = mapped_column(
        EnumText(MailSecurity), default=MailSecurity.IMAPS
    )
    username: Mapped[str] = mapped_column(String(255))
    password: Mapped[str] = mapped_column(String(1024), default="")
    folder: Mapped[str] = mapped_column(String(255), default="INBOX")
    # Where processed mail is moved; None: it stays and is flagged \Seen + $Helpdesk.
    processed_folder: Mapped[str | None] = mapped_column(String(255))
    verify_tls: Mapped[bool] = mapped_column(default=True)
    is_active: Mapped[bool] = mapped_column(default=True)
    last_fetch_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    department: Mapped[Department] = relationship()


class InboundMail(HelpdeskModel):
    """One received mail, raw, with what became of it."""

    __tablename__ = "helpdesk_inbound_mail"
    __table_args__ = (
        # The admin list and the sweep: by status, oldest first.
        Index("ix_helpdesk_inbound_mail_status_received", "status", "received_at"),
        # The per-sender rate limit counts a sender's recent mail.
        Index("ix_helpdesk_inbound_mail_sender_received", "sender", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # SHA-256 of the Message-ID (or of the raw bytes when there is none): a mail delivered
    # twice, by two channels or two mailboxes, is stored and processed once.
    dedup_key: Mapped[str] = mapped_column(String(64), unique=True)
    message_id: Mapped[str | None] = mapped_column(String(998))
    source: Mapped[str] = mapped_column(String(16))  # imap | webhook | pipe
    mailbox_id: Mapped[int | None] = mapped_column(
        ForeignKey("helpdesk_mailbox.id", ondelete="SET NULL"), index=True
    )
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("helpdesk_department.id", ondelete="SET NULL"), index=True
    )
    recipient: Mapped[str | None] = mapped_column(String(254))  # envelope recipient, if known
    sender: Mapped[str | None] = mapped_column(String(254))
    # The SMTP envelope sender (MAIL FROM) the mail server handed over, if it did: "<>" for
    # the null sender of bounces (mail/peek.py clean_envelope_sender). Not the From header.
    envelope_sender: Mapped[str | None] = mapped_column(String(254))
    # What a provider's webhook post said of the sender, when the post's signature verified
    # (views/hooks.py): "mailgun; spf=pass; dkim=pass". A source of the verdict below.
    provider_verdict: Mapped[str | None] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(255), default="")
    size: Mapped[int] = mapped_column(default=0)
    raw: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    status: Mapped[InboundStatus] = mapped_column(
        EnumText(InboundStatus), default=InboundStatus.RECEIVED
    )
    reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    processed_at: Mapped[datetime | None]
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("helpdesk_ticket.id", ondelete="SET NULL"), index=True
    )
    # The message this mail posted: one at most per message (Message.inbound_mail; 0034).
    posted_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("helpdesk_message.id", ondelete="SET NULL"), index=True, unique=True
    )

    # Who really sent it (mail/authenticity.py): pass | fail | none each; None before checked.
    auth_spf: Mapped[str | None] = mapped_column(String(8))
    auth_dkim: Mapped[str | None] = mapped_column(String(8))
    auth_dmarc: Mapped[str | None] = mapped_column(String(8))
    sender_verified: Mapped[bool | None]
    auth_reason: Mapped[str | None] = mapped_column(String(500))

    # For the admin pages' links; loaded with selectinload there (no query per row).
    ticket: Mapped[Ticket | None] = relationship("Ticket")


class TicketParticipant(HelpdeskModel):
    """An address besides the requester's that may write into a ticket by mail (a CC)."""

    __tablename__ = "helpdesk_ticket_participant"
    __table_args__ = (UniqueConstraint("ticket_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("helpdesk_ticket.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254), index=True)  # lowercased
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# PostgreSQL: the raw bytes compressed with LZ4 rather than the default pglz. Every stored mail
# goes through the compressor (pglz tries even bytes it cannot shrink, which is most of a
# mail's attachments): 0.2 ms of server CPU a 10 kB mail with pglz, half that with LZ4, which
# shrinks text as well. A server built without LZ4 (or before PostgreSQL 14) keeps pglz.
# Also migration 0035.
PG_RAW_LZ4 = """DO $$ BEGIN
    EXECUTE 'ALTER TABLE helpdesk_inbound_mail ALTER COLUMN raw SET COMPRESSION lz4';
EXCEPTION WHEN feature_not_supported OR syntax_error THEN NULL;
END $$"""
event.listen(
    InboundMail.__table__, "after_create", DDL(PG_RAW_LZ4).execute_if(dialect="postgresql")
)
