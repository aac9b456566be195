"""The database objects behind article search, tied to the lifecycle of the article table.

Kept in step by the database (triggers), as the ticket search is (see ``search.py``), so every
way an article is written is searched the same.

* **PostgreSQL**: two ``tsvector`` per article in ``helpdesk_kb_article_search``, the title's
  words and all its words (the search weighs a title word above a text word), each with a GIN
  index; the ``simple`` configuration, because articles are written in English, Vietnamese and
  Persian and no one stemmer fits all three. The documents live in a table of their own, not
  columns of the article, because the models cannot describe a ``tsvector`` column SQLite could
  also create. And every word of every article in ``helpdesk_kb_word`` with a trigram index
  (``pg_trgm``), so that a typo ("pasword") is searched as the known word nearest to it: the
  list is thousands of words where the titles are thousands of articles, and a typo that looks
  like a common word then costs one lookup instead of comparing it with every title that has
  that word. Words are only added (a word left over by a deleted article costs nothing).
* **SQLite**: an FTS5 *external content* table over title and body, ranked with ``bm25`` (the
  title weighted above the body), with the same accent-folding tokenizer as the ticket search.
"""

from __future__ import annotations

from sqlalchemy import DDL, event

from .knowledge import Article
from .search import PG_TS_CONFIG, sqlite_fts_statements

PG_ARTICLE_SEARCH_TABLE = "helpdesk_kb_article_search"
# The body's words beyond this many characters are not indexed (a tsvector holds 1 MB at most).
PG_ARTICLE_MAX_CHARS = 200_000
# The words kept in the list of known words: shorter ones are not corrected (too many look
# alike), longer ones are not words.
PG_WORD_MIN, PG_WORD_MAX = 4, 40

# Accent folding ("dat lai mat khau" finds "Đặt lại mật khẩu"): ``unaccent`` from PostgreSQL's
# contrib when the server has it; else the folding function returns the text unchanged and a
# WARNING says so (the search still works, accents then matter). Both sides go through the one
# function: the documents in the trigger, the typed words in the query (services/kb_search.py).
# (Percent signs doubled: DDL() formats its text with Python's % operator.)
PG_FOLD_FUNCTION = "helpdesk_kb_fold"
PG_FOLD_DDL = [
    """DO $$ BEGIN
        CREATE EXTENSION IF NOT EXISTS unaccent;
    EXCEPTION WHEN OTHERS THEN
        RAISE WARNING 'flask-helpdesk: PostgreSQL has no unaccent extension (%%); article'
            ' search will not fold accents', SQLERRM;
    END $$""",
    f"""DO $$ DECLARE schema_name TEXT := (SELECT extnamespace::regnamespace::text
        FROM pg_extension WHERE extname = 'unaccent');
    BEGIN
        IF schema_name IS NULL THEN
            EXECUTE 'CREATE FUNCTION {PG_FOLD_FUNCTION}(value TEXT) RETURNS TEXT'
                ' LANGUAGE sql IMMUTABLE PARALLEL SAFE AS ''SELECT value''';
        ELSE
            EXECUTE format('CREATE FUNCTION {PG_FOLD_FUNCTION}(value TEXT) RETURNS TEXT'
                ' LANGUAGE sql STABLE PARALLEL SAFE AS %%L',
                format('SELECT %%s.unaccent(value)', schema_name));
        END IF;
    END $$""",
]

PG_ARTICLE_SEARCH_TRIGGER = f"""CREATE OR REPLACE FUNCTION helpdesk_kb_article_search_trigger()
    RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        words TSVECTOR := strip(to_tsvector('{PG_TS_CONFIG}', {PG_FOLD_FUNCTION}(
            coalesce(NEW.title, '') || ' '
            || left(coalesce(NEW.body_text, ''), {PG_ARTICLE_MAX_CHARS}))));
    BEGIN
        INSERT INTO {PG_ARTICLE_SEARCH_TABLE} (article_id, title_document, document)
        VALUES (NEW.id, strip(to_tsvector('{PG_TS_CONFIG}',
            {PG_FOLD_FUNCTION}(coalesce(NEW.title, '')))), words)
        ON CONFLICT (article_id) DO UPDATE SET title_document = excluded.title_document,
            document = excluded.document;
        INSERT INTO helpdesk_kb_word (word)
        SELECT word FROM unnest(tsvector_to_array(words)) AS new (word)
        WHERE length(word) BETWEEN {PG_WORD_MIN} AND {PG_WORD_MAX}
        ON CONFLICT (word) DO NOTHING;
        RETURN NULL;
    END $$"""

PG_ARTICLE_SEARCH_DDL = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    *PG_FOLD_DDL,
    f"""CREATE TABLE {PG_ARTICLE_SEARCH_TABLE} (
        article_id INTEGER NOT NULL
            CONSTRAINT pk_{PG_ARTICLE_SEARCH_TABLE} PRIMARY KEY
            CONSTRAINT fk_{PG_ARTICLE_SEARCH_TABLE}_article_id_helpdesk_kb_article
                REFERENCES helpdesk_kb_article (id) ON DELETE CASCADE,
        title_document TSVECTOR NOT NULL,
        document TSVECTOR NOT NULL)""",
    f"""CREATE INDEX ix_{PG_ARTICLE_SEARCH_TABLE}_fts ON {PG_ARTICLE_SEARCH_TABLE}
        USING gin (document)""",
    """CREATE INDEX ix_helpdesk_kb_article_search_title_fts ON helpdesk_kb_article_search
        USING gin (title_document)""",
    'CREATE TABLE helpdesk_kb_word (word TEXT COLLATE "C" NOT NULL'
    " CONSTRAINT pk_helpdesk_kb_word PRIMARY KEY)",
    "CREATE INDEX ix_helpdesk_kb_word_trgm ON helpdesk_kb_word USING gin (word gin_trgm_ops)",
    PG_ARTICLE_SEARCH_TRIGGER,
    """CREATE TRIGGER helpdesk_kb_article_search AFTER INSERT OR UPDATE OF title, body_text
    ON helpdesk_kb_article FOR EACH ROW EXECUTE FUNCTION helpdesk_kb_article_search_trigger()""",
]

PG_ARTICLE_SEARCH_DROP = [
    f"DROP TABLE IF EXISTS {PG_ARTICLE_SEARCH_TABLE}",
    "DROP TABLE IF EXISTS helpdesk_kb_word",
    "DROP FUNCTION IF EXISTS helpdesk_kb_article_search_trigger() CASCADE",  # and its trigger
    f"DROP FUNCTION IF EXISTS {PG_FOLD_FUNCTION}(TEXT)",
]

SQLITE_ARTICLE_FTS = "helpdesk_kb_article_fts"
SQLITE_ARTICLE_COLUMNS = ("title", "body_text")

_table = Article.__table__
for _statement in sqlite_fts_statements(SQLITE_ARTICLE_FTS, _table.name, SQLITE_ARTICLE_COLUMNS):
    event.listen(_table, "after_create", DDL(_statement).execute_if(dialect="sqlite"))
event.listen(
    _table,
    "before_drop",
    DDL(f"DROP TABLE IF EXISTS {SQLITE_ARTICLE_FTS}").execute_if(dialect="sqlite"),
)
for _statement in PG_ARTICLE_SEARCH_DDL:
    event.listen(_table, "after_create", DDL(_statement).execute_if(dialect="postgresql"))
for _statement in PG_ARTICLE_SEARCH_DROP:
    event.listen(_table, "before_drop", DDL(_statement).execute_if(dialect="postgresql"))
