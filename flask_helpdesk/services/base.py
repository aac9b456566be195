"""What every service shares: the errors it raises and the way it commits."""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from time import monotonic
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from flask import current_app, has_app_context
from sqlalchemy import Index, Table, event, inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import (
    Session,
    SessionTransaction,
    configure_mappers,
    make_transient,
    make_transient_to_detached,
)
from sqlalchemy.orm.attributes import instance_state

from ..jobs import PENDING_KEY, discard_pending, dispatch_pending, follow_ups_run_here
from .prepared import Prepared, known_without_returning

T = TypeVar("T")
M = TypeVar("M")

# Per app (weakly: a test's app goes away with its cache): key -> (expiry, value).
_APP_CACHE: WeakKeyDictionary[Any, dict[Hashable, tuple[float, Any]]] = WeakKeyDictionary()
APP_CACHE_MAX_ENTRIES = 1000

# Across processes: a key forgotten in one process (the data behind it changed) is forgotten in
# every process that shares its Redis, within GENERATION_CHECK_SECONDS of the commit. A Redis
# hash holds one generation per forgotten key; each process reads it at most once per interval
# (one round trip, whatever the number of keys) and drops the keys whose generation moved.
# Without Redis there is one process per app to think of (jobs run inline) and the TTLs bound
# what another process (a cron command) may show.
GENERATIONS_KEY = "helpdesk-cache-generations"
GENERATION_CHECK_SECONDS = 1.0
_GENERATIONS_SEEN: WeakKeyDictionary[Any, tuple[float, dict[bytes, bytes]]] = WeakKeyDictionary()
FORGOTTEN_KEY = "helpdesk_forgotten_cache_keys"  # Session.info: keys to announce at commit
_NEVER_CHECKED: tuple[float, dict[bytes, bytes]] = (float("-inf"), {})

logger = logging.getLogger(__name__)


def _shared_redis(app: Any) -> Any:
    dispatcher = app.extensions["helpdesk"].dispatcher
    return dispatcher.queue.connection if dispatcher.uses_rq else None


def _drop_keys_changed_elsewhere(
    app: Any, cache: dict[Hashable, tuple[float, Any]], now: float | None = None
) -> None:
    now = monotonic() if now is None else now
    checked, seen = _GENERATIONS_SEEN.get(app, _NEVER_CHECKED)
    if now - checked < GENERATION_CHECK_SECONDS:  # asked a moment ago (the usual case: first)
        return
    redis = _shared_redis(app)
    if redis is None:
        return
    try:
        current = redis.hgetall(GENERATIONS_KEY)
    except Exception as error:  # redis-py's errors: the TTLs still bound what is kept
        logger.warning("helpdesk: cache generations unreadable (%s)", error)
        current = seen
    changed = {field.decode() for field, value in current.items() if seen.get(field) != value}
    if changed:
        for key in [key for key in cache if _field(key) in changed]:
            del cache[key]
    _GENERATIONS_SEEN[app] = (now, current)


def _field(key: Hashable) -> str:
    return key if isinstance(key, str) else repr(key)


def cached_for_app(key: Hashable, ttl: float, compute: Callable[[], T]) -> T:
    """``compute()``, reused for *ttl* seconds per app (in this web process) and *key*.

    For figures that are costly and may lag a little (queue counters, table sizes), and for
    settings read on every request whose writer calls :func:`forget_cached_for_app`. A *ttl*
    of zero or less computes every time."""
    if ttl <= 0:
        return compute()
    app = current_app._get_current_object()
    cache = _APP_CACHE.get(app)
    if cache is None:
        cache = _APP_CACHE.setdefault(app, {})
    now = monotonic()
    _drop_keys_changed_elsewhere(app, cache, now)
    cached = cache.get(key)
    if cached is not None and cached[0] > now:
        return cached[1]
    value = compute()
    if len(cache) >= APP_CACHE_MAX_ENTRIES:  # many keys (department combinations): start over
        cache.clear()
    cache[key] = (now + ttl, value)
    return value


def forget_cached_for_app(key: Hashable) -> None:
    """Drop *key* from this process's cache of the current app (the data behind it changed),
    and, once the transaction commits, from every other process's (through Redis)."""
    app = current_app._get_current_object()
    _APP_CACHE.get(app, {}).pop(key, None)
    if _shared_redis(app) is not None:
        session().info.setdefault(FORGOTTEN_KEY, set()).add(key)


@event.listens_for(Session, "after_commit")
def _announce_forgotten_keys(session: Session) -> None:
    # After the commit, not before: a process that reloads in between would cache the old rows.
    keys = session.info.pop(FORGOTTEN_KEY, None)
    if not keys:
        return
    app = current_app._get_current_object()
    cache = _APP_CACHE.get(app, {})
    for key in keys:  # this process may have reloaded the old rows before the commit, too
        cache.pop(key, None)
    try:
        with _shared_redis(app).pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hincrby(GENERATIONS_KEY, _field(key), 1)
            pipe.execute()
    except Exception as error:  # the change is stored; other processes catch up by TTL
        logger.warning("helpdesk: could not announce changed settings (%s)", error)


