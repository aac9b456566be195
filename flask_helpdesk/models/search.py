"""The database objects behind full-text search, tied to the lifecycle of their tables.

Why the database keeps the index in step, not the services: a message's text reaches the
table through many doors (portal, desk, mail intake, API, merges that move messages in bulk,
imports); an index that only some doors remember to update silently loses tickets from search.

* **PostgreSQL**: one *search document* per ticket (``helpdesk_ticket_search``: a ``tsvector``
  of its code, subject and every message, notes included) with a GIN index, kept in step by
  triggers on ``helpdesk_ticket`` and ``helpdesk_message``. One document per ticket, not one per
  message, because the queue lists tickets in activity order: PostgreSQL can then walk that
  order and test each ticket's document (cheap for a common word), or read a rare word's
  tickets from the GIN index and sort them by the copy of the ticket's sort keys
  (``updated_at``, ``created_at``, ``priority``) the row keeps; with one index entry per
  *message* it had to collect every matching message before it could show the first page
  (seconds for a common word at a million tickets; see docs/performance.rst). The document is
  in a table of its own, not a column of ``helpdesk_ticket``, so that status or assignee
  changes do not rewrite it in the GIN index. The ``simple`` configuration (no stemming, no
  stop words) because tickets arrive in Vietnamese, Persian and English and a
  language-specific stemmer would mangle the other two. Positions are stripped (search needs
  only the words), and only the first ``PG_DOCUMENT_MAX_CHARS`` characters of a thread are
  indexed: a ``tsvector`` is limited to 1 MB, and a thread of pasted logs must never make a
  reply fail to save.
* **SQLite**: one FTS5 document per ticket too (``helpdesk_ticket_search_fts``, its rowid the
  ticket's id: subject and every message, notes included, up to the same cap), rewritten by
  triggers on both tables, for the same reason: the queue can then test each ticket it walks
  against the set of matching tickets read straight from the index, or sort a few hundred
  matches, instead of collecting every matching *message* and looking up its ticket first
  (79 ms for a word in 30 % of 100,000 tickets, 178 ms for two common words; see
  docs/performance.rst). The table keeps its own copy of the text (FTS5 deletes a row by its
  tokens, and a document made of many rows has no single row to read them from). The
  ``unicode61 remove_diacritics 2`` tokenizer lets "tao" find "tạo", which Vietnamese users
  type without accents all the time.

These objects are created by ``metadata.create_all`` (DDL events below, so ``state.create_all()``
and any host calling ``create_all`` get them) and by the helpdesk's migration.
"""

from __future__ import annotations

from sqlalchemy import DDL, event

from .ticket import Message, Ticket

# The text search configuration; the query side (services/search.py) must use the same one.
PG_TS_CONFIG = "simple"
PG_SEARCH_TABLE = "helpdesk_ticket_search"
# How much of a thread (subject, then messages oldest first) goes into its document: the
# messages that start within its first 200,000 bytes, cut at 200,000 characters. Every word of
# that stays far below the 1 MB a tsvector can hold.
PG_DOCUMENT_MAX_CHARS = 200_000

# The document of the ticket row ``t``: its code as one word ("hd-4f7k2q", so a code search is
# one index lookup), then the words of its subject and messages. Only the messages that start
# within the cap are read (``octet_length`` comes from the stored value's header, without
# reading the text): a reply to a thread of a thousand long mails must not aggregate all of them.
_PG_DOCUMENT = f"""array_to_tsvector(ARRAY[lower(t.code)]) || strip(to_tsvector('{PG_TS_CONFIG}',
    left(coalesce(t.subject, '') || ' ' || coalesce((
        SELECT string_agg(thread.body, ' ' ORDER BY thread.id) FROM (
            SELECT m.id, m.body, sum(octet_length(m.body) + 1) OVER (ORDER BY m.id) AS upto
            FROM helpdesk_message AS m WHERE m.ticket_id = t.id) AS thread
        WHERE thread.upto - octet_length(thread.body) <= {PG_DOCUMENT_MAX_CHARS}), ''),
    {PG_DOCUMENT_MAX_CHARS})))"""

# Write the documents of the tickets matching ``condition`` (SQL on ``t``) from their rows.
# Also used by migration 0008 and the benchmark's bulk load to fill the table at once.
PG_WRITE_DOCUMENTS = f"""INSERT INTO {PG_SEARCH_TABLE}
        (ticket_id, updated_at, created_at, priority, document)
    SELECT t.id, t.updated_at, t.created_at, t.priority,
        {_PG_DOCUMENT}
    FROM helpdesk_ticket AS t WHERE {{condition}}
    ON CONFLICT (ticket_id) DO UPDATE SET updated_at = excluded.updated_at,
        created_at = excluded.created_at, priority = excluded.priority,
        document = excluded.document"""

