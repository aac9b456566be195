"""What Alembic must know to compare the helpdesk's models with a database.

Shared by the helpdesk's own ``env.py`` (which looks only at ``helpdesk_*`` tables, so a shared
database's host tables are never touched) and by hosts, whose own Alembic env must do the
opposite: ignore the helpdesk's tables, because the helpdesk migrates them itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sqlalchemy.types import TypeDecorator

TABLE_PREFIX = "helpdesk_"
VERSION_TABLE = "helpdesk_alembic_version"

# Objects a revision creates with raw SQL that the models cannot describe (full-text virtual
# tables and their shadow tables, expression indexes, triggers). Autogenerate and the migration
# test skip names matching these patterns; add yours here when you add such a revision.
UNMANAGED_NAMES: list[re.Pattern[str]] = [
    # SQLite FTS5 tables and their shadow tables (models/search.py, revision 0004).
    re.compile(r"helpdesk_(message|ticket)_fts(_\w+)?"),
    # PostgreSQL GIN indexes (models/search.py, revisions 0004 and 0008).
    re.compile(r"ix_helpdesk_\w+_fts"),
    # PostgreSQL per-ticket search documents and their words (models/search.py, 0008, 0010).
    re.compile(r"helpdesk_ticket_search"),
    # SQLite per-ticket documents and their shadow tables (models/search.py, revision 0028).
    re.compile(r"helpdesk_ticket_search_fts(_\w+)?"),
    re.compile(r"(ix_)?helpdesk_search_word(_word)?"),
    # Article search: FTS5 on SQLite, documents and a title trigram index on PostgreSQL
    # (models/knowledge_search.py, revision 0023).
    re.compile(r"helpdesk_kb_article_fts(_\w+)?"),
    re.compile(r"helpdesk_kb_article_search"),
    re.compile(r"(ix_)?helpdesk_kb_word(_trgm)?"),
]

IncludeObject = Callable[[Any, str | None, str, bool, Any], bool]
IncludeName = Callable[[str | None, str, dict[str, Any]], bool]


def is_helpdesk_table(name: str | None) -> bool:
    """True for every table the helpdesk owns, its version table included."""
    return bool(name) and name.startswith(TABLE_PREFIX)  # type: ignore[union-attr]


def _table_name(obj: Any, name: str | None, type_: str) -> str | None:
    if type_ == "table":
        return name
    table = getattr(obj, "table", None)
    return getattr(table, "name", None)


def _unmanaged(name: str | None) -> bool:
    return bool(name) and any(pattern.fullmatch(name) for pattern in UNMANAGED_NAMES)  # type: ignore[arg-type]


# -- the helpdesk's own env ---------------------------------------------------------------------
def helpdesk_include_name(name: str | None, type_: str, parent_names: dict[str, Any]) -> bool:
    """Reflect only the helpdesk's tables (never the host's, never our version table)."""
    if type_ == "table":
        return is_helpdesk_table(name) and name != VERSION_TABLE and not _unmanaged(name)
    if type_ in {"index", "unique_constraint", "foreign_key_constraint"}:
        return not _unmanaged(name)
    return True


def helpdesk_include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Compare only the helpdesk's tables and what hangs off them."""
    table = _table_name(obj, name, type_)
    if table is not None and (not is_helpdesk_table(table) or table == VERSION_TABLE):
        return False
    return not _unmanaged(name) and not _unmanaged(table)


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Render the helpdesk's column types (``UTCDateTime``, ``EnumText``...) as their plain
    SQL type, so revisions never import application code that may change later."""
    if type_ == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl_instance!r}"
    return False


# -- for hosts ------------------------------------------------------------------------------------
def include_name(name: str | None, type_: str, parent_names: dict[str, Any]) -> bool:
    """``include_name`` hook for a host's Alembic env: skip the helpdesk's tables.

    ::

        context.configure(..., include_name=flask_helpdesk.migrations.include_name)
    """
    if type_ == "table":
        return not is_helpdesk_table(name)
    return not is_helpdesk_table(parent_names.get("table_name"))


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """``include_object`` hook for a host's Alembic env: skip the helpdesk's tables.

    ::

        context.configure(..., include_object=flask_helpdesk.migrations.include_object)
    """
    return not is_helpdesk_table(_table_name(obj, name, type_))


def exclude_helpdesk_tables(include_object_hook: IncludeObject | None = None) -> IncludeObject:
    """Wrap a host's own ``include_object`` hook so it also skips the helpdesk's tables."""

    def hook(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if not include_object(obj, name, type_, reflected, compare_to):
            return False
        if include_object_hook is None:
            return True
        return include_object_hook(obj, name, type_, reflected, compare_to)

    return hook
