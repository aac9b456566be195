"""SQLite search: one FTS5 document per ticket, like PostgreSQL's, instead of one per message.

With an index entry per message, a search had to collect every matching message and look up its
ticket before the queue could show its first page: 79 ms at 100,000 tickets for a word in 30 %
of them, 178 ms for two common words (docs/performance.rst). With one document per ticket the
index gives ticket ids directly, and the queue either walks its own order testing each ticket
against them or sorts a few hundred matches (services/search.py). Two words now match when they
are anywhere in the ticket (subject, any message), as on PostgreSQL, not only in one message.

What the objects are, and why, is explained in the package's models/search.py; the statements
are copied here, not imported, so this revision keeps meaning what it meant. PostgreSQL: no
change. Writes to tickets and messages wait until the revision commits (every document is
written once); see docs/migrations.rst for how long that takes.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-06 09:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TOKENIZER = "unicode61 remove_diacritics 2"
TABLE = "helpdesk_ticket_search_fts"
MAX_CHARS = 200_000

REFRESH = f"""DELETE FROM {TABLE} WHERE rowid = {{ticket}};
    INSERT INTO {TABLE} (rowid, document)
    SELECT t.id, substr(coalesce(t.subject, '') || ' ' || coalesce((
        SELECT group_concat(thread.body, ' ') FROM (
            SELECT m.body FROM helpdesk_message AS m WHERE m.ticket_id = t.id ORDER BY m.id
        ) AS thread), ''), 1, {MAX_CHARS})
    FROM helpdesk_ticket AS t WHERE t.id = {{ticket}};"""

CREATE = [
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {TABLE} USING fts5(document, tokenize='{TOKENIZER}')",
    f"CREATE TRIGGER IF NOT EXISTS {TABLE}_ticket_ai AFTER INSERT ON helpdesk_ticket"
    f" BEGIN {REFRESH.format(ticket='new.id')} END",
    f"CREATE TRIGGER IF NOT EXISTS {TABLE}_ticket_au AFTER UPDATE OF subject ON helpdesk_ticket"
    f" WHEN old.subject IS NOT new.subject BEGIN {REFRESH.format(ticket='new.id')} END",
    f"CREATE TRIGGER IF NOT EXISTS {TABLE}_ticket_ad AFTER DELETE ON helpdesk_ticket"
    f" BEGIN DELETE FROM {TABLE} WHERE rowid = old.id; END",
    f"CREATE TRIGGER IF NOT EXISTS {TABLE}_message_ai AFTER INSERT ON helpdesk_message"
    f" BEGIN {REFRESH.format(ticket='new.ticket_id')} END",
    f"CREATE TRIGGER IF NOT EXISTS {TABLE}_message_au AFTER UPDATE OF body, ticket_id"
    f" ON helpdesk_message BEGIN {REFRESH.format(ticket='old.ticket_id')}"
    f" {REFRESH.format(ticket='new.ticket_id')} END",
    f"CREATE TRIGGER IF NOT EXISTS {TABLE}_message_ad AFTER DELETE ON helpdesk_message"
    f" BEGIN {REFRESH.format(ticket='old.ticket_id')} END",
    # Every ticket's document, from the rows there are.
    f"""INSERT INTO {TABLE} (rowid, document)
    SELECT t.id, substr(coalesce(t.subject, '') || ' ' || coalesce((
        SELECT group_concat(thread.body, ' ') FROM (
            SELECT m.body FROM helpdesk_message AS m WHERE m.ticket_id = t.id ORDER BY m.id
        ) AS thread), ''), 1, {MAX_CHARS})
    FROM helpdesk_ticket AS t""",
]

# Revision 0004's indexes: one entry per message, one per subject (external content).
OLD_FTS = {
    "helpdesk_message_fts": ("helpdesk_message", "body"),
    "helpdesk_ticket_fts": ("helpdesk_ticket", "subject"),
}


def old_fts_statements(fts: str, table: str, column: str) -> list[str]:
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
        f"INSERT INTO {fts}({fts}) VALUES ('rebuild')",
    ]


def drop_old() -> None:
    for fts in OLD_FTS:
        for suffix in ("ai", "ad", "au"):
            op.execute(f"DROP TRIGGER IF EXISTS {fts}_{suffix}")
        op.execute(f"DROP TABLE IF EXISTS {fts}")


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    drop_old()
    for statement in CREATE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for suffix in ("ticket_ai", "ticket_au", "ticket_ad", "message_ai", "message_au", "message_ad"):
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_{suffix}")
    op.execute(f"DROP TABLE IF EXISTS {TABLE}")
    drop_old()  # a database made by create_all may have neither; none is left half made
    for fts, (table, column) in OLD_FTS.items():
        for statement in old_fts_statements(fts, table, column):
            op.execute(statement)
