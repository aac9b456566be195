"""The helpdesk's own declarative base.

Its MetaData is separate from the host's, so the host's ``db.create_all()`` and Alembic never see
our tables unless asked to, and ``metadata.info["bind_key"]`` lets Flask-SQLAlchemy's session route
our tables to another database (``HELPDESK_BIND_KEY``) while sharing the host's ``db.session``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from sqlalchemy import JSON, DateTime, MetaData, SmallInteger, String
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Counters every writer adds to (the department counts, the reports' roll-up) are spread over
# this many rows per cell on PostgreSQL: a transaction adds to the row of its connection's
# slot, readers sum the slots. One row per cell made every creator of a department wait for
# the previous one's commit, since an added-to row stays locked until then (issue 17). The
# slot is the backend's process id modulo the slots: fixed for a connection, so a transaction
# writes all its rows in one slot and locks them in the same key order as before (no new
# deadlock), and a site with few connections has few rows. SQLite, one writer, keeps slot 0.
HOT_SLOTS = 16
PG_HOT_SLOT = f"mod(pg_backend_pid(), {HOT_SLOTS})"  # no %: DDL() formats its text


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (every timestamp the helpdesk stores)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC, returns aware UTC datetimes on every backend (SQLite keeps no zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a helpdesk timestamp; use utcnow()")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)

    def sqlite_text_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        """For a statement compiled once (``services.prepared``) on SQLite: one function doing
        what :meth:`process_bind_param` then SQLite's ``DATETIME`` do to a value (the text
        SQLite stores), or None where that ``DATETIME`` stores another format. The last value
        and its text are kept: the same instant is written several times in a row (a new
        ticket's ``now`` goes in its row, first message, facts and audit event: 16 timestamps a
        ticket, 3 function calls and a dict of 7 fields each; issue 17). A datetime is
        immutable, so the same object is the same text; ``tests/test_new_rows.py`` checks it
        against SQLAlchemy's own processing, so a release that changes the format shows."""
        impl = dialect.type_descriptor(self.impl_instance)
        if getattr(impl, "_storage_format", None) != SQLITE_DATETIME_FORMAT:
            return None
        return _sqlite_utc_text


# SQLite's DATETIME default storage format (sqlalchemy.dialects.sqlite.DATETIME).
SQLITE_DATETIME_FORMAT = (
    "%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d.%(microsecond)06d"
)
_last_utc: list[Any] = [None, None]  # the last datetime given to _sqlite_utc_text, its text


def _sqlite_utc_text(value: datetime | None) -> str | None:
    last = _last_utc
    if value is last[0]:
        return last[1]
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a helpdesk timestamp; use utcnow()")
    text = value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    last[0], last[1] = value, text
    return text


class EnumText(TypeDecorator[Any]):
    """A ``StrEnum`` stored as its plain value (no database ENUM type to migrate)."""

    impl = String
    cache_ok = True

    def __init__(self, enum_class: type[Enum], length: int = 20) -> None:
        super().__init__(length)
        self.enum_class = enum_class

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else self.enum_class(value).value

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else self.enum_class(value)


class EnumInt(TypeDecorator[Any]):
    """An ``IntEnum`` stored as a small integer, so ordering by it orders by rank."""

    impl = SmallInteger
    cache_ok = True

    def __init__(self, enum_class: type[Enum]) -> None:
        super().__init__()
        self.enum_class = enum_class

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else int(self.enum_class(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else self.enum_class(value)


class PerAppInfo(dict):
    """``MetaData.info`` whose ``"bind_key"`` is the current app's ``HELPDESK_BIND_KEY``.

    Flask-SQLAlchemy's session reads ``metadata.info["bind_key"]`` to pick the engine of our
    tables. One MetaData serves every app of the process (a test's app factory, several sites),
    so a value stored here would be the last ``init_app``'s for all of them; the key is instead
    looked up on the app whose context is active. Outside an app context: the stored value.
    """

    def __getitem__(self, key: Any) -> Any:
        if key == "bind_key":
            from flask import current_app, has_app_context

            if has_app_context():
                state = current_app._get_current_object().extensions.get("helpdesk")
                if state is not None:
                    return state.config["HELPDESK_BIND_KEY"]
        return super().__getitem__(key)

    def get(self, key: Any, default: Any = None) -> Any:
        return self[key] if key in self else default  # noqa: SIM401 (self.get would recurse)


class HelpdeskModel(DeclarativeBase):
    """Base of every helpdesk model; table names are prefixed ``helpdesk_``."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION, info=PerAppInfo({"bind_key": None}))
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}

    def __repr__(self) -> str:
        ident = getattr(self, "code", None) or getattr(self, "id", None)
        return f"<{type(self).__name__} {ident}>"
