"""Full-text search over ticket subjects and message bodies, in the database's own engine.

The index objects live in ``models/search.py`` (FTS5 on SQLite, GIN expression indexes on
PostgreSQL) and are kept in step by the database itself; this module only turns what an agent
typed into a safe query and a WHERE clause on tickets. Anything else falls back to a plain
``LIKE`` so a host on another database still gets (slower) search.
"""

from __future__ import annotations

import re

from sqlalchemy import ColumnElement, false, func, literal_column, or_, select, text

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


def matching_tickets(query: str) -> ColumnElement[bool]:
    """WHERE clause: tickets whose subject or any message (notes included) has every word of
    *query* (each word also matches as a prefix, so "invo" finds "invoice")."""
    words = terms(query)
    if not words:
        return false()
    dialect = _dialect()
    if dialect == "sqlite":
        return _sqlite(words)
    if dialect == "postgresql":
        return _postgresql(words)
    return _fallback(words)


def _sqlite(words: list[str]) -> ColumnElement[bool]:
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
    return or_(Ticket.id.in_(in_messages), Ticket.id.in_(in_subjects))


def _postgresql(words: list[str]) -> ColumnElement[bool]:
    # Words are \w+ only, so ':*' and '&' are the only operators in the tsquery.
    tsquery = func.to_tsquery(
        literal_column(f"'{PG_TS_CONFIG}'::regconfig"), " & ".join(f"{w}:*" for w in words)
    )
    config = literal_column(f"'{PG_TS_CONFIG}'::regconfig")
    in_messages = select(Message.ticket_id).where(
        func.to_tsvector(config, Message.body).bool_op("@@")(tsquery)
    )
    return or_(
        func.to_tsvector(config, Ticket.subject).bool_op("@@")(tsquery),
        Ticket.id.in_(in_messages),
    )


def _fallback(words: list[str]) -> ColumnElement[bool]:
    conditions = []
    for word in words:
        pattern = f"%{word}%"
        conditions.append(
            or_(
                Ticket.subject.ilike(pattern),
                Ticket.id.in_(select(Message.ticket_id).where(Message.body.ilike(pattern))),
            )
        )
    return conditions[0] if len(conditions) == 1 else conditions[0].and_(*conditions[1:])
