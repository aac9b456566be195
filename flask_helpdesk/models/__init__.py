"""The helpdesk's models, on their own declarative base (see ``base.py``)."""

from . import knowledge_search as _knowledge_search  # noqa: F401  (article search DDL)
from . import search as _search  # noqa: F401  (full-text index DDL, see search.py)
from .api import ApiToken
from .audit import AuditEvent
from .base import HelpdeskModel, utcnow
from .canned import CannedReply
from .consent import AccessGrant, GrantScope, GrantStatus, ImpersonationLog
from .counts import TicketCount
from .desk import SavedView, TicketViewer
from .enums import (
    AgentRole,
    Availability,
    Channel,
    DistributionMode,
    MessageKind,
    Priority,
    TicketStatus,
)
from .knowledge import (
    Article,
    ArticleCategory,
    ArticleDeflection,
    ArticleFile,
    ArticleRevision,
    ArticleStatus,
    ArticleVisibility,
    ContactRequest,
)
from .mail import InboundMail, InboundStatus, Mailbox, MailSecurity, TicketParticipant
from .people import Agent, Contact, Department, agent_department
from .reports import FactKind, ReplyRating, TicketFact, report_day
from .rules import AutoMail, Rule, RuleFiring
from .sla import BusinessCalendar, CalendarWindow, Holiday, HolidaySource, SlaEvent, SlaPolicy
from .spam import HAM, SPAM, HouseRule, SpamToken, SpamTotals, SpamTraining
from .ticket import Attachment, Message, Rating, Tag, Ticket, ticket_tag
from .webhooks import WebhookDelivery, WebhookEndpoint

__all__ = [
    "HAM",
    "SPAM",
    "AccessGrant",
    "Agent",
    "AgentRole",
    "ApiToken",
    "Article",
    "ArticleCategory",
    "ArticleDeflection",
    "ArticleFile",
    "ArticleRevision",
    "ArticleStatus",
    "ArticleVisibility",
    "Attachment",
    "AuditEvent",
    "AutoMail",
    "Availability",
    "BusinessCalendar",
    "CalendarWindow",
    "CannedReply",
    "Channel",
    "Contact",
    "ContactRequest",
    "Department",
    "DistributionMode",
    "FactKind",
    "GrantScope",
    "GrantStatus",
    "HelpdeskModel",
    "Holiday",
    "HolidaySource",
    "HouseRule",
    "ImpersonationLog",
    "InboundMail",
    "InboundStatus",
    "MailSecurity",
    "Mailbox",
    "Message",
    "MessageKind",
    "Priority",
    "Rating",
    "ReplyRating",
    "Rule",
    "RuleFiring",
    "SavedView",
    "SlaEvent",
    "SlaPolicy",
    "SpamToken",
    "SpamTotals",
    "SpamTraining",
    "Tag",
    "Ticket",
    "TicketCount",
    "TicketFact",
    "TicketParticipant",
    "TicketStatus",
    "TicketViewer",
    "WebhookDelivery",
    "WebhookEndpoint",
    "agent_department",
    "report_day",
    "ticket_tag",
    "utcnow",
]
