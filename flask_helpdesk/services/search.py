"""Full-text search over ticket subjects and message bodies, in the database's own engine.

The index objects live in ``models/search.py`` (FTS5 on SQLite, a document per ticket with a
GIN index on PostgreSQL) and are kept in step by the database itself; this module only turns
what an agent typed into a safe query and a WHERE clause on tickets. Other databases get a
plain ``LIKE``, so a host on one of them still has (slower) search.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Integer,
    Select,
    and_,
    column,
    false,
    func,
    literal_column,
    or_,
    select,
    table,
    text,
)

from ..inputs import clean_search
from ..models import Message, Ticket
from ..models.search import (
    PG_SEARCH_TABLE,
    PG_TS_CONFIG,
    PG_WORDS_TABLE,
    SQLITE_SEARCH_TABLE,
)
from ..state import current_helpdesk
from .base import cached_for_app, session

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


@dataclass(frozen=True)
class TicketMatch:
    """What a search matches, in one of two forms the queue builds different queries from.

    ``condition``: a WHERE clause on tickets, always right on its own. When ``sorted_matches``
    is None the queue uses it as it is: listed in its index order, each ticket is tested (the
    best plan when many tickets match: the first page is found after a few hundred tickets).

    ``sorted_matches``: the matching tickets' search rows (``ticket_id`` and the copied sort
    keys ``updated_at``, ``created_at``, ``priority``), PostgreSQL only, when few tickets
    match. The queue sorts these rows first and reads tickets in that order until its page is
    full, so that the database can neither walk a million tickets looking for a rare word nor
    read every matching ticket before sorting (see :func:`_postgresql`).
    """

    condition: ColumnElement[bool]
    sorted_matches: Select[Any] | None = None


def matching_tickets(query: str, code: str | None = None) -> TicketMatch:
    """Tickets whose subject or any message (notes included) has every word of *query* (each
    word also matches as a prefix, so "invo" finds "invoice"), or whose code is *code*.

    The matches come from the database's full-text index: a document per ticket on
    PostgreSQL, FTS5 tables of messages and subjects on SQLite.
    """
    words = terms(clean_search(query))
    prefix = current_helpdesk.config["HELPDESK_TICKET_CODE_PREFIX"]
    if code and not (CODE_TOKEN.fullmatch(code) and code.upper().startswith(f"{prefix}-")):
        code = None  # only what has the shape of one of our codes is searched as a code
    if code and prefix.lower() in words:
        # "HD-4F7K2Q" is the code, and also the words "hd" and "4f7k2q". "hd" is in every
        # code: as a word it would match every ticket that mentions any code.
        words.remove(prefix.lower())
    if not words and not code:
        return TicketMatch(false())
    dialect = _dialect()
    if dialect == "postgresql":
        return _postgresql(words, code)
    if dialect != "sqlite":
        return TicketMatch(_fallback(words, code))
    return _sqlite(words, code)


def _sqlite(words: list[str], code: str | None) -> TicketMatch:
    """The SQLite shapes of :func:`_postgresql`'s two plans, over one FTS5 document per ticket
    (models/search.py), whose rowids are ticket ids.

    Walking: the matching ids are read from the index once (a list of integers, no ticket
    looked up) and each ticket of the queue is tested against them; for a word in 30 % of
    100,000 tickets the page is full after a few hundred. ``id + 0`` keeps SQLite from driving
    the query from the match set, which would look up and sort every match. Sorting: the few
    matches drive, their tickets are looked up and sorted, and the queue reads its page.
    Which one is chosen from the number of matches, counted in the index up to the point
    where walking wins (:func:`_sqlite_matches`): a bounded count, not an estimate.
    """
    conditions: list[ColumnElement[bool]] = [Ticket.code == code] if code else []
    walk = False
    if words:
        # Each word quoted (so no FTS operator survives), '*' for prefix; spaces mean AND.
        expression = " ".join('"' + w.replace('"', "") + '"*' for w in words)
        ids = (
            select(literal_column("rowid"))
            .select_from(text(SQLITE_SEARCH_TABLE))
            .where(text(f"{SQLITE_SEARCH_TABLE} MATCH :fts_query").bindparams(fts_query=expression))
        )
        tickets = _sqlite_ticket_count()
        matches = _sqlite_matches(expression, tickets)
        walk = walk_the_queue(matches, tickets, SQLITE_SORT_MATCHES_FACTOR)
        conditions.append((Ticket.id + 0).in_(ids) if walk else Ticket.id.in_(ids))
    condition = or_(*conditions)
    if walk:
        return TicketMatch(condition)
    keys = select(
        Ticket.id.label("ticket_id"), Ticket.updated_at, Ticket.created_at, Ticket.priority
    )
    return TicketMatch(condition, sorted_matches=keys.where(condition))


def _sqlite_matches(expression: str, tickets: float) -> float:
    """The tickets whose document matches, counted up to where walking the queue is the
    better plan (then the count stops: a word in every ticket costs what one in 3 % costs)."""
    enough = math.isqrt(int(SQLITE_SORT_MATCHES_FACTOR * tickets)) + 1
    found = session().scalar(
        text(
            f"SELECT count(*) FROM (SELECT 1 FROM {SQLITE_SEARCH_TABLE}"
            f" WHERE {SQLITE_SEARCH_TABLE} MATCH :fts_query LIMIT :enough)"
        ),
        {"fts_query": expression, "enough": enough},
    )
    return float(found or 0)


def _sqlite_ticket_count() -> float:
    """The number of tickets, near enough (the largest id), kept like PostgreSQL's estimate."""

    def read() -> float:
        return float(session().scalar(select(func.max(Ticket.id))) or 0)

    return cached_for_app("search_ticket_count", TICKET_COUNT_TTL, read)


