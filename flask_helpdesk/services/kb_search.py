"""Article search: the new-ticket form's suggestions, the help center's search, the desk's picker.

The database's own engine, no search server (objects in ``models/knowledge_search.py``):

* **PostgreSQL**: accents folded on both sides (``unaccent``, when the server has it: see
  ``models/knowledge_search.py``); what was typed is matched as *any* of its words (the last one
  also as a prefix, since it is often still being typed: "passw"), ranked by ``ts_rank`` over
  the weighted document (a title word counts above a body word), plus a bonus when
  ``websearch_to_tsquery`` finds *all* of them, plus the trigram ``word_similarity`` of each
  typed word with the title, which also lets a misspelt word ("pasword") find its article.
* **SQLite**: FTS5 with the same any-word, last-word-prefix query, ranked by ``bm25`` with the
  title weighted ten times the body.

Any word rather than all words: a customer describes a problem ("I want my money back refund"),
they do not type the title; the ranking then puts the articles with the most, rarest and
title-placed words first. Customers only ever get published public articles (the filter is part
of every query here, not of the views).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select, text

from ..inputs import clean_search
from ..models import Article, ArticleStatus, ArticleVisibility
from ..models.knowledge_search import (
    PG_ARTICLE_SEARCH_TABLE,
    PG_FOLD_FUNCTION,
    PG_WORD_MIN,
    SQLITE_ARTICLE_FTS,
)
from ..models.search import PG_TS_CONFIG
from .base import session
from .kb_stopwords import without_stop_words
from .search import terms

SUGGESTIONS = 5  # what the new-ticket form shows
# A typed word this long or longer may be the start of a longer word ("passw" → "password").
PREFIX_MIN = 3
# The trigram likeness (pg_trgm's similarity) from which a known word is taken for a typed word
# no article has ("pasword" → "password").
TRIGRAM_THRESHOLD = 0.4
# A word in more articles than this is common: looked for in titles only (see _ranked).
COMMON = 500
# A word found in an article's title counts this many times one found in its text.
TITLE_WEIGHT = 5.0


@dataclass(frozen=True)
class Audience:
    """Whose search it is: customers see published public articles; agents may ask for
    internal ones (and drafts, in the desk's picker)."""

    internal: bool = False
    drafts: bool = False


CUSTOMERS = Audience()


def search_articles(
    query: str, language: str | None, limit: int = SUGGESTIONS, audience: Audience = CUSTOMERS
) -> list[Article]:
    """The best *limit* articles for *query* in *language* (None: any), best first."""
    words = terms(clean_search(query))
    words = without_stop_words([w for w in words if len(w) > 1] or words, language)
    if not words or limit < 1:
        return []
    ids = _ranked(words, language, limit, audience)
    if not ids:
        return []
    found = {a.id: a for a in session().scalars(select(Article).where(Article.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


def _filters(audience: Audience, language: str | None) -> tuple[str, dict[str, str]]:
    """SQL on ``a`` (the article table) keeping what *audience* may see in *language*."""
    clauses: list[str] = []
    params: dict[str, str] = {}
    if not audience.drafts:
        clauses.append("a.status = :published")
        params["published"] = ArticleStatus.PUBLISHED.value
    if not audience.internal:
        clauses.append("a.visibility = :public")
        params["public"] = ArticleVisibility.PUBLIC.value
    if language:
        clauses.append("a.language = :language")
        params["language"] = language
    return " AND ".join(clauses) or "1 = 1", params


def _idf(total: int, matching: int) -> float:
    """How telling a word is: high for a rare word, near zero for one in every article (the
    always-positive form of BM25's inverse document frequency)."""
    total = max(total, matching)
    return math.log(1 + (total - matching + 0.5) / (matching + 0.5))


@dataclass(frozen=True)
class _Dialect:
    """How one database matches one word (a bound parameter) in titles and in whole texts."""

    name: str
    total: str  # the number of indexed articles
    in_title: str  # SELECT <article id> ... WHERE <the word is in the title>
    in_text: str  # ... in the title or the text
    word: Callable[[str, bool], str]  # the word as the match expression wants it


def _fts5_word(word: str, prefix: bool) -> str:
    # Quoted: no FTS5 operator can come from the visitor.
    return '"' + word.replace('"', "") + '"' + ("*" if prefix else "")


def _tsquery_word(word: str, prefix: bool) -> str:
    return "'" + word.replace("'", "''") + "'" + (":*" if prefix else "")


_F = SQLITE_ARTICLE_FTS
_T = PG_ARTICLE_SEARCH_TABLE
_C = PG_TS_CONFIG
_U = PG_FOLD_FUNCTION
SQLITE = _Dialect(
    "sqlite",
    total="SELECT count(*) FROM helpdesk_kb_article",
    in_title=f"SELECT rowid AS id FROM {_F} WHERE {_F} MATCH 'title : ' || :{{p}}",
    in_text=f"SELECT rowid AS id FROM {_F} WHERE {_F} MATCH :{{p}}",
    word=_fts5_word,
)
POSTGRESQL = _Dialect(
    "postgresql",
    # The planner's row count once the table is large (counting 10,000 rows takes 15 ms);
    # counted while it is small or not analyzed yet (-1).
    total=f"SELECT CASE WHEN reltuples < 1000 THEN (SELECT count(*) FROM {_T})"
    f" ELSE reltuples::bigint END FROM pg_class WHERE oid = '{_T}'::regclass",
    # The typed words folded as the documents are (accents off where unaccent is installed).
    in_title=f"SELECT article_id AS id FROM {_T}"
    f" WHERE title_document @@ to_tsquery('{_C}', {_U}(:{{p}}))",
    in_text=f"SELECT article_id AS id FROM {_T} WHERE document @@ to_tsquery('{_C}', {_U}(:{{p}}))",
    word=_tsquery_word,
)


def _ranked(
    words: list[str], language: str | None, limit: int, audience: Audience, correct: bool = True
) -> list[int]:
    """Each typed word weighs its rarity (:func:`_idf`), five times over when it is in the
    title; an article's score is the sum over the words it has.

    Every step reads a bounded number of index entries, so a word in every article costs no
    more than a rare one: the number of articles with a word is counted up to
    :data:`COMMON` only, and a word found in more texts than that is looked for in titles only
    (its weight in a text is close to nothing anyway), and at most :data:`COMMON` of them.
    """
    dialect = POSTGRESQL if _dialect() == "postgresql" else SQLITE
    prefixes = [i == len(words) - 1 and len(w) >= PREFIX_MIN for i, w in enumerate(words)]
    params: dict[str, object] = {
        f"w{i}": dialect.word(w, p) for i, (w, p) in enumerate(zip(words, prefixes, strict=True))
    }
    # How many articles have each word, counted up to COMMON + 1 only.
    counted = ", ".join(
        f"(SELECT count(*) FROM ({dialect.in_text.format(p=f'w{i}')} LIMIT {COMMON + 1}) AS w{i})"
        for i in range(len(words))
    )
    counts = session().execute(text(f"SELECT ({dialect.total}), {counted}"), params).one()
    total = counts[0]
    if dialect is POSTGRESQL and correct:
        corrected = _corrected(words, list(counts[1:]))
        if corrected != words:
            return _ranked(corrected, language, limit, audience, correct=False)
    hits: list[str] = []
    for i, matching in enumerate(counts[1:]):
        if not matching:
            continue
        weight = _idf(total, matching)
        params |= {f"t{i}": weight * TITLE_WEIGHT, f"b{i}": weight}
        in_title = dialect.in_title.format(p=f"w{i}")
        if matching <= COMMON:
            # Its titles are among its texts: as few, no limit (which would make PostgreSQL
            # walk the table in the hope of stopping early).
            hits.append(f"SELECT id, :t{i} AS score FROM ({in_title}) AS title{i}")
            in_text = dialect.in_text.format(p=f"w{i}")
            hits.append(f"SELECT id, :b{i} AS score FROM ({in_text}) AS text{i}")
        else:
            hits.append(f"SELECT id, :t{i} AS score FROM ({in_title} LIMIT {COMMON}) AS title{i}")
    if not hits:
        return []
    condition, filters = _filters(audience, language)
    statement = text(
        "SELECT a.id FROM (SELECT id, sum(score) AS score FROM ("
        + " UNION ALL ".join(hits)
        + ") AS hits GROUP BY id) AS hit JOIN helpdesk_kb_article AS a ON a.id = hit.id"
        f" WHERE {condition} ORDER BY hit.score DESC, a.id LIMIT :limit"
    )
    return [row[0] for row in session().execute(statement, {**params, **filters, "limit": limit})]


def _corrected(words: list[str], counts: list[int]) -> list[str]:
    """*words*, each one no article has replaced by the known word most like it (PostgreSQL's
    trigrams over the list of known words), if one is like enough ("pasword" → "password")."""
    typos = [w for w, n in zip(words, counts, strict=True) if not n and len(w) >= PG_WORD_MIN]
    if not typos:
        return words
    session().execute(
        text("SELECT set_config('pg_trgm.similarity_threshold', :t, true)"),
        {"t": str(TRIGRAM_THRESHOLD)},
    )
    rows = session().execute(
        text(
            "SELECT typo, (SELECT word FROM helpdesk_kb_word WHERE word % folded"
            " ORDER BY similarity(word, folded) DESC, word LIMIT 1)"
            f" FROM (SELECT typo, {PG_FOLD_FUNCTION}(typo) AS folded"
            " FROM unnest(CAST(:typos AS text[])) AS typos (typo)) AS typos"
        ),
        {"typos": typos},
    )
    found = {typo: word for typo, word in rows if word}
    return [found.get(w, w) for w in words]


def _dialect() -> str:
    return session().get_bind(mapper=Article).dialect.name