# The queue's sort keys, copied from the ticket on every change. A search that matches a few
# thousand tickets sorts them here, by the values in the rows the GIN index leads to, and then
# reads only the first page's tickets; without the copy it had to read every matching ticket
# to learn its ``updated_at`` (2,700 ticket lookups for a rare word: 30 of its 40 ms at a
# million tickets; see docs/performance.rst). The table's pages keep 20 % free (fillfactor
# above) so that these updates, which change no indexed column, stay on their page and never
# touch the GIN index.
PG_SEARCH_KEYS_DDL = [
    f"""CREATE FUNCTION helpdesk_search_keys_trigger() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE {PG_SEARCH_TABLE} SET updated_at = NEW.updated_at, created_at = NEW.created_at,
            priority = NEW.priority
        WHERE ticket_id = NEW.id;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER helpdesk_ticket_search_keys
    AFTER UPDATE OF updated_at, created_at, priority ON helpdesk_ticket
    FOR EACH ROW WHEN (OLD.updated_at IS DISTINCT FROM NEW.updated_at
        OR OLD.created_at IS DISTINCT FROM NEW.created_at
        OR OLD.priority IS DISTINCT FROM NEW.priority)
    EXECUTE FUNCTION helpdesk_search_keys_trigger()""",
]

PG_SEARCH_INDEX = f"CREATE INDEX ix_{PG_SEARCH_TABLE}_fts ON {PG_SEARCH_TABLE} USING gin (document)"

# Every word of every search document, so that a word typed as a prefix ("invo") can be
# searched as the few whole words it begins ("invoice", "invoices"). GIN answers a prefix by
# collecting the index entries of every word it begins before it can intersect them with the
# other words of the search: for a prefix of a word in 8 % of tickets, 30 ms at a million
# tickets, where the same words searched whole take 2 (the index skips through the long
# lists instead of reading them; see docs/performance.rst). Words are only ever added (one
# deleted with its last ticket costs a search nothing), and the list has no unique index:
# two replies bringing the same new word at once then never wait for each other, and a word
# listed twice is read once.
PG_WORDS_TABLE = "helpdesk_search_word"
PG_WORDS_DDL = [
    f'CREATE TABLE {PG_WORDS_TABLE} (word TEXT COLLATE "C" NOT NULL)',
    # Byte order ("C"): the words a prefix begins are one range of this index.
    f"CREATE INDEX ix_{PG_WORDS_TABLE}_word ON {PG_WORDS_TABLE} (word)",
]
# In the document function: the words of ``after`` that ``before`` did not have and the list
# does not have yet (a reply to a long thread brings a handful). Not the ticket's own code:
# a million codes would make the list a hundred times longer, and a code is searched whole.
PG_ADD_WORDS = f"""INSERT INTO {PG_WORDS_TABLE} (word)
            SELECT added.word FROM unnest(tsvector_to_array(ts_delete(after,
                tsvector_to_array(coalesce(before, '')) || own_code))) AS added (word)
            WHERE NOT EXISTS (SELECT FROM {PG_WORDS_TABLE} AS known
                WHERE known.word = added.word);"""
# All the words at once (migration 0010, the benchmark's bulk load).
PG_WRITE_WORDS = f"""INSERT INTO {PG_WORDS_TABLE} (word)
    SELECT word FROM ts_stat('SELECT ts_delete(s.document, lower(t.code))
        FROM {PG_SEARCH_TABLE} AS s JOIN helpdesk_ticket AS t ON t.id = s.ticket_id')"""

PG_DOCUMENT_TRIGGER = """CREATE OR REPLACE FUNCTION helpdesk_search_document_trigger()
    RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_TABLE_NAME = 'helpdesk_ticket' THEN
            IF TG_OP = 'INSERT' AND EXISTS (
                SELECT FROM helpdesk_message AS m WHERE m.ticket_id = NEW.id
            ) THEN
                RETURN NULL;  -- the message's trigger writes the document
            END IF;
            PERFORM helpdesk_refresh_search_document(NEW.id);
        ELSE
            IF TG_OP <> 'INSERT' THEN
                PERFORM helpdesk_refresh_search_document(OLD.ticket_id);
            END IF;
            IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.ticket_id <> OLD.ticket_id) THEN
                PERFORM helpdesk_refresh_search_document(NEW.ticket_id);
            END IF;
        END IF;
        RETURN NULL;
    END $$"""