_DOCUMENTS = table(
    PG_SEARCH_TABLE,
    column("ticket_id", Integer),
    column("updated_at", DateTime),
    column("created_at", DateTime),
    column("priority", Integer),
    column("document"),
)

# Sort the matches when fewer than sqrt(SORT_MATCHES_FACTOR × tickets) are expected, walk the
# queue otherwise. Measured at 1,000,000 tickets (docs/performance.rst, bench/explain_queue.py
# --search-plan), for an agent who sees 40 % of them: sorting costs 2 to 4 ms per 1,000
# matches (reading their search rows), walking about 180 ms divided by the thousands of
# matches (a word in 7,700 tickets: sorted 15 ms, walked 24 ms; in 81,600 tickets: sorted
# 320 ms, walked 3 ms). The two meet near 10,000 matches, sqrt(100 × 10⁶). Both costs grow
# with the table (sorting with the matches, walking with the gaps between them), hence the
# square root.
SORT_MATCHES_FACTOR = 100


# SQLite's factor, measured the same way at 100,000 tickets (bench/explain_queue.py
# --search-plan, CPU time): sorting costs about 7 ms per 1,000 matches (each is looked up and
# joined before the sort), walking about 0.3 ms per 1,000 tickets walked plus reading the
# match set; a word in 344 tickets: sorted 8.3 ms, walked 10.7; in 2,872: sorted 25.9, walked
# 12.9; in 16,020: sorted 105, walked 11. The two meet near sqrt(3 × tickets) matches.
SQLITE_SORT_MATCHES_FACTOR = 3


def walk_the_queue(matches: float, tickets: float, factor: float = SORT_MATCHES_FACTOR) -> bool:
    """Walk the queue (True) or sort the matches (False), for the number (PostgreSQL: the
    estimate) of matching tickets and of all tickets (0 before PostgreSQL's first ANALYZE: a
    new desk is small). *factor* is the database's: where its two plans cost the same."""
    return tickets > 0 and matches * matches >= factor * tickets


def _postgresql(words: list[str], code: str | None) -> TicketMatch:
    """Which plan is right depends on how many tickets match, a thousandfold: a word in 80,000
    tickets is found on the first page after walking a few hundred tickets of the queue, and
    sorting its matches takes most of a second; a word in 2,000 tickets is the other way
    round. PostgreSQL's own choice between the two is often wrong here (its cost model
    underrates the walk), so the helpdesk asks it only for its *estimate* of the matches
    (one EXPLAIN, about a millisecond, from the word statistics ANALYZE keeps) and writes the
    query so that only the chosen plan is possible.
    """
    tsquery = _tsquery_sql(words, code)
    if walk_the_queue(*_estimate(tsquery)):
        # Tested per ticket as the queue is walked: a correlated subquery cannot be turned
        # into a join that reads every match first.
        documents = _DOCUMENTS.c
        document = (
            select(documents.document).where(documents.ticket_id == Ticket.id).scalar_subquery()
        )
        return TicketMatch(_matches(document, tsquery))
    documents = _DOCUMENTS.c
    rows = select(
        documents.ticket_id, documents.updated_at, documents.created_at, documents.priority
    ).where(_matches(documents.document, tsquery))
    return TicketMatch(
        Ticket.id.in_(rows.with_only_columns(documents.ticket_id)), sorted_matches=rows
    )


