"""Statements compiled once a process and run with the driver's own parameters.

For a hot path's INSERTs (ticket creation writes four on SQLite, issue 17): SQLAlchemy's
``execute`` of a Core statement looks up its compiled form by cache key, processes every
parameter by name, builds a result's metadata and, through the session, finds the bind and
runs the ORM's execute hooks, each time. Here the statement is compiled once for the dialect,
and a call turns the values into the driver's parameters (the same type processing), runs the
SQL on the session's connection with ``exec_driver_sql`` (the engine's events, the statement
counts and the error types stay as they were) and converts the row read back the way a
result would. About a third of what an INSERT cost the creating process.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Any

from sqlalchemy import Boolean, Column, Enum, Integer, String
from sqlalchemy.engine import Connection, Dialect

# In Prepared's *readback*: the row's integer primary key, the cursor's ``lastrowid``.
ROWID = object()
# The drivers whose cursor Prepared may run a statement on (see Prepared._cursor): SQLite's
# own module, and psycopg (issue 11: the mail intake's INSERT on PostgreSQL, where
# exec_driver_sql's context and result, the result's metadata of the RETURNING's columns
# built at every run, took more of the receiving process's CPU than psycopg's execute).
_DIRECT_DRIVERS = frozenset({("sqlite", "pysqlite"), ("postgresql", "psycopg")})


class Prepared:
    """*statement* (an INSERT, maybe ``... RETURNING``, an UPDATE or a SELECT) compiled once
    for *dialect*, taking the values of the column keys (or bound parameters' names) *given*.

    What the compiled statement leaves to Python (the columns' Python-side defaults of those
    not given) is computed at each call, as an execution would; what it returns comes back
    converted by the returned columns' types."""

    __slots__ = (
        "_defaults",
        "_direct",
        "_fixed",
        "_keys",
        "_names",
        "_pairs",
        "_positional",
        "_processors",
        "_readback",
        "_results",
        "sql",
    )

    def __init__(
        self,
        statement: Any,
        dialect: Dialect,
        given: tuple[str, ...],
        readback: tuple[Any, ...] | None = None,
    ) -> None:
        """With *readback* (see :func:`known_without_returning`; *statement* without
        ``RETURNING`` then), :meth:`run` returns those values as the row, or None when the
        INSERT stored no row (``ON CONFLICT DO NOTHING``)."""
        compiled = statement.compile(dialect=dialect, column_keys=list(given))
        if compiled.positional:
            names = list(compiled.positiontup or ())
        else:
            names = list(compiled.bind_names.values())
        self.sql = compiled.string
        # Run on the driver's cursor when nothing is lost by it (see _cursor).
        self._direct = (dialect.name, dialect.driver) in _DIRECT_DRIVERS
        if "POSTCOMPILE" in self.sql:  # rendered anew for each execution: not compiled once
            raise ValueError(f"Prepared: parameters rendered at execution in {self.sql}")
        self._positional = compiled.positional
        self._names = tuple(names)
        known = set(given)
        self._defaults: tuple[tuple[str, Any], ...] = tuple(
            (column.key, column.default) for column in compiled.insert_prefetch
        )
        if compiled.update_prefetch:  # an UPDATE's onupdate= values: not computed here
            raise ValueError(f"Prepared: onupdate columns in {self.sql}")
        prefetched = {name for name, _default in self._defaults}
        # The statement's own literal values (``status == 'received'``, ``.values(attempts=1)``
        # of an UPDATE, ``LIMIT 1``): the same at every call.
        binds = compiled.binds
        self._fixed = {
            name: binds[name].effective_value
            for name in names
            if name not in known | prefetched and name in binds and not binds[name].required
        }
        unknown = set(names) - known - set(self._fixed) - prefetched
        if unknown:
            raise ValueError(f"Prepared: no value for {sorted(unknown)} in {self.sql}")
        processors = compiled._bind_processors
        if dialect.name == "sqlite" and self._direct:  # a timestamp's conversion in one call
            for name in names:
                bind = binds.get(name)
                fused = None if bind is None else getattr(bind.type, "sqlite_text_processor", None)
                process = fused(dialect) if fused is not None else None
                if process is not None:
                    processors = {**processors, name: process}
        self._processors = tuple(processors.get(name) for name in names)
        self._pairs = tuple(zip(self._names, self._processors, strict=True))
        returning: list[Column[Any]] = list(compiled.effective_returning or ())
        self._results = tuple(
            column.type._cached_result_processor(dialect, None) for column in returning
        )
        if readback is not None and returning:
            raise ValueError(f"Prepared: a readback and RETURNING in {self.sql}")
        self._readback = readback
        # A SELECT's columns: their names (as a result's row has them) and conversions.
        dml = compiled.isinsert or compiled.isupdate or compiled.isdelete
        selected = [] if dml else compiled._result_columns
        self._keys = tuple(entry.keyname for entry in selected)
        if selected:
            self._results = tuple(
                entry.type._cached_result_processor(dialect, None) for entry in selected
            )

    def run(self, connection: Connection, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """Execute with *values* (by column key) on *connection*; the returned row, its values
        converted (None when the statement returned no row, or returns nothing)."""
        parameters = self._parameters(values)
        cursor = self._cursor(connection, parameters) if self._direct else None
        # The driver's cursor, or SQLAlchemy's result around it: both read alike.
        result = connection.exec_driver_sql(self.sql, parameters) if cursor is None else cursor
        try:
            if self._readback is not None:
                if not result.rowcount:
                    return None
                rowid = result.lastrowid
                return tuple(rowid if value is ROWID else value for value in self._readback)
            if not self._results:
                return None
            row = result.fetchone()
        finally:
            result.close()
        if row is None:
            return None
        return tuple(
            value if process is None or value is None else process(value)
            for value, process in zip(row, self._results, strict=True)
        )

    def first(self, connection: Connection, values: Mapping[str, Any]) -> NamedRow | None:
        """Run a SELECT with *values*; its first row (its values converted, by name as
        attributes and in ``_mapping``) or None."""
        row = self.run(connection, values)
        return None if row is None else NamedRow(dict(zip(self._keys, row, strict=True)))

    def all(self, connection: Connection, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run a SELECT with *values*; all its rows, their values converted, in order."""
        result = connection.exec_driver_sql(self.sql, self._parameters(values))
        rows = result.fetchall()
        result.close()
        processors = self._results
        return [
            tuple(
                value if process is None or value is None else process(value)
                for value, process in zip(row, processors, strict=True)
            )
            for row in rows
        ]

    def rowcount(self, connection: Connection, values: Mapping[str, Any]) -> int:
        """Execute an UPDATE or DELETE with *values*; how many rows it matched."""
        parameters = self._parameters(values)
        cursor = self._cursor(connection, parameters) if self._direct else None
        if cursor is not None:
            count = cursor.rowcount
            cursor.close()
            return count
        result = connection.exec_driver_sql(self.sql, parameters)
        count = result.rowcount
        result.close()
        return count

    def run_many(self, connection: Connection, rows: list[Mapping[str, Any]]) -> None:
        """Execute once per row of *rows* (the driver's ``executemany``), reading nothing."""
        parameters = [self._parameters(values) for values in rows]
        cursor = self._cursor(connection, parameters, many=True) if self._direct else None
        if cursor is not None:
            cursor.close()
            return
        connection.exec_driver_sql(self.sql, parameters)

    def _cursor(self, connection: Connection, parameters: Any, many: bool = False) -> Any:
        """The driver's cursor having run the statement with *parameters*, or None when
        :meth:`Connection.exec_driver_sql` must run it (the caller does then).

        ``exec_driver_sql`` makes an execution context and a result around the driver's
        ``execute``: on SQLite 8-10 µs of CPU a statement against 2 (issue 17, five statements
        a ticket); on psycopg the mail intake's INSERT (see :data:`_DIRECT_DRIVERS`). Skipped
        only where nothing it does matters: an active transaction on a live connection (no
        autobegin, no invalid transaction to report), no SQL echo, no driver level events,
        and no cursor listener but those of :func:`listen_statements` (they see every
        statement run here, without an execution context). A driver error goes through the
        connection's own handling (its ``handle_error`` events, a disconnect detected): the
        same SQLAlchemy error types as before."""
        fairy = connection._dbapi_connection
        transaction = connection._transaction
        nested = connection._nested_transaction
        if (
            fairy is None
            or transaction is None
            or not transaction.is_active
            or (nested is not None and not nested.is_active)
            or connection._trans_context_manager
            or connection._echo
            or connection.dialect._has_events
        ):
            return None
        statement = self.sql
        listeners = None
        if connection._has_events or connection.engine._has_events:
            dispatch = connection.dispatch
            if dispatch.after_cursor_execute:
                return None
            listeners = list(dispatch.before_cursor_execute)
            if not all(getattr(fn, STATEMENTS_ONLY, False) for fn in listeners):
                return None
        cursor = fairy.cursor()
        try:
            if listeners:
                for fn in listeners:
                    statement, parameters = fn(
                        connection, cursor, statement, parameters, None, many
                    )
            if many:
                cursor.executemany(statement, parameters)
            else:
                cursor.execute(statement, parameters)
        except BaseException as error:
            connection._handle_dbapi_exception(error, statement, parameters, cursor, None)
        return cursor

    def _parameters(self, values: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        if self._fixed:
            values = {**self._fixed, **values}
        if self._defaults:
            values = dict(values)
            for name, default in self._defaults:
                values[name] = default.arg(None) if default.is_callable else default.arg
        parameters = [
            values[name] if process is None else process(values[name])
            for name, process in self._pairs
        ]
        if self._positional:
            return tuple(parameters)
        return dict(zip(self._names, parameters, strict=True))


# Marks a ``before_cursor_execute`` listener of :func:`listen_statements`.
STATEMENTS_ONLY = "_helpdesk_statements_only"


def listen_statements(engine: Any, seen: Callable[[str, Any], None]) -> Callable[[], None]:
    """Call ``seen(statement, parameters)`` before each statement *engine* runs, also those
    :class:`Prepared` runs on the driver's cursor (which another ``before_cursor_execute``
    listener turns back to ``exec_driver_sql``: it may read the execution context); the
    function returned stops it. For statement counts (the query budgets' tests, benchmarks)."""
    from sqlalchemy import event

    def before(connection, cursor, statement, parameters, context, executemany):
        seen(statement, parameters)
        return statement, parameters

    setattr(before, STATEMENTS_ONLY, True)
    event.listen(engine, "before_cursor_execute", before, retval=True)
    return lambda: event.remove(engine, "before_cursor_execute", before)


def known_without_returning(table: Any, columns: list[Column[Any]], dialect: Dialect):
    """What an INSERT into *table* of a row would read back by ``RETURNING`` *columns*, when
    it is known without: a *readback* for :class:`Prepared`, else None (``RETURNING`` then).

    On SQLite only, where ``RETURNING`` costs (an INSERT with it took 20-24 µs of CPU in the
    driver against 6 µs without, and 30-40 µs against 10-15 µs through SQLAlchemy: the
    result's metadata made at every run): the integer primary key is the cursor's
    ``lastrowid``, a column with no default is NULL, one with a constant Python default (a
    bool, an int, a plain string) has that value, sent by the INSERT itself. Anything the
    database computes (a server default, a callable's value) is read back as before."""
    if dialect.name != "sqlite":
        return None
    keys = list(table.primary_key.columns)
    values: list[Any] = []
    for column in columns:
        default = column.default
        if column.primary_key:
            if keys != [column] or not isinstance(column.type, Integer):
                return None
            values.append(ROWID)
        elif default is None:
            if column.server_default is not None:
                return None
            values.append(None)
        elif default.is_scalar and (
            (type(default.arg) is bool and isinstance(column.type, Boolean))
            or (type(default.arg) is int and isinstance(column.type, Integer))
            or (
                type(default.arg) is str
                and isinstance(column.type, String)
                and not isinstance(column.type, Enum)
            )
        ):
            values.append(default.arg)
        else:
            return None
    return tuple(values)


class NamedRow:
    """A row :meth:`Prepared.first` read: ``row.name`` and ``row._mapping["name"]`` as on a
    SQLAlchemy row (what the callers use of one)."""

    __slots__ = ("_mapping",)

    def __init__(self, mapping: dict[str, Any]) -> None:
        self._mapping = mapping

    def __getattr__(self, name: str) -> Any:
        try:
            return self._mapping[name]
        except KeyError:
            raise AttributeError(name) from None


# (the caller's name for the statement, dialect, driver) -> the statement compiled for them
_ONCE: dict[tuple[Hashable, str, str], Prepared] = {}


def prepared_once(
    name: Hashable, connection: Connection, build: Callable[[], Any], given: tuple[str, ...]
) -> Prepared:
    """The statement *build* makes, compiled once a process for *connection*'s dialect and
    kept under *name* (its bound parameters' names *given*)."""
    dialect = connection.dialect
    key = (name, dialect.name, dialect.driver)
    prepared = _ONCE.get(key)
    if prepared is None:
        prepared = _ONCE[key] = Prepared(build(), dialect, given)
    return prepared