PG_SEARCH_DDL = [
    *PG_WORDS_DDL,
    f"""CREATE TABLE {PG_SEARCH_TABLE} (
        ticket_id INTEGER NOT NULL
            CONSTRAINT pk_{PG_SEARCH_TABLE} PRIMARY KEY
            CONSTRAINT fk_{PG_SEARCH_TABLE}_ticket_id_helpdesk_ticket
                REFERENCES helpdesk_ticket (id) ON DELETE CASCADE,
        updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
        created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
        priority SMALLINT NOT NULL,
        document TSVECTOR NOT NULL) WITH (fillfactor = 80)""",
    # The queue picks its plan from PostgreSQL's estimate of a search's matches (see
    # services/search.py). A word missing from the statistics is estimated at half the rarest
    # word kept there: with the default target that was 3 % of all tickets (a rare word taken
    # for a common one, and a million tickets walked); with 10,000 it is 0.0015 %. ANALYZE of
    # a million documents takes about 5 seconds instead of 0.5.
    f"ALTER TABLE {PG_SEARCH_TABLE} ALTER COLUMN document SET STATISTICS 10000",
    PG_SEARCH_INDEX,
    # One ticket's document, recomputed from its rows. Recomputed rather than appended to, so
    # that edits, moves (merges) and deletions are right and the size limit always holds; a
    # thread is small, and the messages are read through their ticket_id index.
    # The words the new document brings are added to the list of words (below).
    f"""CREATE FUNCTION helpdesk_refresh_search_document(ticket INTEGER) RETURNS void
    LANGUAGE plpgsql AS $$
    DECLARE
        own_code TEXT;
        before TSVECTOR;
        after TSVECTOR;
    BEGIN
        -- Lock the ticket first. A second transaction writing to the same ticket waits here,
        -- and its INSERT below then sees this one's message (READ COMMITTED gives each
        -- statement a new snapshot), so no word is lost when two people reply at once.
        SELECT lower(code) INTO own_code FROM helpdesk_ticket WHERE id = ticket
        FOR NO KEY UPDATE;
        SELECT document INTO before FROM {PG_SEARCH_TABLE} WHERE ticket_id = ticket;
        {PG_WRITE_DOCUMENTS.format(condition="t.id = ticket")}
        RETURNING document INTO after;
        IF after IS NOT NULL THEN  -- NULL: the ticket is being deleted
            {PG_ADD_WORDS}
        END IF;
    END $$""",
    # A new ticket whose first message came in the same statement (ticket creation's one
    # WITH, services/base.insert_loaded_with) gets its document from the message's trigger,
    # which runs at the end of the same statement and sees the ticket too: writing it for the
    # ticket as well wrote the same document twice (migration 0036). Only the inserting
    # transaction can see a new ticket, so no other writer can be in between.
    PG_DOCUMENT_TRIGGER,
    """CREATE TRIGGER helpdesk_ticket_search_insert AFTER INSERT ON helpdesk_ticket
    FOR EACH ROW EXECUTE FUNCTION helpdesk_search_document_trigger()""",
    """CREATE TRIGGER helpdesk_ticket_search_update AFTER UPDATE OF subject ON helpdesk_ticket
    FOR EACH ROW WHEN (OLD.subject IS DISTINCT FROM NEW.subject)
    EXECUTE FUNCTION helpdesk_search_document_trigger()""",
    """CREATE TRIGGER helpdesk_message_search AFTER INSERT OR DELETE OR UPDATE OF body, ticket_id
    ON helpdesk_message FOR EACH ROW EXECUTE FUNCTION helpdesk_search_document_trigger()""",
    *PG_SEARCH_KEYS_DDL,
]

PG_SEARCH_DROP = [
    f"DROP TABLE IF EXISTS {PG_SEARCH_TABLE}",
    f"DROP TABLE IF EXISTS {PG_WORDS_TABLE}",
    "DROP FUNCTION IF EXISTS helpdesk_search_document_trigger() CASCADE",  # and its triggers
    "DROP FUNCTION IF EXISTS helpdesk_refresh_search_document(INTEGER)",
    "DROP FUNCTION IF EXISTS helpdesk_search_keys_trigger() CASCADE",
]

TOKENIZER = "unicode61 remove_diacritics 2"
SQLITE_SEARCH_TABLE = "helpdesk_ticket_search_fts"


def sqlite_fts_statements(fts: str, table: str, column: str | tuple[str, ...]) -> list[str]:
    """DDL of one FTS5 external-content index on ``table.column`` (or several columns) and its
    three triggers (the knowledge base's articles)."""
    columns = (column,) if isinstance(column, str) else column
    names = ", ".join(columns)
    new = ", ".join(f"new.{c}" for c in columns)
    old = ", ".join(f"old.{c}" for c in columns)
    return [
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5("
        f"{names}, content='{table}', content_rowid='id', tokenize='{TOKENIZER}')",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_ai AFTER INSERT ON {table} BEGIN "
        f"INSERT INTO {fts}(rowid, {names}) VALUES (new.id, {new}); END",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_ad AFTER DELETE ON {table} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, {names}) VALUES ('delete', old.id, {old}); END",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_au AFTER UPDATE OF {names} ON {table} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, {names}) VALUES ('delete', old.id, {old}); "
        f"INSERT INTO {fts}(rowid, {names}) VALUES (new.id, {new}); END",
    ]


