"""The database objects behind full-text search, tied to the lifecycle of their tables.

Why the database keeps the index in step, not the services: a message's text reaches the
table through many doors (portal, desk, mail intake, API, merges that move messages in bulk,
imports); an index that only some doors remember to update silently loses tickets from search.

* **PostgreSQL**: GIN *expression* indexes on ``to_tsvector('simple', body)`` and
  ``to_tsvector('simple', subject)``. There is no extra column to fill: the index *is* the
  text, updated by PostgreSQL in the same transaction. The ``simple`` configuration (no
  stemming, no stop words) because tickets arrive in Vietnamese, Persian and English and a
  language-specific stemmer would mangle the other two.
* **SQLite**: FTS5 *external content* tables (``helpdesk_message_fts``, ``helpdesk_ticket_fts``)
  that store only the token index and read text from the real tables, kept in step by triggers
  created with the tables. The ``unicode61 remove_diacritics 2`` tokenizer lets "tao" find
  "tạo", which Vietnamese users type without accents all the time.

These objects are created by ``metadata.create_all`` (DDL events below, so ``state.create_all()``
and any host calling ``create_all`` get them) and by the helpdesk's migration.
"""

from __future__ import annotations

from sqlalchemy import DDL, Index, event, func, literal_column

from .ticket import Message, Ticket

# The text search configuration; the query side (services/search.py) must use the same one.
PG_TS_CONFIG = "simple"

Index(
    "ix_helpdesk_message_body_fts",
    func.to_tsvector(literal_column(f"'{PG_TS_CONFIG}'::regconfig"), Message.body),
    postgresql_using="gin",
).ddl_if(dialect="postgresql")

Index(
    "ix_helpdesk_ticket_subject_fts",
    func.to_tsvector(literal_column(f"'{PG_TS_CONFIG}'::regconfig"), Ticket.subject),
    postgresql_using="gin",
).ddl_if(dialect="postgresql")

TOKENIZER = "unicode61 remove_diacritics 2"


def sqlite_fts_statements(fts: str, table: str, column: str) -> list[str]:
    """DDL of one FTS5 external-content index on ``table.column`` and its three triggers."""
    return [
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5("
        f"{column}, content='{table}', content_rowid='id', tokenize='{TOKENIZER}')",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_ai AFTER INSERT ON {table} BEGIN "
        f"INSERT INTO {fts}(rowid, {column}) VALUES (new.id, new.{column}); END",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_ad AFTER DELETE ON {table} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, {column}) VALUES ('delete', old.id, old.{column}); END",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_au AFTER UPDATE OF {column} ON {table} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, {column}) VALUES ('delete', old.id, old.{column}); "
        f"INSERT INTO {fts}(rowid, {column}) VALUES (new.id, new.{column}); END",
    ]


SQLITE_FTS = {
    # table -> (fts table, indexed column)
    "helpdesk_message": ("helpdesk_message_fts", "body"),
    "helpdesk_ticket": ("helpdesk_ticket_fts", "subject"),
}


def _attach(table, fts: str, column: str) -> None:
    for statement in sqlite_fts_statements(fts, table.name, column):
        event.listen(table, "after_create", DDL(statement).execute_if(dialect="sqlite"))
    # Triggers go with their table; the virtual table must be dropped by name.
    event.listen(
        table, "before_drop", DDL(f"DROP TABLE IF EXISTS {fts}").execute_if(dialect="sqlite")
    )


_attach(Message.__table__, *SQLITE_FTS["helpdesk_message"])
_attach(Ticket.__table__, *SQLITE_FTS["helpdesk_ticket"])
