"""Knowledge base (issue 15): categories, articles per language with revisions, files,
deflections, contact-form requests, and the article search.

The search objects (a weighted tsvector per article and a trigram index on titles on
PostgreSQL, an FTS5 table on SQLite) are explained in the package's models/knowledge_search.py;
the statements are copied here, not imported, so this revision keeps meaning what it meant (a
test checks that both still build the same objects).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 05:38:44.482830
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


PG_CREATE = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    """CREATE TABLE helpdesk_kb_article_search (
        article_id INTEGER NOT NULL
            CONSTRAINT pk_helpdesk_kb_article_search PRIMARY KEY
            CONSTRAINT fk_helpdesk_kb_article_search_article_id_helpdesk_kb_article
                REFERENCES helpdesk_kb_article (id) ON DELETE CASCADE,
        title_document TSVECTOR NOT NULL,
        document TSVECTOR NOT NULL)""",
    """CREATE INDEX ix_helpdesk_kb_article_search_fts ON helpdesk_kb_article_search
        USING gin (document)""",
    """CREATE INDEX ix_helpdesk_kb_article_search_title_fts ON helpdesk_kb_article_search
        USING gin (title_document)""",
    'CREATE TABLE helpdesk_kb_word (word TEXT COLLATE "C" NOT NULL'
    " CONSTRAINT pk_helpdesk_kb_word PRIMARY KEY)",
    "CREATE INDEX ix_helpdesk_kb_word_trgm ON helpdesk_kb_word USING gin (word gin_trgm_ops)",
    """CREATE FUNCTION helpdesk_kb_article_search_trigger() RETURNS trigger
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
    END $$""",
    """CREATE TRIGGER helpdesk_kb_article_search AFTER INSERT OR UPDATE OF title, body_text
    ON helpdesk_kb_article FOR EACH ROW EXECUTE FUNCTION helpdesk_kb_article_search_trigger()""",
]
PG_DROP = [
    "DROP TABLE IF EXISTS helpdesk_kb_article_search",
    "DROP TABLE IF EXISTS helpdesk_kb_word",
    "DROP FUNCTION IF EXISTS helpdesk_kb_article_search_trigger() CASCADE",
]
SQLITE_CREATE = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS helpdesk_kb_article_fts USING fts5(title, body_text,"
    " content='helpdesk_kb_article', content_rowid='id',"
    " tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER IF NOT EXISTS helpdesk_kb_article_fts_ai AFTER INSERT ON helpdesk_kb_article"
    " BEGIN INSERT INTO helpdesk_kb_article_fts(rowid, title, body_text)"
    " VALUES (new.id, new.title, new.body_text); END",
    "CREATE TRIGGER IF NOT EXISTS helpdesk_kb_article_fts_ad AFTER DELETE ON helpdesk_kb_article"
    " BEGIN INSERT INTO helpdesk_kb_article_fts(helpdesk_kb_article_fts, rowid, title, body_text)"
    " VALUES ('delete', old.id, old.title, old.body_text); END",
    "CREATE TRIGGER IF NOT EXISTS helpdesk_kb_article_fts_au AFTER UPDATE OF title, body_text"
    " ON helpdesk_kb_article BEGIN"
    " INSERT INTO helpdesk_kb_article_fts(helpdesk_kb_article_fts, rowid, title, body_text)"
    " VALUES ('delete', old.id, old.title, old.body_text);"
    " INSERT INTO helpdesk_kb_article_fts(rowid, title, body_text)"
    " VALUES (new.id, new.title, new.body_text); END",
]
SQLITE_DROP = [
    *(f"DROP TRIGGER IF EXISTS helpdesk_kb_article_fts_{suffix}" for suffix in ("ai", "ad", "au")),
    "DROP TABLE IF EXISTS helpdesk_kb_article_fts",
]


def _search_objects(statements: dict[str, list[str]]) -> None:
    for statement in statements.get(op.get_bind().dialect.name, []):
        op.execute(statement)


def upgrade() -> None:
    op.create_table(
        "helpdesk_kb_category",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("names", sa.JSON(), nullable=False),
        sa.Column("descriptions", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_kb_category")),
        sa.UniqueConstraint("slug", name=op.f("uq_helpdesk_kb_category_slug")),
    )
    op.create_table(
        "helpdesk_kb_article",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("translation_group", sa.String(length=32), nullable=False),
        sa.Column("slug", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body_markdown", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("visibility", sa.String(length=20), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("helpful_yes", sa.Integer(), nullable=False),
        sa.Column("helpful_no", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["helpdesk_agent.id"],
            name=op.f("fk_helpdesk_kb_article_author_id_helpdesk_agent"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["helpdesk_kb_category.id"],
            name=op.f("fk_helpdesk_kb_article_category_id_helpdesk_kb_category"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_kb_article")),
        sa.UniqueConstraint("language", "slug", name=op.f("uq_helpdesk_kb_article_language")),
        sa.UniqueConstraint(
            "translation_group", "language", name=op.f("uq_helpdesk_kb_article_translation_group")
        ),
    )
    with op.batch_alter_table("helpdesk_kb_article", schema=None) as batch_op:
        batch_op.create_index(
            "ix_helpdesk_kb_article_listing",
            ["language", "status", "visibility", "category_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_helpdesk_kb_article_translation_group"),
            ["translation_group"],
            unique=False,
        )

    op.create_table(
        "helpdesk_contact_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("ip_address", sa.String(length=45), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["helpdesk_department.id"],
            name=op.f("fk_helpdesk_contact_request_department_id_helpdesk_department"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["helpdesk_ticket.id"],
            name=op.f("fk_helpdesk_contact_request_ticket_id_helpdesk_ticket"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_contact_request")),
    )
    with op.batch_alter_table("helpdesk_contact_request", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_helpdesk_contact_request_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_helpdesk_contact_request_email"), ["email"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_helpdesk_contact_request_ip_address"), ["ip_address"], unique=False
        )

    op.create_table(
        "helpdesk_kb_deflection",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["helpdesk_kb_article.id"],
            name=op.f("fk_helpdesk_kb_deflection_article_id_helpdesk_kb_article"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["helpdesk_contact.id"],
            name=op.f("fk_helpdesk_kb_deflection_contact_id_helpdesk_contact"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["helpdesk_ticket.id"],
            name=op.f("fk_helpdesk_kb_deflection_ticket_id_helpdesk_ticket"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_kb_deflection")),
    )
    with op.batch_alter_table("helpdesk_kb_deflection", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_helpdesk_kb_deflection_article_id"), ["article_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_helpdesk_kb_deflection_opened_at"), ["opened_at"], unique=False
        )

    op.create_table(
        "helpdesk_kb_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=127), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["helpdesk_kb_article.id"],
            name=op.f("fk_helpdesk_kb_file_article_id_helpdesk_kb_article"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_kb_file")),
    )
    with op.batch_alter_table("helpdesk_kb_file", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_helpdesk_kb_file_article_id"), ["article_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_helpdesk_kb_file_sha256"), ["sha256"], unique=False)

    op.create_table(
        "helpdesk_kb_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body_markdown", sa.Text(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["helpdesk_kb_article.id"],
            name=op.f("fk_helpdesk_kb_revision_article_id_helpdesk_kb_article"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["helpdesk_agent.id"],
            name=op.f("fk_helpdesk_kb_revision_author_id_helpdesk_agent"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_kb_revision")),
    )
    with op.batch_alter_table("helpdesk_kb_revision", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_helpdesk_kb_revision_article_id"), ["article_id"], unique=False
        )

    _search_objects({"postgresql": PG_CREATE, "sqlite": SQLITE_CREATE})


def downgrade() -> None:
    _search_objects({"postgresql": PG_DROP, "sqlite": SQLITE_DROP})
    with op.batch_alter_table("helpdesk_kb_revision", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_helpdesk_kb_revision_article_id"))

    op.drop_table("helpdesk_kb_revision")
    with op.batch_alter_table("helpdesk_kb_file", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_helpdesk_kb_file_sha256"))
        batch_op.drop_index(batch_op.f("ix_helpdesk_kb_file_article_id"))

    op.drop_table("helpdesk_kb_file")
    with op.batch_alter_table("helpdesk_kb_deflection", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_helpdesk_kb_deflection_opened_at"))
        batch_op.drop_index(batch_op.f("ix_helpdesk_kb_deflection_article_id"))

    op.drop_table("helpdesk_kb_deflection")
    with op.batch_alter_table("helpdesk_contact_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_helpdesk_contact_request_ip_address"))
        batch_op.drop_index(batch_op.f("ix_helpdesk_contact_request_email"))
        batch_op.drop_index(batch_op.f("ix_helpdesk_contact_request_created_at"))

    op.drop_table("helpdesk_contact_request")
    with op.batch_alter_table("helpdesk_kb_article", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_helpdesk_kb_article_translation_group"))
        batch_op.drop_index("ix_helpdesk_kb_article_listing")

    op.drop_table("helpdesk_kb_article")
    op.drop_table("helpdesk_kb_category")