# Caches forgotten when this process flushes a change to the rows they copy: key -> (models,
# and per model the attributes whose change matters for an updated row; None: any change).
_FORGOTTEN_ON_CHANGE: dict[Hashable, tuple[tuple[type, ...], Mapping[type, tuple[str, ...]]]] = {}


def forget_on_change(
    key: Hashable, *models: type, attributes: Mapping[type, tuple[str, ...]] | None = None
) -> None:
    """Declare that the cache *key* copies rows of *models*: whoever adds, deletes or changes
    one of them through a session (a service, an admin page, a test, the demo), the flush
    forgets *key* here (:func:`forget_cached_for_app`: at once in this process, at commit in
    the others sharing Redis). *attributes* narrows what counts for an updated row of a model
    to a change of those attributes (a row merely touched, or changed elsewhere, keeps the
    cache). Registered at import, once per key; registering again replaces."""
    attributes = dict(attributes or {})
    unknown = set(attributes) - set(models)
    if unknown:
        raise ValueError(f"attributes given for models not listed: {unknown}")
    _FORGOTTEN_ON_CHANGE[key] = (models, attributes)


def _changed(instance: object, attributes: Mapping[type, tuple[str, ...]]) -> bool:
    names = next((n for model, n in attributes.items() if isinstance(instance, model)), None)
    if names is None:
        return True
    state = inspect(instance).attrs
    return any(state[name].history.has_changes() for name in names)


@event.listens_for(Session, "after_flush")
def _forget_caches_on_change(flushed: Session, context: Any) -> None:
    # One listener for every cache declared with forget_on_change. After a flush the session's
    # new, dirty and deleted sets and the attributes' history still show what it wrote. A
    # flush outside an app (a script's own session) has no cache to forget.
    if not _FORGOTTEN_ON_CHANGE or not has_app_context():
        return
    added_or_deleted = {type(o) for o in (*flushed.new, *flushed.deleted)}
    dirty = list(flushed.dirty)
    for key, (models, attributes) in _FORGOTTEN_ON_CHANGE.items():
        if any(issubclass(t, models) for t in added_or_deleted) or any(
            isinstance(o, models) and _changed(o, attributes) for o in dirty
        ):
            forget_cached_for_app(key)


