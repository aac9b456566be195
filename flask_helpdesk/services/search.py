"""Full-text search over ticket subjects and message bodies, in the database's own engine.

The index objects live in ``models/search.py`` (FTS5 on SQLite, GIN expression indexes on
PostgreSQL) and are kept in step by the database itself; this module only turns what an agent
typed into a safe query and a WHERE clause on tickets. Anything else falls back to a plain
``LIKE`` so a host on another database still gets (slower) search.
"""

from __future__ import annotations

import re

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    false,
    func,
    literal_column,
    or_,
    select,
    text,
    union,
)
from sqlalchemy.orm import aliased

from ..models import Message, Ticket
from ..models.search import PG_TS_CONFIG
from .base import session

# Words: letters/digits of any script (Vietnamese, Persian...), at most this many per query.
WORD = re.compile(r"\w+", re.UNICODE)
MAX_TERMS = 8


def terms(query: str) -> list[str]:
    """The words of *query*, lower-cased, without any operator syntax an engine would parse."""
    return [t.lower() for t in WORD.findall(query or "")][:MAX_TERMS]


def _dialect() -> str:
    return session().get_bind(mapper=Ticket).dialect.name


def matching_tickets(query: str, code: str | None = None) -> ColumnElement[bool]:
    """WHERE clause: tickets whose subject or any message (notes included) has every word of
    *query* (each word also matches as a prefix, so "invo" finds "invoice"), or whose code is
    *code*.

    Written as ``Ticket.id IN (ids from the message index UNION ids from the subject index
    UNION the code)`` rather than an OR of conditions on the ticket row: each part is answered by
    its own index, and the database joins the (usually small) set of matches to the queue's
    order, instead of computing a text vector for every ticket it walks past (which, at a
    million tickets, took PostgreSQL twenty seconds for a word nobody used).
    """
    words = terms(query)
    parts: list[Select[tuple[int]]] = []
    if code:
        parts.append(select(Ticket.id).where(Ticket.code == code))
    if words:
        dialect = _dialect()
        if dialect == "sqlite":
            parts.extend(_sqlite(words))
        elif dialect == "postgresql":
            parts.extend(_postgresql(words))
        else:
            return _fallback(words, code)
    if not parts:
        return false()
    return Ticket.id.in_(union(*parts) if len(parts) > 1 else parts[0])


def _sqlite(words: list[str]) -> list[Select[tuple[int]]]:
    # Each word quoted (so no FTS operator survives), '*' for prefix; spaces mean AND.
    match = " ".join('"' + w.replace('"', "") + '"*' for w in words)
    in_messages = select(Message.ticket_id).where(
        Message.id.in_(
            select(literal_column("rowid"))
            .select_from(text("helpdesk_message_fts"))
            .where(text("helpdesk_message_fts MATCH :fts_messages").bindparams(fts_messages=match))
        )
    )
    in_subjects = (
        select(literal_column("rowid"))
        .select_from(text("helpdesk_ticket_fts"))
        .where(text("helpdesk_ticket_fts MATCH :fts_subjects").bindparams(fts_subjects=match))
    )
    return [in_messages, in_subjects]


def _postgresql(words: list[str]) -> list[Select[tuple[int]]]:
    # Words are \w+ only, so ':*' and '&' are the only operators in the tsquery. The
    # expressions must be exactly those of the GIN indexes (models/search.py) to use them.
    config = literal_column(f"'{PG_TS_CONFIG}'::regconfig")
    tsquery = func.to_tsquery(config, " & ".join(f"{w}:*" for w in words))
    subjects = aliased(Ticket)
    return [
        select(Message.ticket_id).where(
            func.to_tsvector(config, Message.body).bool_op("@@")(tsquery)
        ),
        select(subjects.id).where(
            func.to_tsvector(config, subjects.subject).bool_op("@@")(tsquery)
        ),
    ]


def _fallback(words: list[str], code: str | None) -> ColumnElement[bool]:
    conditions = []
    for word in words:
        pattern = f"%{word}%"
        conditions.append(
            or_(
                Ticket.subject.ilike(pattern),
                Ticket.id.in_(select(Message.ticket_id).where(Message.body.ilike(pattern))),
            )
        )
    found = and_(*conditions)
    return or_(Ticket.code == code, found) if code else found
