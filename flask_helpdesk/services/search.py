"""Full-text search over ticket subjects and message bodies, in the database's own engine.

The index objects live in ``models/search.py`` (FTS5 on SQLite, a document per ticket with a
GIN index on PostgreSQL) and are kept in step by the database itself; this module only turns
what an agent typed into a safe query and a WHERE clause on tickets. Other databases get a
plain ``LIKE``, so a host on one of them still has (slower) search.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    String,
    and_,
    bindparam,
    cast,
    column,
    false,
    func,
    literal_column,
    or_,
    select,
    table,
    text,
    union,
)
from sqlalchemy.dialects.postgresql import TSQUERY

from ..extension import current_helpdesk
from ..models import Message, Ticket
from ..models.search import PG_SEARCH_TABLE, PG_TS_CONFIG
from .base import session

# Words: letters/digits of any script (Vietnamese, Persian...), at most this many per query.
WORD = re.compile(r"\w+", re.UNICODE)
MAX_TERMS = 8


def terms(query: str) -> list[str]:
    """The words of *query*, lower-cased, without any operator syntax an engine would parse."""
    return [t.lower() for t in WORD.findall(query or "")][:MAX_TERMS]


def _dialect() -> str:
    return session().get_bind(mapper=Ticket).dialect.name


# What may be searched as a ticket code (``HD-4F7K2Q``, or whatever the host's codes look like).
CODE_TOKEN = re.compile(r"[\w-]{1,64}", re.UNICODE)


def matching_tickets(query: str, code: str | None = None) -> ColumnElement[bool]:
    """WHERE clause: tickets whose subject or any message (notes included) has every word of
    *query* (each word also matches as a prefix, so "invo" finds "invoice"), or whose code is
    *code*.

    Written as ``Ticket.id IN (ids of matching tickets)``: the matches come from the
    database's full-text index (a document per ticket on PostgreSQL, FTS5 tables of messages
    and subjects on SQLite), and the database then either walks the queue's order testing each
    ticket or sorts the few matches, whichever its statistics say is cheaper.
    """
    words = terms(query)
    if code and not (CODE_TOKEN.fullmatch(code) and any(c.isalnum() for c in code)):
        code = None
    if code:
        # "HD-4F7K2Q" is the code, and also the words "hd" and "4f7k2q". "hd" is in every
        # code: as a word it would match every ticket that mentions any code.
        prefix = current_helpdesk.config["HELPDESK_TICKET_CODE_PREFIX"].lower()
        if code.lower().startswith(prefix + "-") and prefix in words:
            words.remove(prefix)
    if not words and not code:
        return false()
    dialect = _dialect()
    if dialect == "postgresql":
        return _postgresql(words, code)
    if dialect != "sqlite":
        return _fallback(words, code)
    parts: list[Select[tuple[int]]] = []
    if code:
        parts.append(select(Ticket.id).where(Ticket.code == code))
    if words:
        parts.extend(_sqlite(words))
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


_DOCUMENTS = table(PG_SEARCH_TABLE, column("ticket_id"), column("document"))


def _postgresql(words: list[str], code: str | None) -> ColumnElement[bool]:
    # Words are \w+ only, so ':*' and '&' are the only operators in the tsquery. The code is
    # one word of each ticket's document (models/search.py), quoted so the parser keeps it whole.
    # Both are written into the statement, not sent as parameters: a prepared statement's
    # generic plan cannot know whether a word is in ten tickets or half a million, and the
    # best plans for the two differ a thousandfold.
    config = literal_column(f"'{PG_TS_CONFIG}'::regconfig")
    queries: list[ColumnElement[Any]] = []
    if words:
        queries.append(func.to_tsquery(config, _inline(" & ".join(f"{w}:*" for w in words))))
    if code:
        queries.append(cast(_inline(f"'{code.lower()}'"), TSQUERY))
    tsquery = queries[0] if len(queries) == 1 else queries[0].op("||")(queries[1])
    return Ticket.id.in_(
        select(_DOCUMENTS.c.ticket_id).where(_DOCUMENTS.c.document.bool_op("@@")(tsquery))
    )


def _inline(value: str) -> BindParameter[str]:
    """*value* as a literal in the SQL text (quoted by the dialect), not a parameter."""
    return bindparam(None, value, type_=String(), literal_execute=True, unique=True)


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