@event.listens_for(Session, "after_soft_rollback")
def _keep_forgotten_keys_unannounced(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None and not previous_transaction.nested:
        session.info.pop(FORGOTTEN_KEY, None)


class ServiceError(Exception):
    """Base of the errors services raise; views turn them into pages, the API into JSON."""

    status_code = 400

    def __init__(self, message: str = "", field_errors: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.message = message
        self.field_errors = field_errors or {}


class NotFound(ServiceError):
    """Also raised for what exists but the actor may not see: no hint that it exists."""

    status_code = 404


class Forbidden(ServiceError):
    status_code = 403


class ValidationError(ServiceError):
    status_code = 422


class Conflict(ServiceError):
    status_code = 409


def session():
    # The app itself, then plain attributes: each attribute read through the ``current_app``
    # proxy costs a lookup of its own (this runs a dozen times a ticket creation, issue 17).
    return current_app._get_current_object().extensions["helpdesk"].db.session


# (mapper, columns given, dialect, driver, skip_if_taken) -> (its INSERT ... RETURNING compiled,
# (column key, attribute) of each value given, the attributes read back)
_INSERTS: dict[tuple[Any, ...], tuple[Prepared, tuple[tuple[str, str], ...], tuple[str, ...]]] = {}
# mapper -> its column attributes' keys, in order
_COLUMN_KEYS: dict[Any, tuple[str, ...]] = {}
# Session.info: the rows insert_loaded() added in the current transaction (see there).
INSERTED_KEY = "helpdesk_inserted_rows"


def new_row(model: type[M], **values: Any) -> M:
    """A new (transient) *model* object holding the column *values*, as ``model(**values)``
    makes one, without an instrumented set of each attribute: for a hot path's new row that
    :func:`insert_loaded` writes whole, or one joining the session as loaded (17 µs → 1 µs of
    CPU for a ticket's twenty values, issue 17). Only where no attribute event matters for a
    row not stored yet (the reports' listeners on a ticket's department and priority ignore
    it); relationships are set as usual, afterwards. Like the constructor, it configures the
    mappers first if nothing did yet in this process (until then a model's attributes are not
    instrumented: neither its identity nor a relationship could be read)."""
    manager = model._sa_class_manager
    if not manager.mapper.configured:
        configure_mappers()
    obj = manager.new_instance()
    instance_state(obj).dict.update(values)
    return obj


def insert_loaded(obj: Any, skip_if_taken: str | Index | None = None) -> bool:
    """INSERT the new (transient) *obj* in one Core statement; it joins the session as a loaded
    row. False, and nothing stored, when *skip_if_taken* names a unique column (or is a unique
    index of the table, partial or on expressions) whose value another row has already
    (``ON CONFLICT DO NOTHING``: no error, no savepoint needed).

    Not the ORM's flush, for a hot path's new rows whose every column value is known: the unit
    of work (dependency sort, per-object bookkeeping, a bind lookup at each step) was half of
    a ticket creation's CPU. What the database fills in (the id, column defaults) comes back
    by ``RETURNING``, so no attribute is loaded later; relationships set on *obj* stay as set
    (a foreign key column must be set too: nothing syncs it from a relationship here).
    The statement is compiled once a process (:class:`.prepared.Prepared`).
    Rolled back, the row leaves the session as a flushed new object would: transient, with
    its values (see :func:`_make_rows_rolled_back_transient`).
    """
    db = session()()  # the request's Session itself, not its scoped proxy
    state = inspect(obj)
    return _insert_loaded(db, db.connection(bind_arguments={"mapper": state.mapper}), state,
                          skip_if_taken)  # fmt: skip


def _insert_loaded(
    db: Session, connection: Any, state: Any, skip_if_taken: str | Index | None
) -> bool:
    mapper = state.mapper
    values = state.dict
    dialect = connection.dialect
    names = _COLUMN_KEYS.get(mapper)
    if names is None:
        names = _COLUMN_KEYS[mapper] = tuple(p.key for p in mapper.column_attrs)
    given = tuple([name for name in names if name in values])
    key = (mapper, given, dialect.name, dialect.driver, skip_if_taken)
    built = _INSERTS.get(key)
    if built is None:
        built = _INSERTS[key] = _build_insert(mapper, given, dialect, skip_if_taken)
    prepared, keys, returned = built
    row = prepared.run(connection, {k: values[name] for k, name in keys})
    if row is None:
        return False
    _adopt(db, state.obj(), returned, row)
    return True


def _build_insert(
    mapper: Any, given: tuple[str, ...], dialect: Any, skip_if_taken: str | Index | None
) -> tuple[Prepared, tuple[tuple[str, str], ...], tuple[str, ...]]:
    """:func:`insert_loaded`'s statement for *mapper* and the attributes *given*, compiled for
    *dialect*; the column key of each attribute given, and the attributes read back."""
    columns = mapper.column_attrs
    returned = tuple(p.key for p in columns if p.key not in given)
    statement = (postgresql.insert if dialect.name == "postgresql" else sqlite.insert)(
        mapper.local_table
    )
    if isinstance(skip_if_taken, Index):
        statement = statement.on_conflict_do_nothing(
            index_elements=list(skip_if_taken.expressions),
            index_where=skip_if_taken.dialect_options[dialect.name].get("where"),
        )
    elif skip_if_taken is not None:
        statement = statement.on_conflict_do_nothing(index_elements=[skip_if_taken])
    returning = [columns[k].columns[0] for k in returned]
    readback = known_without_returning(mapper.local_table, returning, dialect)
    if readback is None:
        statement = statement.returning(*returning)
    keys = tuple((columns[name].columns[0].key, name) for name in given)
    prepared = Prepared(statement, dialect, tuple(k for k, _name in keys), readback)
    return prepared, keys, returned


def _adopt(db: Session, obj: Any, returned: tuple[str, ...], row: Any) -> None:
    """*obj*, just INSERTed, with the *returned* values of its *row*, joins *db* as loaded."""
    state = instance_state(obj)
    values = state.dict
    for name, value in zip(returned, row, strict=True):
        values[name] = value
    to_detached(state)
    stale = db.identity_map.get(state.key)
    if stale is not None:  # a row of that id rolled back earlier in this session
        db.expunge(stale)
    add_detached(db, state)
    root = db.get_transaction()
    inserted = db.info.get(INSERTED_KEY)
    if inserted is None or inserted[0] is not root:
        inserted = db.info[INSERTED_KEY] = (root, [])
    inserted[1].append((db.get_nested_transaction() or root, obj))


# class manager -> (the keys of the attributes a load fills in, the primary key's attributes)
_LOADED_KEYS: dict[Any, tuple[frozenset[str], tuple[str, ...]]] = {}


def to_detached(state: Any) -> None:
    """``make_transient_to_detached`` of the new object of *state*, made by :func:`new_row`
    and holding every column (a row just INSERTed whole, a department's copy): its identity,
    its history reset as if loaded. What the ORM's function also does, expiring the attributes
    it does not hold, changes nothing for such an object but walking every attribute name
    (its relationships: a relationship not set loads when read, expired or not): 0.1 ms of a
    ticket creation's CPU for the ticket, its first message and the department (issue 17).
    Any other object (a column missing, a ``column_property`` not loaded, ``expire``
    listeners, loader callables) goes through the ORM's function.
    ``tests/test_new_rows.py`` compares both, attribute of the state by attribute."""
    manager = state.manager
    known = _LOADED_KEYS.get(manager)
    if known is None:
        mapper = state.mapper
        known = _LOADED_KEYS[manager] = (
            frozenset(key for key in manager if manager[key].impl.accepts_scalar_loader),
            tuple(mapper.get_property_by_column(c).key for c in mapper.primary_key),
        )
    scalars, primary_key = known
    values = state.dict
    if (
        state.session_id
        or state.key
        or state._deleted
        or state.callables
        or manager.dispatch.expire
        or not values.keys() >= scalars
    ):
        make_transient_to_detached(state.obj())
        return
    state.key = state.mapper.identity_key_from_primary_key(
        [values[key] for key in primary_key], state.identity_token
    )
    state._commit_all(values)


# mapper -> (key, is a collection) of each relationship that cascades ``save-update``
_SAVE_UPDATE: dict[Any, tuple[tuple[str, bool], ...]] = {}


def add_detached(db: Session, state: Any) -> None:
    """``db.add()`` of the detached object of *state* (just made so from a new row). When
    every object its relationships hold (loaded) is in *db* already, as a new ticket's
    department and requester or a message's ticket are, ``add``'s cascade would stop at each
    of them and add nothing but the object: it joins *db* directly then, without the cascade's
    generic walk (about 20 µs an object, issue 17). Otherwise ``add`` as usual."""
    relationships = _SAVE_UPDATE.get(state.mapper)
    if relationships is None:
        relationships = _SAVE_UPDATE[state.mapper] = tuple(
            (prop.key, bool(prop.uselist))
            for prop in state.mapper.relationships
            if prop.cascade.save_update
        )
    values = state.dict
    contains = db._contains_state
    for key, many in relationships:
        value = values.get(key)
        if value is None:
            continue
        for related in value if many else (value,):
            if related is not None and not contains(instance_state(related)):
                db.add(state.obj())
                return
    if db._warn_on_events:  # inside a flush: let add() warn as it does
        db.add(state.obj())
        return
    state._orphaned_outside_of_session = False
    db._update_impl(state)


# (parent's and children's mappers and columns given, rows' tables and columns, skip_if_taken)
# -> the one statement, the objects' columns read back, and the defaults each part fills in
_TOGETHER: dict[
    tuple[Any, ...], tuple[Any, list[tuple[str, ...]], list[list[tuple[str, Any]]]]
] = {}


@dataclass(frozen=True)
class RowUpdate:
    """An existing row's UPDATE that :func:`insert_loaded_with` writes with the new rows:
    *table*'s row of key *id* gets *values* (column keys) and, in each column of *ids*, the
    id of the new object at that position (0 the parent, 1 its first child, ...)."""

    table: Table
    id: Any
    values: dict[str, Any]
    ids: dict[str, int]


def insert_loaded_with(
    obj: Any,
    children: Sequence[tuple[Any, str]] = (),
    rows: Sequence[tuple[Table, dict[str, Any], str]] = (),
    skip_if_taken: str | None = None,
    update: RowUpdate | None = None,
) -> bool:
    """:func:`insert_loaded` of *obj* and, with it, what refers to it: *children* (new objects,
    each with the name of its foreign-key column to *obj*, which they join the session as
    loaded too) and *rows* (a Core table, the row's values, its foreign-key column: written,
    not read back). Each gets *obj*'s id. False, nothing stored, when *skip_if_taken* refused
    *obj* (its children and rows are not written either).

    On PostgreSQL all of them are ONE statement (data-modifying ``WITH`` queries, each child's
    ``INSERT ... SELECT`` taking the parent's id from the parent's ``RETURNING``): ticket
    creation's ticket, first message, reports' fact and audit event were four round trips,
    each a quarter of a millisecond of CPU or more in the creating process, and about as much
    in the database's (issue 17). Elsewhere (SQLite runs no INSERT inside a WITH) one each.

    *update* (:class:`RowUpdate`): an existing row set in the same statement on PostgreSQL,
    some of its columns to the new rows' ids (mail intake's outcome: the inbound mail's row
    names the ticket and message it became); elsewhere its own UPDATE right after. Not written
    when *skip_if_taken* refused *obj*. The caller holds that row's lock already (an UPDATE
    inside the statement would otherwise lock it after the new rows' triggers took theirs).
    """
    db = session()()
    state = inspect(obj)
    connection = db.connection(bind_arguments={"mapper": state.mapper})
    dialect = connection.dialect
    if dialect.name != "postgresql":
        if not _insert_loaded(db, connection, state, skip_if_taken):
            return False
        for child, foreign_key in children:
            setattr(child, foreign_key, obj.id)
            _insert_loaded(db, connection, inspect(child), None)
        for table, values, foreign_key in rows:
            _insert_row(table, tuple(values), foreign_key, connection.dialect).run(
                connection, {**values, foreign_key: obj.id}
            )
        if update is not None:
            ids = [obj.id, *(child.id for child, _fk in children)]
            table = update.table
            connection.execute(
                table.update()
                .where(table.c.id == update.id)
                .values({**update.values, **{c: ids[i] for c, i in update.ids.items()}})
            )
        return True
    states = [(state, None), *((inspect(child), fk) for child, fk in children)]
    # Columns whose value is None and that nobody fills in are left out (NULL all the same):
    # fewer parameters (psycopg converts a statement of more than 50 again at every run).
    givens, nulls = [], []
    for item, foreign_key in states:
        given, null = [], []
        for prop in item.mapper.column_attrs:
            name = prop.key
            if name in item.dict and name != foreign_key:
                if item.dict[name] is None and _null_unless_given(prop.columns[0], dialect):
                    null.append(name)
                else:
                    given.append(name)
        givens.append(tuple(given))
        nulls.append(tuple(null))
    row_names = [
        tuple(
            n
            for n, value in values.items()
            if n != fk and not (value is None and _null_unless_given(table.c[n], dialect))
        )
        for table, values, fk in rows
    ]
    key = (
        tuple(
            (s.mapper, given, null, fk)
            for (s, fk), given, null in zip(states, givens, nulls, strict=True)
        ),
        tuple(
            (table, names, fk) for (table, _values, fk), names in zip(rows, row_names, strict=True)
        ),
        skip_if_taken,
        None if update is None else (update.table, tuple(update.values), tuple(update.ids.items())),
    )
    built = _TOGETHER.get(key)
    if built is None:
        built = _TOGETHER[key] = _together(key)
    statement, returned, defaults = built
    parameters: dict[str, Any] = {}
    for index, ((item, _fk), given) in enumerate(zip(states, givens, strict=True)):
        values, columns = item.dict, item.mapper.column_attrs
        for name in given:
            parameters[f"o{index}_{columns[name].columns[0].key}"] = values[name]
    for index, ((_table, values, _fk), names) in enumerate(zip(rows, row_names, strict=True)):
        for name in names:
            parameters[f"r{index}_{name}"] = values[name]
    for part in defaults:
        for name, default in part:
            parameters[name] = default.arg(None) if default.is_callable else default.arg
    if update is not None:
        parameters["u_id"] = update.id
        for name, value in update.values.items():
            parameters[f"u_{name}"] = value
    row = db.execute(statement, parameters).first()
    if row is None:
        return False
    start = 0
    for (item, foreign_key), names in zip(states, returned, strict=True):
        if foreign_key is not None:
            item.dict[foreign_key] = obj.id
        _adopt(db, item.obj(), names, row[start : start + len(names)])
        start += len(names)
    return True


def _together(
    key: tuple[Any, ...],
) -> tuple[Any, list[tuple[str, ...]], list[list[tuple[str, Any]]]]:
    """The statement of :func:`insert_loaded_with` on PostgreSQL for *key* (built once), the
    columns each object reads back, and the Python-side column defaults each part fills in
    itself (inside a ``WITH``, SQLAlchemy computes none: they would be NULL)."""
    from sqlalchemy import bindparam, exists, false, literal_column, select, true

    objects, rows, skip_if_taken, update = key
    for mapper, _given, _null, _fk in objects:  # names below are both attribute and column keys
        if any(p.key != p.columns[0].key for p in mapper.column_attrs):
            raise ValueError(f"insert_loaded_with: {mapper} renames a column")
    defaults: list[list[tuple[str, Any]]] = []

    def parameters(table: Table, names: tuple[str, ...], skip: str | None, prefix: str) -> list:
        """*table*'s columns *names* and those with a Python-side default, as parameters of
        their type (rendered with a cast: PostgreSQL infers none in a SELECT list); a default
        that is a constant truth value or integer is written in the statement instead."""
        filled, constants = [], []
        for column in table.columns:
            if column.key in names or column.key == skip or column.default is None:
                continue
            default = column.default
            if not (default.is_scalar or default.is_callable):
                raise ValueError(f"insert_loaded_with: {column} has a default it cannot compute")
            if default.is_scalar and isinstance(default.arg, bool):
                constants.append((column, true() if default.arg else false()))
            elif default.is_scalar and type(default.arg) is int:
                constants.append((column, literal_column(str(default.arg), column.type)))
            else:
                filled.append((column, f"{prefix}_{column.key}", default))
        defaults.append([(name, default) for _c, name, default in filled])
        given = [(table.c[n], f"{prefix}_{table.c[n].key}") for n in names]
        return [
            (column, bindparam(name, type_=column.type))
            for column, name in [*given, *((c, n) for c, n, _d in filled)]
        ] + constants

    def read_back(mapper: Any, given: tuple[str, ...], null: tuple, foreign_key: Any) -> tuple:
        # What the object does not hold yet, its defaults too: it joins the session loaded.
        known = (*given, *null, foreign_key)
        return tuple(p.key for p in mapper.column_attrs if p.key not in known)

    (mapper, given, null, _none), *children = objects
    table = mapper.local_table
    written = parameters(table, given, None, "o0")
    first = postgresql.insert(table).values(dict(written))
    if skip_if_taken is not None:
        first = first.on_conflict_do_nothing(index_elements=[skip_if_taken])
    returned = [read_back(mapper, given, null, None)]
    if "id" not in returned[0]:
        raise ValueError("insert_loaded_with: the parent's id must come from the database")
    head = first.returning(*(mapper.column_attrs[k].columns[0] for k in returned[0])).cte("new_0")

    def from_parent(target: Table, written: list, foreign_key: str) -> Any:
        return postgresql.insert(target).from_select(
            [target.c[foreign_key], *(column for column, _p in written)],
            select(head.c.id, *(parameter for _c, parameter in written)),
            include_defaults=False,
        )

    query_columns = list(head.c)
    joined = head
    news = [head]  # the new rows' CTEs, the parent's first
    for index, (child_mapper, child_given, child_null, foreign_key) in enumerate(children, start=1):
        child_table = child_mapper.local_table
        fk_key = child_mapper.column_attrs[foreign_key].columns[0].key
        written = parameters(child_table, child_given, fk_key, f"o{index}")
        child_returned = read_back(child_mapper, child_given, child_null, foreign_key)
        returned.append(child_returned)
        child = (
            from_parent(child_table, written, fk_key)
            .returning(*(child_mapper.column_attrs[k].columns[0] for k in child_returned))
            .cte(f"new_{index}")
        )
        query_columns += list(child.c)
        news.append(child)
        joined = joined.join(child, true())
    query = select(*query_columns).select_from(joined)
    for index, (row_table, names, foreign_key) in enumerate(rows):
        written = parameters(row_table, names, foreign_key, f"r{index}")
        query = query.add_cte(from_parent(row_table, written, foreign_key).cte(f"row_{index}"))
    if update is not None:
        # No new row (the code was taken): no update.
        target, names, ids = update
        changed = {target.c[n]: bindparam(f"u_{n}", type_=target.c[n].type) for n in names}
        changed.update(
            {target.c[column]: select(news[i].c.id).scalar_subquery() for column, i in ids}
        )
        row_update = (
            target.update()
            .where(
                target.c.id == bindparam("u_id", type_=target.c.id.type),
                exists(select(head.c.id)),
            )
            .values(changed)
        )
        query = query.add_cte(row_update.cte("row_update"))
    return query, returned, defaults


@cache
def _null_unless_given(column: Any, dialect: Any) -> bool:
    """Whether *column* given None stores what an INSERT leaving it out stores: NULL (no
    default, here or in the database, not the key, and a type that sends None as NULL: JSON
    sends ``'null'``)."""
    if column.default is not None or column.server_default is not None or column.primary_key:
        return False
    process = column.type.bind_processor(dialect)
    return process is None or process(None) is None


# (table, values' names, foreign key, dialect) -> its INSERT (insert_loaded_with's rows)
_ROW_INSERTS: dict[tuple[Any, ...], Prepared] = {}


def _insert_row(table: Table, names: tuple[str, ...], foreign_key: str, dialect: Any) -> Prepared:
    """The INSERT of a row of *table* with the values *names* and *foreign_key*. Like every
    statement compiled here, kept per dialect and driver (not per engine: the processors of
    the types used here depend on nothing else)."""
    key = (table, names, foreign_key, dialect.name, dialect.driver)
    prepared = _ROW_INSERTS.get(key)
    if prepared is None:
        given = (*(n for n in names if n != foreign_key), foreign_key)
        prepared = _ROW_INSERTS[key] = Prepared(table.insert(), dialect, given)
    return prepared


def _within(transaction: SessionTransaction | None, boundary: SessionTransaction) -> bool:
    while transaction is not None and transaction is not boundary:
        transaction = transaction.parent
    return transaction is boundary


@event.listens_for(Session, "after_rollback")
def _make_rows_rolled_back_transient(session: Session) -> None:
    # What the ORM does with the objects a rolled-back flush inserted: they leave the session
    # and become transient again, keeping their values (their ids may be given to other rows
    # now). Kept, they would be stale rows in the identity map. Done here, after the database's
    # rollback and before the session expires what it holds: expunged afterwards they were
    # detached and expired, and any later read of one (an error page naming the ticket) raised
    # DetachedInstanceError. Never raises: the session would re-raise it from its rollback.
    inserted = session.info.get(INSERTED_KEY)
    if not inserted:
        return
    # What is being rolled back: the innermost savepoint, else the whole transaction.
    boundary = session.get_nested_transaction() or session.get_transaction()
    root, rows = inserted
    if boundary is None or not _within(boundary, root):
        return
    kept = []
    for transaction, obj in rows:
        if _within(transaction, boundary):
            if obj in session:
                session.expunge(obj)
            make_transient(obj)
        else:
            kept.append((transaction, obj))
    rows[:] = kept


# Session.info keys: how deep we are in unit_of_work blocks, and the signals they hold back.
UNIT_DEPTH_KEY = "helpdesk_unit_depth"
PENDING_SIGNALS_KEY = "helpdesk_pending_signals"
RULE_EVENTS_KEY = "helpdesk_rule_events"  # changes the rules engine has not seen (rule_events)
KEPT_AFTER_COMMIT_KEY = "helpdesk_kept_after_commit"  # see kept_for_inline_jobs


# Called (in order) just before a unit of work commits, inside its transaction: the rules engine
# registers itself here (services/rules.py), so rules run in the transaction of the change.
_BEFORE_COMMIT: list[Callable[[], None]] = []


def before_commit(hook: Callable[[], None]) -> Callable[[], None]:
    """Register *hook* to run inside every unit of work right before it commits."""
    if hook not in _BEFORE_COMMIT:
        _BEFORE_COMMIT.append(hook)
    return hook


def commit() -> None:
    """Commit the unit of work, then hand its follow-up jobs to the dispatcher and send the
    signals it held back. Inside :func:`unit_of_work` this only flushes: the block commits."""
    if session().info.get(UNIT_DEPTH_KEY):
        session().flush()
        return
    try:
        for hook in _BEFORE_COMMIT:
            hook()
        session().commit()
    except BaseException:
        rollback()
        raise
    # The signals are this commit's from here on: a follow-up job run here that fails rolls
    # its own transaction back, which forgets what is held back for the next commit.
    committed = session().info.pop(PENDING_SIGNALS_KEY, [])
    dispatch_pending()
    _send_signals(committed)


def rollback() -> None:
    session().rollback()
    discard_pending()
    session().info.pop(PENDING_SIGNALS_KEY, None)
    session().info.pop(RULE_EVENTS_KEY, None)


@contextmanager
def unit_of_work() -> Iterator[None]:
    """Run several service calls as one transaction.

    Inside the block each service's :func:`commit` only flushes; leaving the block commits once,
    then dispatches the jobs and sends the signals of every call in it, in order. An exception
    rolls everything back (jobs and signals included) and propagates. Blocks nest: the
    outermost one commits. Inbound mail uses it so that a ticket, its participants and the
    inbound row's status are stored together or not at all.
    """
    info = session().info
    info[UNIT_DEPTH_KEY] = info.get(UNIT_DEPTH_KEY, 0) + 1
    try:
        yield
    except BaseException:
        info[UNIT_DEPTH_KEY] -= 1
        if not info[UNIT_DEPTH_KEY]:
            rollback()
        raise
    info[UNIT_DEPTH_KEY] -= 1
    if not info[UNIT_DEPTH_KEY]:
        commit()


@contextmanager
def savepoint_unit() -> Iterator[None]:
    """Inside a :func:`unit_of_work`: the block as a unit of its own within the unit's
    transaction, in a savepoint. Leaving it runs the before-commit hooks on what the block
    changed (the rules, as the block's own commit would) and releases the savepoint; an
    exception rolls the savepoint back, drops the jobs, signals and rule events the block
    queued, and propagates: what the unit did before the block stays, to be committed with
    the rest. Intake's batch of mails (:func:`.intake.process_batch`) runs each mail so."""
    db = session()
    info = db.info
    marks = {key: len(info.get(key) or ()) for key in _UNIT_QUEUES}
    try:
        with db.begin_nested():  # released on leaving, rolled back by an exception
            yield
            for hook in _BEFORE_COMMIT:
                hook()
    except BaseException:
        for key, mark in marks.items():
            if info.get(key):
                del info[key][mark:]
        raise


# What a unit of work queues for after its commit (see savepoint_unit).
_UNIT_QUEUES = (PENDING_KEY, PENDING_SIGNALS_KEY, RULE_EVENTS_KEY)


@contextmanager
def kept_for_inline_jobs(*written: object) -> Iterator[None]:
    """Around a commit (or a :func:`unit_of_work`) whose inline jobs read what it wrote: the
    commit expires nothing, so the jobs find the rows as the transaction left them in the
    session instead of reading them back (:func:`kept_as_committed`; intake's processing,
    ticket creation, and their staff notification). From that commit until the next one or a
    rollback, every object loaded in the session is as committed: loaded or written by that
    transaction, the commit before it expired the others. Then, and when the block ends,
    everything is expired as a commit does, but *written*: objects the transaction wrote
    whole (new rows with every column, see :func:`insert_loaded`), which the caller gets
    loaded as committed (a ticket just opened, read by the page it redirects to), with RQ
    too. A job may open a block of its own for its own jobs; inside a block whose commit is
    still to come (a :func:`unit_of_work` in one) a block does nothing: the outer one keeps.
    With RQ the jobs run elsewhere (but for a drain's, :func:`.jobs.run_drain`), and a host
    session that never expires on commit tells nothing: no change then."""
    current = session().registry()
    kept = current.info.get(KEPT_AFTER_COMMIT_KEY)
    if (
        kept == "armed"
        or not (written or follow_ups_run_here())
        or not (current.expire_on_commit or kept is not None)
    ):
        yield
        return
    current.expire_on_commit = False
    current.info[KEPT_AFTER_COMMIT_KEY] = "armed"
    try:
        yield
    finally:
        current.expire_on_commit = True
        # Expired as the commit would have (nothing to do when no commit happened: inside an
        # outer unit of work the commit only flushed, or a job's commit already expired all).
        if current.info.pop(KEPT_AFTER_COMMIT_KEY, None) == "live":
            _expire_all_but(current, written)


def _expire_all_but(current: Session, written: Sequence[object]) -> None:
    if not written:
        current.expire_all()
        return
    # As the commit's own expiry does it (Session._remove_snapshot), not by Session.expire()
    # of each object, which also walks each one's relationships for a refresh-expire cascade
    # (a commit does not, and every object but *written* is expired here anyway): 2 % of a
    # ticket creation's CPU (issue 17).
    keep = {id(obj) for obj in written}
    identity_map = current.identity_map
    for state in list(identity_map.all_states()):
        if id(state.obj()) not in keep:
            state._expire(state.dict, identity_map._modified)


def kept_as_committed(instance: object) -> bool:
    """Whether *instance* is as the last commit stored it (see :func:`kept_for_inline_jobs`)."""
    if session().info.get(KEPT_AFTER_COMMIT_KEY) != "live":
        return False
    state = inspect(instance)
    return state.persistent and not (state.expired or state.expired_attributes)


@event.listens_for(Session, "after_commit")
def _kept_until_the_next_commit(committed: Session) -> None:
    kept = committed.info.get(KEPT_AFTER_COMMIT_KEY)
    if kept is None or committed.in_nested_transaction():  # a savepoint released
        return
    if kept == "armed":  # the unit's commit: what it loaded and wrote is as committed
        committed.info[KEPT_AFTER_COMMIT_KEY] = "live"
    elif kept == "live":  # a job committed more: from here on, the usual expiry
        del committed.info[KEPT_AFTER_COMMIT_KEY]
        committed.expire_on_commit = True
        committed.expire_all()


@event.listens_for(Session, "after_soft_rollback")
def _forget_signals_on_rollback(session: Session, previous_transaction: Any) -> None:
    # As jobs.py does for jobs: a rolled-back unit of work announces nothing.
    if previous_transaction.parent is None and not previous_transaction.nested:
        session.info.pop(PENDING_SIGNALS_KEY, None)
        session.info.pop(RULE_EVENTS_KEY, None)
        session.info.pop(KEPT_AFTER_COMMIT_KEY, None)  # a rollback expires everything


def _send_signals(committed: list) -> None:
    for signal, kwargs in committed:
        signal.send(current_app._get_current_object(), **kwargs)


def send_signal(signal: Any, **kwargs: Any) -> None:
    """Send *signal* now, or, inside :func:`unit_of_work`, once the block has committed."""
    if session().info.get(UNIT_DEPTH_KEY):
        session().info.setdefault(PENDING_SIGNALS_KEY, []).append((signal, kwargs))
        return
    signal.send(current_app._get_current_object(), **kwargs)


def send_after_commit(signal: Any, **kwargs: Any) -> None:
    """Send *signal* once the current transaction commits (never if it rolls back), also
    outside :func:`unit_of_work`: a change queued before its commit (a status transition) is
    announced only when it is stored."""
    session().info.setdefault(PENDING_SIGNALS_KEY, []).append((signal, kwargs))
