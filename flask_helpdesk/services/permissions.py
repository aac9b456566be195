"""The one permission check. Every service asks here before it reads or writes a ticket.

A customer acts on their own contact's tickets only (never spam); an agent on the tickets of their
departments or assigned to them; an admin on all. What an actor may not see raises
:class:`NotFound`, so ids and codes of other people's tickets reveal nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, false, or_, true

from ..models import (
    AgentRole,
    Article,
    ArticleStatus,
    ArticleVisibility,
    Ticket,
    TicketFact,
    TicketStatus,
)
from ..state import current_helpdesk
from .base import Forbidden, NotFound
from .identity import Actor

CUSTOMER_ACTIONS = frozenset({"open", "view", "reply", "close", "rate", "download"})
AGENT_ACTIONS = frozenset(
    {
        "open",
        "view",
        "reply",
        "note",
        "download",
        "change_status",
        "change_priority",
        "transfer",
        "assign",
        "tag",
        "merge",
        "close",
        "mark_spam",
        "request_access",
    }
)
ADMIN_ONLY_ACTIONS = frozenset({"manage"})


def visible_tickets(actor: Actor) -> ColumnElement[bool]:
    """A WHERE clause limiting a ticket query to what *actor* may see."""
    if actor.is_system:
        return true()
    if actor.is_customer:
        if actor.contact is None:
            return false()
        return (Ticket.requester_id == actor.contact.id) & (Ticket.status != TicketStatus.SPAM)
    if actor.is_admin:
        return true()
    agent_id = actor.agent.id if actor.agent is not None else None
    return or_(Ticket.department_id.in_(actor.department_ids), Ticket.assignee_id == agent_id)


def visible_facts(actor: Actor, source: Any = TicketFact) -> tuple[ColumnElement[bool], bool]:
    """A WHERE clause limiting report facts to what *actor* may see, and whether these are the
    actor's own figures only: all for admins, their departments' for leads, for agents the
    tickets assigned to them and what they did. Customers see no reports (Forbidden).

    *source* is the facts or the daily roll-up (``report_day.c``): both have the department,
    the assignee and the agent (the roll-up's agent is the actor, else the assignee, so "assigned
    to me or done by me" is the same rule on both)."""
    if actor.is_system or (actor.is_agent and actor.is_admin):
        return true(), False
    if not actor.is_agent or actor.agent is None:
        raise Forbidden("reports are for support staff")
    if actor.agent.role == AgentRole.LEAD:
        return source.department_id.in_(actor.department_ids), False
    me = actor.agent.id
    return or_(source.assignee_id == me, source.agent_id == me), True


def visible_backlog(actor: Actor, source: Any) -> ColumnElement[bool]:
    """The part of the backlog (roll-up rows) *actor* may see: like :func:`visible_facts`, but
    an agent's backlog is the tickets assigned to them, not what they did on others'."""
    where, own_only = visible_facts(actor, source)
    if own_only and actor.agent is not None:
        return source.assignee_id == actor.agent.id
    return where


def can_see(actor: Actor, ticket: Ticket) -> bool:
    if actor.is_system:
        return True
    if actor.is_customer:
        return (
            actor.contact is not None
            and ticket.requester_id == actor.contact.id
            and ticket.status != TicketStatus.SPAM
        )
    if actor.is_admin:
        return True
    return ticket.department_id in actor.department_ids or (
        actor.agent is not None and ticket.assignee_id == actor.agent.id
    )


def _may_request_access(actor: Actor) -> bool:
    """Asking for a customer's account is limited to the roles in the config (admins always)."""

    if actor.is_admin:
        return True
    roles = current_helpdesk.config["HELPDESK_ACCESS_REQUEST_ROLES"]
    return actor.agent is not None and actor.agent.role.value in roles


def can(actor: Actor, action: str, ticket: Ticket | None = None) -> bool:
    if actor.is_system:
        return True
    if action in ADMIN_ONLY_ACTIONS:
        return actor.is_agent and actor.is_admin
    allowed = CUSTOMER_ACTIONS if actor.is_customer else AGENT_ACTIONS
    if action not in allowed:
        return False
    if action == "request_access" and not _may_request_access(actor):
        return False
    return ticket is None or can_see(actor, ticket)


def ensure(actor: Actor, action: str, ticket: Ticket | None = None) -> None:
    """Raise unless *actor* may do *action* (on *ticket*). Unseen tickets are NotFound."""
    if ticket is not None and not can_see(actor, ticket):
        raise NotFound("ticket not found")
    if not can(actor, action, ticket):
        raise Forbidden(f"not allowed to {action}")


# -- knowledge base -----------------------------------------------------------------------------
def visible_articles(actor: Actor | None) -> ColumnElement[bool]:
    """A WHERE clause limiting an article query to what *actor* may read (None: a visitor who
    is not logged in). Staff read every article, drafts included; everyone else only
    published public ones."""
    if actor is not None and (actor.is_system or (actor.is_agent and actor.agent is not None)):
        return true()
    return (Article.status == ArticleStatus.PUBLISHED) & (
        Article.visibility == ArticleVisibility.PUBLIC
    )


def can_read_article(actor: Actor | None, article: Article) -> bool:
    if actor is not None and (actor.is_system or (actor.is_agent and actor.agent is not None)):
        return True
    return article.is_public


def can_write_articles(actor: Actor) -> bool:
    """Every agent writes and publishes articles; categories are the admins' (``manage``)."""
    return actor.is_system or (actor.is_agent and actor.agent is not None)
