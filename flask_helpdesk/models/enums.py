"""Enumerations of the domain with their translatable labels."""

from __future__ import annotations

from enum import IntEnum, StrEnum

from ..i18n import lazy_gettext as _l


class TicketStatus(StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    PROCESSING = "processing"
    CUSTOMER_REPLIED = "customer_replied"
    CLOSED = "closed"
    SPAM = "spam"

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]


STATUS_LABELS = {
    TicketStatus.OPEN: _l("Open"),
    TicketStatus.ANSWERED: _l("Answered"),
    TicketStatus.PROCESSING: _l("Processing"),
    TicketStatus.CUSTOMER_REPLIED: _l("Customer replied"),
    TicketStatus.CLOSED: _l("Closed"),
    TicketStatus.SPAM: _l("Spam"),
}


class Priority(IntEnum):
    """Stored as a small integer so that sorting by priority is sorting by urgency."""

    LOW = 0
    NORMAL = 1
    HIGH = 2
    URGENT = 3

    @property
    def label(self) -> str:
        return PRIORITY_LABELS[self]

    @property
    def slug(self) -> str:
        return self.name.lower()


PRIORITY_LABELS = {
    Priority.LOW: _l("Low"),
    Priority.NORMAL: _l("Normal"),
    Priority.HIGH: _l("High"),
    Priority.URGENT: _l("Urgent"),
}


class MessageKind(StrEnum):
    REPLY = "reply"  # public: the customer sees it
    NOTE = "note"  # internal: agents only
    EVENT = "event"  # system event shown in the thread (status changed, merged, ...)


class Channel(StrEnum):
    WEB = "web"
    EMAIL = "email"
    API = "api"
    DESK = "desk"  # created by an agent in the back office

    @property
    def label(self) -> str:
        return CHANNEL_LABELS[self]


CHANNEL_LABELS = {
    Channel.WEB: _l("Web form"),
    Channel.EMAIL: _l("Email"),
    Channel.API: _l("API"),
    Channel.DESK: _l("Support desk"),
}


class AgentRole(StrEnum):
    AGENT = "agent"
    LEAD = "lead"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return {"agent": _l("Agent"), "lead": _l("Department lead"), "admin": _l("Admin")}[self]


class Availability(StrEnum):
    AVAILABLE = "available"
    AWAY = "away"
    ON_BREAK = "on_break"

    @property
    def label(self) -> str:
        return {
            "available": _l("Available"),
            "away": _l("Away"),
            "on_break": _l("On break"),
        }[self]


class DistributionMode(StrEnum):
    """How a department hands its new tickets out (services/distribution.py)."""

    OFF = "off"
    ROUND_ROBIN = "round_robin"
    LEAST_LOADED = "least_loaded"

    @property
    def label(self) -> str:
        return {
            "off": _l("Off"),
            "round_robin": _l("Round robin"),
            "least_loaded": _l("Least loaded"),
        }[self]
