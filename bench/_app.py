"""What the write benchmarks (``ticket_create.py``, ``mail_ingest.py``) share: the app they
drive, the database they empty first, SQLite's journal, the statements and commits they count,
and the first and last lines of their figures."""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import event

from example_app import create_app
from example_app.models import db
from flask_helpdesk.services.prepared import listen_statements


def bench_app(url: str, workdir: str, redis_url: str | None, **config: Any):
    """The demo host app on *url*: files under *workdir*, jobs inline or on RQ at *redis_url*
    (a queue of their own, never mixed with a site's), mail rendered but not sent, links in
    mail absolute. *config* adds to or overrides that."""
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "HELPDESK_REDIS_URL": redis_url,
            "HELPDESK_STORAGE_PATH": f"{workdir}/attachments",
            "HELPDESK_EXTERNAL_URL": "https://shop.example.com",
            "MAIL_SUPPRESS_SEND": True,
            "HELPDESK_QUEUE_NAME": "helpdesk-bench",
            **config,
        }
    )


def database(url: str | None, workdir: str, default_journal: bool) -> tuple[str, bool]:
    """The database URL (*url*, or SQLite in *workdir*) and whether SQLite runs in WAL mode."""
    url = url or f"sqlite:///{workdir}/bench.sqlite"
    return url, url.startswith("sqlite") and not default_journal


def use_wal(engine) -> None:
    """SQLite as docs/email.rst tells hosts to set it, on every connection from now on: WAL
    mode with ``synchronous=NORMAL``, temporary files (a statement's journal) in memory."""

    @event.listens_for(engine, "connect")
    def _pragmas(connection, record) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.close()

    engine.dispose()


def sqlite_take_turns(engine, wal: bool) -> None:
    """For several writing processes on one SQLite file: each transaction takes the write lock
    when it begins (``BEGIN IMMEDIATE``) and waits up to 60 s for it. A plain ``BEGIN`` reads
    first and asks for the lock at its first write: SQLite refuses that at once ("database is
    locked", the busy timeout does not apply) when another process wrote meanwhile, or holds
    the lock as a reader wanting to write too. WAL's ``synchronous=NORMAL`` and ``temp_store`` as
    the parent's."""

    @event.listens_for(engine, "connect")
    def _no_driver_begin(connection, record) -> None:
        connection.isolation_level = None  # the driver's own BEGIN is deferred: ours below
        cursor = connection.cursor()
        cursor.execute("PRAGMA busy_timeout=60000")
        if wal:
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection) -> None:
        # On the driver's connection: not counted as a statement of the benchmark (SqlCount)
        connection.connection.driver_connection.execute("BEGIN IMMEDIATE")

    engine.dispose()


def reset_schema(app) -> None:
    """Drop every table of the demo host and the helpdesk and create them again."""
    state = app.extensions["helpdesk"]
    state.drop_all()
    db.drop_all()
    db.create_all()
    state.create_all()


class SqlCount:
    """The statements and commits of this process on the helpdesk's engine while the block
    runs (``with SqlCount(app) as sql: ... sql.statements, sql.commits``)."""

    def __init__(self, app) -> None:
        self.engine = app.extensions["helpdesk"].engine
        self.statements = self.commits = 0

    def __enter__(self) -> SqlCount:
        # Also the statements the services run on the driver's cursor (services/prepared.py).
        self._stop = listen_statements(self.engine, self._statement)
        event.listen(self.engine, "commit", self._commit)
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop()
        event.remove(self.engine, "commit", self._commit)

    def _statement(self, _statement: str, _parameters: Any) -> None:
        self.statements += 1

    def _commit(self, _connection: Any) -> None:
        self.commits += 1


def database_line(url: str, wal: bool, jobs: str) -> str:
    backend = url.split(":", 1)[0].split("+", 1)[0]
    wal_line = " (WAL, synchronous=NORMAL, temp_store=MEMORY)" if wal else ""
    return f"database           {backend}{wal_line}; jobs {jobs}"


def load_line() -> str:
    return f"load average       {' '.join(f'{x:.1f}' for x in os.getloadavg())}"
