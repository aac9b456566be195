"""Collision warnings: who else has a ticket open, and what was written since a page loaded.

Presence is a row per (ticket, agent) with a last-seen time, refreshed when the workspace
loads and by a small JSON poll; no Redis needed, so it works the same embedded and at scale.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import delete, inspect, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import selectinload

from ..inputs import MAX_ID, parse_int
from ..models import Agent, Message, MessageKind, Ticket, TicketViewer, utcnow
from .base import commit, rollback, session
from .identity import Actor
from .permissions import ensure
from .transitions import lock_ticket

# An agent counts as viewing if their page polled within this time (the page polls every 20 s).
VIEWING_WINDOW = timedelta(seconds=60)


def touch(actor: Actor, ticket: Ticket) -> None:
    """Record that *actor* has *ticket* open now (one upsert)."""
    with viewing(actor, ticket):
        pass


@contextmanager
def viewing(actor: Actor, ticket: Ticket) -> Iterator[None]:
    """Record the presence, build the page inside the block, commit after.

    Committing first would expire everything the page is about to show (ticket, agent, the
    host's user) and cost a reload of each; see ``tickets.reading`` for the same reasoning.
    """
    ensure(actor, "view", ticket)
    if actor.agent is None:
        yield
        return
    _upsert(actor, ticket)
    try:
        yield
    except BaseException:
        rollback()
        raise
    commit()


def _upsert(actor: Actor, ticket: Ticket) -> None:
    assert actor.agent is not None
    now = utcnow()
    bind = session().get_bind(mapper=TicketViewer)
    values = {"ticket_id": ticket.id, "agent_id": actor.agent.id, "last_seen_at": now}
    if bind.dialect.name in ("postgresql", "sqlite"):
        insert = pg_insert if bind.dialect.name == "postgresql" else sqlite_insert
        statement = insert(TicketViewer).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=["ticket_id", "agent_id"], set_={"last_seen_at": now}
        )
        session().execute(statement)
    else:  # other databases: read then write (a lost race only delays the next poll)
        row = session().get(TicketViewer, (ticket.id, actor.agent.id))
        if row is None:
            session().add(TicketViewer(**values))
        else:
            row.last_seen_at = now


def leave(actor: Actor, ticket: Ticket) -> None:
    """Forget *actor*'s presence on *ticket* (the page was closed)."""
    if actor.agent is None:
        return
    session().execute(
        delete(TicketViewer).where(
            TicketViewer.ticket_id == ticket.id, TicketViewer.agent_id == actor.agent.id
        )
    )
    commit()


def other_viewers(actor: Actor, ticket: Ticket) -> list[Agent]:
    """Other agents who had *ticket* open within :data:`VIEWING_WINDOW`.

    The ticket pages load the ticket with its recent viewers joined (``tickets.page_loads``,
    the same window): then they are read from it, without a statement of their own.
    """
    me = actor.agent.id if actor.agent is not None else None
    if "viewers" not in inspect(ticket).unloaded:
        recent = [v.agent for v in ticket.viewers if v.agent_id != me]
        return sorted(recent, key=lambda agent: agent.name or "")
    since = utcnow() - VIEWING_WINDOW
    query = (
        select(Agent)
        .join(TicketViewer, TicketViewer.agent_id == Agent.id)
        .where(TicketViewer.ticket_id == ticket.id, TicketViewer.last_seen_at >= since)
        .order_by(Agent.name)
    )
    if actor.agent is not None:
        query = query.where(Agent.id != actor.agent.id)
    return list(session().scalars(query))


def newest_message_id(ticket: Ticket) -> int:
    """The id of the newest reply or note (events do not count as someone writing)."""
    return (
        session().scalar(
            select(Message.id)
            .where(Message.ticket_id == ticket.id, Message.kind != MessageKind.EVENT)
            .order_by(Message.id.desc())
            .limit(1)
        )
        or 0
    )


def written_since(
    actor: Actor, ticket: Ticket, last_seen_message_id: int | str | None
) -> list[Message]:
    """Replies and notes by someone else posted after message *last_seen_message_id*.

    The reply form carries the newest id its page showed; anything newer means another agent
    (or the customer) wrote while this agent was typing, so the desk shows it before sending.
    A missing or malformed id means "no check" (a client that does not know the field).
    """
    seen = parse_int(last_seen_message_id, 0, MAX_ID)
    if seen is None:
        return []
    # The check and the sending are one step: the ticket stays locked until this transaction
    # ends (the reply committed, or the page shown), so of two agents sending at the same
    # moment the second waits here and then sees the first one's reply, instead of both
    # checks passing and both replies going out unseen.
    lock_ticket(ticket)
    query = (
        select(Message)
        .where(
            Message.ticket_id == ticket.id,
            Message.id > seen,
            Message.kind != MessageKind.EVENT,
        )
        .options(selectinload(Message.author_agent), selectinload(Message.author_contact))
        .order_by(Message.id)
    )
    if actor.agent is not None:
        query = query.where(
            (Message.author_agent_id.is_(None)) | (Message.author_agent_id != actor.agent.id)
        )
    return list(session().scalars(query))
