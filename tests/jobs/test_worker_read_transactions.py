"""A worker ends a transaction that only read by COMMIT, not ROLLBACK (PostgreSQL with psycopg):
psycopg forgets every statement it prepared on the server at a ROLLBACK, and a worker rolled
back after every job and every drained mail, so PostgreSQL parsed and planned each statement
anew (jobs.commit_read_only_rollbacks). A transaction that wrote is still rolled back. And a
worker's cursors build their description only when it is read (jobs.lazy_descriptions)."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import select, text, update

from flask_helpdesk.jobs import make_worker
from flask_helpdesk.models import Department
from tests.conftest import DATABASE_URL_VARIABLE

pytestmark = pytest.mark.skipif(
    not os.environ.get(DATABASE_URL_VARIABLE, "").startswith("postgresql"),
    reason=f"set {DATABASE_URL_VARIABLE} to a PostgreSQL URL",
)


@pytest.fixture
def app(rq_app):
    return rq_app


@pytest.fixture
def worker_session(rq_app):
    make_worker(rq_app)  # what a worker process does before its first job
    db = rq_app.extensions["helpdesk"].db
    db.session.remove()
    return db.session


def _backend_and_prepared(session) -> tuple[int, int]:
    return session.execute(
        text("SELECT pg_backend_pid(), (SELECT count(*) FROM pg_prepared_statements)")
    ).one()


def test_statements_stay_prepared_after_a_job_that_only_read(worker_session, departments):
    billing = departments["billing"].id
    worker_session.remove()
    backend, _ = _backend_and_prepared(worker_session)
    for _ in range(6):  # psycopg prepares a statement at its fifth run
        worker_session.scalars(select(Department.name).where(Department.id == billing)).one()
    _, prepared = _backend_and_prepared(worker_session)
    assert prepared
    worker_session.remove()  # the end of a job (or of a drained mail)

    # The same server connection (the pool's only one), its statements still prepared.
    assert _backend_and_prepared(worker_session) == (backend, prepared)


def test_a_transaction_that_wrote_is_still_rolled_back(worker_session, departments):
    billing = departments["billing"].id
    worker_session.remove()
    worker_session.execute(update(Department).where(Department.id == billing).values(name="X"))
    worker_session.remove()
    # A write hidden in a SELECT (a data-modifying WITH) counts as a write too.
    worker_session.execute(
        text(
            "WITH renamed AS (UPDATE helpdesk_department SET name = 'Y' WHERE id = :id"
            " RETURNING id) SELECT id FROM renamed"
        ),
        {"id": billing},
    )
    worker_session.remove()

    assert worker_session.get(Department, billing).name == "Billing"


def test_a_workers_results_read_the_same_with_descriptions_built_when_read(
    worker_session, departments
):
    """A worker's cursors build ``description`` only when it is read (jobs.lazy_descriptions):
    the rows, their keys and the columns a raw statement describes are what psycopg gives."""
    import psycopg

    billing = departments["billing"]
    connection = worker_session.connection()
    cursor = connection.connection.dbapi_connection.cursor()
    assert type(cursor) is not psycopg.Cursor and isinstance(cursor, psycopg.Cursor)
    row = worker_session.execute(
        select(Department.id, Department.name).where(Department.id == billing.id)
    ).one()
    assert (row.id, row.name) == (billing.id, billing.name)
    result = connection.exec_driver_sql("SELECT 1 AS one, 'x'::text AS letter")
    assert list(result.keys()) == ["one", "letter"] and result.all() == [(1, "x")]
    cursor.execute("SELECT 2 AS two WHERE false")
    assert len(cursor.description) == 1
    assert [(c.name, c.type_code) for c in cursor.description] == [("two", 23)]
    cursor.execute("SET LOCAL statement_timeout = 0")
    assert cursor.description is None


def test_a_worker_on_psycopg_3_1_reads_its_results(worker_session, departments, monkeypatch):
    """psycopg 3.1 (what pyproject allows) has no ``ExecStatus.TUPLES_CHUNK`` (3.2, libpq 17):
    the worker's cursor class asked for it, and every connection's checkout failed with an
    AttributeError, so no job could run."""
    import enum

    import psycopg.pq

    from flask_helpdesk import jobs

    billing = departments["billing"]
    billing_id, billing_name = billing.id, billing.name
    statuses = {s.name: s.value for s in psycopg.pq.ExecStatus if s.name != "TUPLES_CHUNK"}
    monkeypatch.setattr(psycopg.pq, "ExecStatus", enum.IntEnum("ExecStatus", statuses))
    jobs._lazy_cursor_class.cache_clear()
    try:
        worker_session.remove()
        worker_session.get_bind().dispose()  # a new connection: its checkout sets the class
        name = worker_session.scalars(select(Department.name).where(Department.id == billing_id))
        assert name.one() == billing_name
        cursor = worker_session.connection().connection.dbapi_connection.cursor()
        cursor.execute("SELECT 2 AS two WHERE false")
        assert [c.name for c in cursor.description] == ["two"]
    finally:
        worker_session.remove()
        jobs._lazy_cursor_class.cache_clear()


def test_a_description_kept_names_its_columns_after_the_cursor_moved_on(worker_session):
    """psycopg's ``description`` is a list built when asked for: kept, it still names the
    columns once the cursor ran another statement, moved to its next result or closed. A
    worker's, built when first read, raised a RuntimeError there (a job's raw DBAPI code)."""
    connection = worker_session.connection().connection.dbapi_connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 AS one")
        first = cursor.description
        cursor.execute("SELECT 'x'::text AS letter")
        second = cursor.description
        cursor.executemany("SELECT %s::int AS n", [(1,), (2,)], returning=True)
        of_many = cursor.description
        assert cursor.nextset()
    assert [(c.name, c.type_code) for c in first] == [("one", 23)]
    assert [(c.name, c.type_code) for c in second] == [("letter", 25)]
    assert [c.name for c in of_many] == ["n"]
