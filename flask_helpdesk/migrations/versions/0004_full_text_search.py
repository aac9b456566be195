"""Full-text search: GIN expression indexes on PostgreSQL, FTS5 tables on SQLite.

What each backend gets, and why, is explained in the package's models/search.py; the
statements are copied here, not imported, so this revision keeps meaning what it meant.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 09:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# index name -> (table, column)
POSTGRES_INDEXES = {
    "ix_helpdesk_message_body_fts": ("helpdesk_message", "body"),
    "ix_helpdesk_ticket_subject_fts": ("helpdesk_ticket", "subject"),
}
# fts table -> (content table, column)
SQLITE_FTS = {
    "helpdesk_message_fts": ("helpdesk_message", "body"),
    "helpdesk_ticket_fts": ("helpdesk_ticket", "subject"),
}
TOKENIZER = "unicode61 remove_diacritics 2"


def sqlite_statements(fts: str, table: str, column: str) -> list[str]:
    return [
        f"CREATE VIRTUAL TABLE {fts} USING fts5("
        f"{column}, content='{table}', content_rowid='id', tokenize='{TOKENIZER}')",
        f"CREATE TRIGGER {fts}_ai AFTER INSERT ON {table} BEGIN "
        f"INSERT INTO {fts}(rowid, {column}) VALUES (new.id, new.{column}); END",
        f"CREATE TRIGGER {fts}_ad AFTER DELETE ON {table} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, {column}) VALUES ('delete', old.id, old.{column}); END",
        f"CREATE TRIGGER {fts}_au AFTER UPDATE OF {column} ON {table} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, {column}) VALUES ('delete', old.id, old.{column}); "
        f"INSERT INTO {fts}(rowid, {column}) VALUES (new.id, new.{column}); END",
        # Index the rows that exist already.
        f"INSERT INTO {fts}({fts}) VALUES ('rebuild')",
    ]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for name, (table, column) in POSTGRES_INDEXES.items():
            op.create_index(
                name,
                table,
                [sa.text(f"to_tsvector('simple'::regconfig, {column})")],
                postgresql_using="gin",
            )
    elif dialect == "sqlite":
        for fts, (table, column) in SQLITE_FTS.items():
            for statement in sqlite_statements(fts, table, column):
                op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for name, (table, _column) in POSTGRES_INDEXES.items():
            op.drop_index(name, table_name=table)
    elif dialect == "sqlite":
        for fts in SQLITE_FTS:
            for suffix in ("ai", "ad", "au"):
                op.execute(f"DROP TRIGGER IF EXISTS {fts}_{suffix}")
            op.execute(f"DROP TABLE IF EXISTS {fts}")
