"""The helpdesk's own Alembic migrations, and the helpers a host needs around them.

Hosts upgrade the helpdesk's tables with ``flask helpdesk db upgrade`` or from Python::

    from flask_helpdesk import migrations

    migrations.upgrade(app)            # to the newest revision
    migrations.current(app)            # "0001" or None on an empty database

The revisions run on the helpdesk's engine (the host's default engine, or
``SQLALCHEMY_BINDS[HELPDESK_BIND_KEY]``) and record their version in
``helpdesk_alembic_version``, apart from the host's own Alembic. A host whose own Alembic env
autogenerates revisions passes :func:`include_object` (or :func:`include_name`) to
``context.configure`` so it leaves the ``helpdesk_*`` tables alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask, current_app
from sqlalchemy import MetaData, Table
from sqlalchemy.engine import Engine

from .autogen import (
    UNMANAGED_NAMES,
    VERSION_TABLE,
    exclude_helpdesk_tables,
    include_name,
    include_object,
    is_helpdesk_table,
)

MIGRATIONS_DIR = Path(__file__).resolve().parent

__all__ = [
    "MIGRATIONS_DIR",
    "UNMANAGED_NAMES",
    "VERSION_TABLE",
    "Revision",
    "alembic_config",
    "current",
    "downgrade",
    "exclude_helpdesk_tables",
    "head",
    "history",
    "include_name",
    "include_object",
    "is_helpdesk_table",
    "stamp",
    "upgrade",
]


@dataclass(frozen=True)
class Revision:
    """One shipped revision, as ``history()`` lists it."""

    revision: str
    down_revision: str | None
    message: str


def alembic_config(**attributes: object) -> Config:
    """An Alembic ``Config`` for the shipped revisions (no ``alembic.ini`` involved).

    *attributes* reach ``env.py``: ``connection`` to run on, or ``dialect_name`` for ``--sql``.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    config.attributes.update(attributes)
    return config


@contextmanager
def _helpdesk_engine(app: Flask | None) -> Iterator[Engine]:
    """The engine the helpdesk's tables live on, inside an app context of *app*."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    with app.app_context():
        yield app.extensions["helpdesk"].engine


def _run(app: Flask | None, sql: bool, action, revision: str) -> None:
    with _helpdesk_engine(app) as engine:
        if sql:
            action(alembic_config(dialect_name=engine.dialect.name), revision, sql=True)
            return
        with engine.begin() as connection:
            action(alembic_config(connection=connection), revision)


def upgrade(app: Flask | None = None, revision: str = "head", sql: bool = False) -> None:
    """Upgrade the helpdesk's tables to *revision* (idempotent: nothing to do is fine).

    With ``sql=True`` nothing runs; the SQL is printed for the engine's dialect instead.
    """
    _run(app, sql, command.upgrade, revision)


def downgrade(app: Flask | None = None, revision: str = "-1", sql: bool = False) -> None:
    """Downgrade the helpdesk's tables to *revision*.

    ``"base"`` drops every helpdesk table, data included, and the version table too, so the
    database is left exactly as it was before the first upgrade.
    """
    _run(app, sql, command.downgrade, revision)
    if revision == "base" and not sql:
        with _helpdesk_engine(app) as engine, engine.begin() as connection:
            Table(VERSION_TABLE, MetaData()).drop(connection, checkfirst=True)


def stamp(app: Flask | None = None, revision: str = "head") -> None:
    """Record *revision* as applied without running anything (tables made by ``create_all``)."""
    _run(app, False, command.stamp, revision)


def current(app: Flask | None = None) -> str | None:
    """The revision the database is at, or ``None`` when the helpdesk has no tables yet."""
    with _helpdesk_engine(app) as engine, engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision()


def head() -> str:
    """The newest shipped revision."""
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"the helpdesk's migrations must have one head, found {heads}")
    return heads[0]


def history() -> list[Revision]:
    """Every shipped revision, newest first."""
    scripts = ScriptDirectory.from_config(alembic_config())
    return [
        Revision(script.revision, script.down_revision, script.doc)  # type: ignore[arg-type]
        for script in scripts.walk_revisions()
    ]