def _matches(document: ColumnElement[Any], tsquery: str) -> ColumnElement[bool]:
    return document.bool_op("@@")(literal_column(tsquery))


def _tsquery_sql(words: list[str], code: str | None) -> str:
    r"""The tsquery as an SQL expression, written into the statement rather than sent as a
    parameter: the estimate must be PostgreSQL's for *these* words (a prepared statement's
    generic plan knows nothing of them). Each typed word becomes the whole words it begins
    (:func:`_whole_words`), or stays a prefix when it begins too many. Safe to inline: typed
    words are ``\w+``, codes ``[\w-]+``, and every quote and backslash is escaped all the
    same."""
    parts = []
    if words:
        terms = []
        for word, whole in zip(words, _whole_words(words), strict=True):
            if whole:
                alternatives = " | ".join(_lexeme(w) for w in whole)
                terms.append(f"{_quote(f'({alternatives})')}::tsquery")
            else:  # too many words, or none at all (then nothing matches, and fast)
                terms.append(f"to_tsquery('{PG_TS_CONFIG}', {_quote(f'{word}:*')})")
        parts.append("(" + " && ".join(terms) + ")")
    if code:
        # One word of the ticket's document, quoted so the parser keeps "hd-4f7k2q" whole.
        parts.append(f"{_quote(_lexeme(code.lower()))}::tsquery")
    return "(" + " || ".join(parts) + ")"


# A typed word that begins more whole words than this is searched as a prefix (GIN collects
# their matches; slower for a short prefix of common words, but a query stays a few terms).
MAX_WHOLE_WORDS = 64


def _whole_words(prefixes: list[str]) -> list[list[str]]:
    """For each typed word, the words of the search documents it begins (itself included if
    it is one), from ``helpdesk_search_word`` (models/search.py), in one statement. An empty
    list when it begins more than :data:`MAX_WHOLE_WORDS` words, or none."""
    selects, parameters = [], {}
    for n, prefix in enumerate(prefixes):
        # Byte order: the words beginning with the prefix lie between it and the prefix
        # followed by the greatest character there is.
        parameters[f"from_{n}"], parameters[f"to_{n}"] = prefix, prefix + "\U0010ffff"
        selects.append(
            f"(SELECT {n} AS n, word FROM (SELECT DISTINCT word FROM {PG_WORDS_TABLE}"
            f" WHERE word >= :from_{n} AND word < :to_{n} ORDER BY word"
            f" LIMIT {MAX_WHOLE_WORDS + 1}) AS words_{n})"
        )
    # The same statement turns PostgreSQL's JIT compiler off for the rest of the transaction:
    # the walk's cost estimate (a million tickets, of which a page is read) passes the JIT
    # threshold, and compiling took 34 ms for a query that runs in 8 (docs/performance.rst).
    selects.insert(0, "(SELECT -1 AS n, set_config('jit', 'off', true) AS word)")
    found: list[list[str]] = [[] for _ in prefixes]
    for n, word in session().execute(text(" UNION ALL ".join(selects)), parameters):
        if n >= 0:
            found[n].append(word)
    return [words if len(words) <= MAX_WHOLE_WORDS else [] for words in found]


def _lexeme(word: str) -> str:
    """*word* as one lexeme of a tsquery's text: quoted, its quotes and backslashes escaped."""
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _estimate(tsquery: str) -> tuple[float, float]:
    """PostgreSQL's estimates of (tickets matching, tickets in all).

    The matches from one EXPLAIN: the top node's row estimate, which is the total even when
    the plan is parallel. The number of tickets from the table's statistics, kept for
    ``TICKET_COUNT_TTL`` seconds per app: it moves slowly, and the threshold depends only on
    its square root.
    """
    plan = session().scalar(
        text(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {PG_SEARCH_TABLE} WHERE document @@ {tsquery}")
    )
    if isinstance(plan, str):  # drivers that do not decode json
        plan = json.loads(plan)
    return float(plan[0]["Plan"]["Plan Rows"]), _ticket_count()


TICKET_COUNT_TTL = 600.0


def _ticket_count() -> float:
    """Tickets with a search document, as PostgreSQL's statistics count them (0 before the
    first ANALYZE: a small or new desk, where sorting the matches is always right)."""

    def read() -> float:
        count = session().scalar(
            text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:table)"),
            {"table": PG_SEARCH_TABLE},
        )
        return max(float(count or 0), 0.0)  # -1: never analyzed

    return cached_for_app("search_ticket_count", TICKET_COUNT_TTL, read)


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