# The document of the ticket row ``t``: its subject and its messages oldest first, cut at
# PG_DOCUMENT_MAX_CHARS like PostgreSQL's.
_SQLITE_DOCUMENT = f"""substr(coalesce(t.subject, '') || ' ' || coalesce((
        SELECT group_concat(thread.body, ' ') FROM (
            SELECT m.body FROM helpdesk_message AS m WHERE m.ticket_id = t.id ORDER BY m.id
        ) AS thread), ''), 1, {PG_DOCUMENT_MAX_CHARS})"""

# Every document at once (a rebuild, or after an import with the triggers dropped).
SQLITE_WRITE_DOCUMENTS = f"""INSERT INTO {SQLITE_SEARCH_TABLE} (rowid, document)
    SELECT t.id, {_SQLITE_DOCUMENT} FROM helpdesk_ticket AS t"""

# Rewrite the document of ticket ``{ticket}`` (an SQL expression) from its rows; nothing is
# written when the ticket is gone (a delete).
_SQLITE_REFRESH = f"""DELETE FROM {SQLITE_SEARCH_TABLE} WHERE rowid = {{ticket}};
    INSERT INTO {SQLITE_SEARCH_TABLE} (rowid, document)
    SELECT t.id, {_SQLITE_DOCUMENT}
    FROM helpdesk_ticket AS t WHERE t.id = {{ticket}};"""

SQLITE_SEARCH_TABLE_DDL = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {SQLITE_SEARCH_TABLE} USING fts5("
    f"document, tokenize='{TOKENIZER}')"
)
# Triggers, by table: what the queue searches follows every door a text comes through.
SQLITE_SEARCH_TRIGGERS = {
    "helpdesk_ticket": [
        f"CREATE TRIGGER IF NOT EXISTS {SQLITE_SEARCH_TABLE}_ticket_ai AFTER INSERT ON "
        f"helpdesk_ticket BEGIN {_SQLITE_REFRESH.format(ticket='new.id')} END",
        f"CREATE TRIGGER IF NOT EXISTS {SQLITE_SEARCH_TABLE}_ticket_au AFTER UPDATE OF subject"
        f" ON helpdesk_ticket WHEN old.subject IS NOT new.subject"
        f" BEGIN {_SQLITE_REFRESH.format(ticket='new.id')} END",
        f"CREATE TRIGGER IF NOT EXISTS {SQLITE_SEARCH_TABLE}_ticket_ad AFTER DELETE ON "
        f"helpdesk_ticket BEGIN DELETE FROM {SQLITE_SEARCH_TABLE} WHERE rowid = old.id; END",
    ],
    "helpdesk_message": [
        f"CREATE TRIGGER IF NOT EXISTS {SQLITE_SEARCH_TABLE}_message_ai AFTER INSERT ON "
        f"helpdesk_message BEGIN {_SQLITE_REFRESH.format(ticket='new.ticket_id')} END",
        f"CREATE TRIGGER IF NOT EXISTS {SQLITE_SEARCH_TABLE}_message_au AFTER UPDATE OF"
        f" body, ticket_id ON helpdesk_message BEGIN"
        f" {_SQLITE_REFRESH.format(ticket='old.ticket_id')}"
        f" {_SQLITE_REFRESH.format(ticket='new.ticket_id')} END",
        f"CREATE TRIGGER IF NOT EXISTS {SQLITE_SEARCH_TABLE}_message_ad AFTER DELETE ON "
        f"helpdesk_message BEGIN {_SQLITE_REFRESH.format(ticket='old.ticket_id')} END",
    ],
}


# SQLite: the document table is made with the tickets, its message triggers with the messages.
event.listen(
    Ticket.__table__, "after_create", DDL(SQLITE_SEARCH_TABLE_DDL).execute_if(dialect="sqlite")
)
for _table in (Ticket.__table__, Message.__table__):
    for _statement in SQLITE_SEARCH_TRIGGERS[_table.name]:
        event.listen(_table, "after_create", DDL(_statement).execute_if(dialect="sqlite"))
# Triggers go with their table; the virtual table must be dropped by name.
event.listen(
    Ticket.__table__,
    "before_drop",
    DDL(f"DROP TABLE IF EXISTS {SQLITE_SEARCH_TABLE}").execute_if(dialect="sqlite"),
)


# PostgreSQL: created with the message table (the last of the two), dropped before the tickets.
for _statement in PG_SEARCH_DDL:
    event.listen(
        Message.__table__, "after_create", DDL(_statement).execute_if(dialect="postgresql")
    )
for _statement in PG_SEARCH_DROP:
    event.listen(Ticket.__table__, "before_drop", DDL(_statement).execute_if(dialect="postgresql"))
