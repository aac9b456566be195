"""Article search folds accents on PostgreSQL (issue 15): "dat lai mat khau" finds
"Đặt lại mật khẩu", as SQLite's FTS5 tokenizer already does.

Creates the ``unaccent`` extension (PostgreSQL's contrib; trusted since PostgreSQL 13, so the
database owner may create it) when the server has it, and ``helpdesk_kb_fold(text)``: unaccent
then, else the text unchanged, with a WARNING in the migration's output (the search keeps
working, accents then matter). The article trigger folds the documents through it and every
article's documents are rebuilt. Statements copied from models/knowledge_search.py, not
imported, so this revision keeps meaning what it meant (tests/test_migrations.py checks both
build the same objects).

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-06 09:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FOLD = [
    """DO $$ BEGIN
        CREATE EXTENSION IF NOT EXISTS unaccent;
    EXCEPTION WHEN OTHERS THEN
        RAISE WARNING 'flask-helpdesk: PostgreSQL has no unaccent extension (%); article'
            ' search will not fold accents', SQLERRM;
    END $$""",
    """DO $$ DECLARE schema_name TEXT := (SELECT extnamespace::regnamespace::text
        FROM pg_extension WHERE extname = 'unaccent');
    BEGIN
        IF schema_name IS NULL THEN
            EXECUTE 'CREATE FUNCTION helpdesk_kb_fold(value TEXT) RETURNS TEXT'
                ' LANGUAGE sql IMMUTABLE PARALLEL SAFE AS ''SELECT value''';
        ELSE
            EXECUTE format('CREATE FUNCTION helpdesk_kb_fold(value TEXT) RETURNS TEXT'
                ' LANGUAGE sql STABLE PARALLEL SAFE AS %L',
                format('SELECT %s.unaccent(value)', schema_name));
        END IF;
    END $$""",
]

FOLDING_TRIGGER = """CREATE OR REPLACE FUNCTION helpdesk_kb_article_search_trigger()
    RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        words TSVECTOR := strip(to_tsvector('simple', helpdesk_kb_fold(
            coalesce(NEW.title, '') || ' '
            || left(coalesce(NEW.body_text, ''), 200000))));
    BEGIN
        INSERT INTO helpdesk_kb_article_search (article_id, title_document, document)
        VALUES (NEW.id, strip(to_tsvector('simple',
            helpdesk_kb_fold(coalesce(NEW.title, '')))), words)
        ON CONFLICT (article_id) DO UPDATE SET title_document = excluded.title_document,
            document = excluded.document;
        INSERT INTO helpdesk_kb_word (word)
        SELECT word FROM unnest(tsvector_to_array(words)) AS new (word)
        WHERE length(word) BETWEEN 4 AND 40
        ON CONFLICT (word) DO NOTHING;
        RETURN NULL;
    END $$"""

# 0023's trigger, for the downgrade.
PLAIN_TRIGGER = """CREATE OR REPLACE FUNCTION helpdesk_kb_article_search_trigger() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE
        words TSVECTOR := strip(to_tsvector('simple', coalesce(NEW.title, '') || ' '
            || left(coalesce(NEW.body_text, ''), 200000)));
    BEGIN
        INSERT INTO helpdesk_kb_article_search (article_id, title_document, document)
        VALUES (NEW.id, strip(to_tsvector('simple', coalesce(NEW.title, ''))), words)
        ON CONFLICT (article_id) DO UPDATE SET title_document = excluded.title_document,
            document = excluded.document;
        INSERT INTO helpdesk_kb_word (word)
        SELECT word FROM unnest(tsvector_to_array(words)) AS new (word)
        WHERE length(word) BETWEEN 4 AND 40
        ON CONFLICT (word) DO NOTHING;
        RETURN NULL;
    END $$"""

# Fires the trigger on every article: its documents are built again the new way.
REBUILD = "UPDATE helpdesk_kb_article SET title = title"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite's FTS5 tokenizer folds accents already (remove_diacritics 2)
    for statement in [*FOLD, FOLDING_TRIGGER, REBUILD]:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in [PLAIN_TRIGGER, "DROP FUNCTION IF EXISTS helpdesk_kb_fold(TEXT)", REBUILD]:
        op.execute(statement)
