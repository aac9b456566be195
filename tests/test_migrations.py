"""The shipped Alembic migrations build exactly the models' schema, on SQLite and PostgreSQL,
and never touch the host's tables or the host's own Alembic version table.

Each test migrates its own throw-away database (a temporary SQLite file, or a temporary
PostgreSQL database next to HELPDESK_TEST_DATABASE_URL) so the session's tables are left alone.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from flask import Flask
from sqlalchemy import MetaData, bindparam, create_engine, inspect, text
from sqlalchemy.engine import make_url

from example_app import DEMO_PASSWORD, create_app
from example_app.models import Member, db
from flask_helpdesk import migrations
from flask_helpdesk.migrations.autogen import (
    helpdesk_include_name,
    helpdesk_include_object,
)
from flask_helpdesk.models import HelpdeskModel, TicketStatus

POSTGRES_URL = os.environ.get("HELPDESK_TEST_DATABASE_URL", "")
needs_postgres = pytest.mark.skipif(
    not POSTGRES_URL.startswith("postgresql"),
    reason="set HELPDESK_TEST_DATABASE_URL to a PostgreSQL URL",
)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=needs_postgres)])
def empty_url(request, tmp_path) -> Iterator[str]:
    """The URL of a brand-new, empty database of each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.sqlite'}"
        return
    server = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"hd_migr_{uuid.uuid4().hex[:10]}"
    with server.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def host_app(url: str, tmp_path: Path, **config) -> Flask:
    return create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": url,
            "HELPDESK_STORAGE_PATH": str(tmp_path / "attachments"),
            "HELPDESK_REDIS_URL": None,
            **config,
        }
    )


@pytest.fixture
def app(empty_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The demo host on the empty database, its own tables created, the helpdesk's not yet."""
    app = host_app(empty_url, tmp_path)
    with app.app_context():
        db.create_all()
        try:
            yield app
        finally:
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()


def schema_differences(app: Flask) -> list:
    """What Alembic would still change to make the database match the helpdesk's models."""
    with app.extensions["helpdesk"].engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "include_name": helpdesk_include_name,
                "include_object": helpdesk_include_object,
            },
        )
        return compare_metadata(context, HelpdeskModel.metadata)


def table_names(app: Flask) -> set[str]:
    return set(inspect(app.extensions["helpdesk"].engine).get_table_names())


def helpdesk_tables() -> set[str]:
    return set(HelpdeskModel.metadata.tables)


def test_upgrade_builds_exactly_the_models_schema(app):
    assert migrations.current(app) is None

    migrations.upgrade(app)

    assert schema_differences(app) == []
    tables = table_names(app)
    assert helpdesk_tables() <= tables
    managed = {name for name in tables if helpdesk_include_name(name, "table", {})}
    assert managed == helpdesk_tables()
    assert migrations.current(app) == migrations.head()


def test_the_comparison_notices_a_missing_index(app):
    """Guard for the test above: a schema that differs from the models is reported."""
    migrations.upgrade(app)
    with app.extensions["helpdesk"].engine.begin() as connection:
        connection.execute(text("DROP INDEX ix_helpdesk_ticket_status_updated"))

    differences = schema_differences(app)

    assert [(d[0], d[1].name) for d in differences] == [
        ("add_index", "ix_helpdesk_ticket_status_updated")
    ]


def test_upgrade_is_idempotent_and_keeps_data(app):
    from flask_helpdesk.services.departments import create_department
    from flask_helpdesk.services.identity import SYSTEM

    migrations.upgrade(app)
    create_department(SYSTEM, "Billing", slug="billing")

    migrations.upgrade(app)
    migrations.upgrade(app, "head")

    assert migrations.current(app) == migrations.head()
    with app.extensions["helpdesk"].engine.connect() as connection:
        slugs = connection.execute(text("SELECT slug FROM helpdesk_department")).scalars().all()
    assert slugs == ["billing"]


# The revision before 0004 added the full-text objects.
BEFORE_FULL_TEXT = "0003"


def full_text_objects(app: Flask) -> set[str]:
    engine = app.extensions["helpdesk"].engine
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            query = "SELECT name FROM sqlite_master WHERE name LIKE 'helpdesk_%fts%'"
        else:
            query = (
                "SELECT indexname FROM pg_indexes WHERE indexname LIKE 'ix_helpdesk_%fts'"
                " UNION SELECT proname FROM pg_proc WHERE proname LIKE 'helpdesk_%'"
                " UNION SELECT tgname FROM pg_trigger WHERE tgname LIKE 'helpdesk_%'"
                " UNION SELECT tablename FROM pg_tables"
                "  WHERE tablename IN ('helpdesk_ticket_search', 'helpdesk_search_word')"
            )
        return set(connection.execute(text(query)).scalars())


# What revision 0008 makes on PostgreSQL: a search document per ticket (models/search.py).
PG_SEARCH_OBJECTS = {
    "helpdesk_ticket_search",
    "ix_helpdesk_ticket_search_fts",
    "helpdesk_refresh_search_document",
    "helpdesk_search_document_trigger",
    "helpdesk_ticket_search_insert",
    "helpdesk_ticket_search_update",
    "helpdesk_message_search",
    # 0009: the sort keys copied into the search rows.
    "helpdesk_search_keys_trigger",
    "helpdesk_ticket_search_keys",
    # 0010: the words of the documents.
    "helpdesk_search_word",
}
# What revision 0029 adds: the department counts' triggers (models/counts.py).
COUNT_OBJECTS = {
    "helpdesk_ticket_count_add",
    "helpdesk_ticket_count_trigger",
    "helpdesk_ticket_count_insert_delete",
    "helpdesk_ticket_count_update",
}
# What revision 0023 adds: the article search (models/knowledge_search.py).
KB_SEARCH_OBJECTS = {
    "ix_helpdesk_kb_article_search_fts",
    "ix_helpdesk_kb_article_search_title_fts",
    "helpdesk_kb_article_search_trigger",
    "helpdesk_kb_article_search",
    # 0030: accent folding.
    "helpdesk_kb_fold",
}


def test_full_text_search_objects_are_migrated_and_index_existing_rows(app):
    migrations.upgrade(app, BEFORE_FULL_TEXT)
    assert full_text_objects(app) == set()
    with app.extensions["helpdesk"].engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO helpdesk_department (slug, name, description, is_active, position,"
                " created_at) VALUES ('billing', 'Billing', '', true, 0, CURRENT_TIMESTAMP)"
            )
        )

    migrations.upgrade(app)

    objects = full_text_objects(app)
    if app.extensions["helpdesk"].engine.dialect.name == "sqlite":
        # 0028: one document per ticket instead of 0004's per-message and per-subject indexes.
        assert {"helpdesk_ticket_search_fts", "helpdesk_ticket_search_fts_message_au"} <= objects
        assert not {"helpdesk_message_fts", "helpdesk_ticket_fts"} & objects
        migrations.downgrade(app, "0027")
        objects = full_text_objects(app)
        assert {"helpdesk_message_fts", "helpdesk_ticket_fts", "helpdesk_ticket_fts_au"} <= objects
        assert not {"helpdesk_ticket_search_fts"} & objects
    else:
        assert objects == PG_SEARCH_OBJECTS | KB_SEARCH_OBJECTS | COUNT_OBJECTS
        migrations.downgrade(app, "0022")
        assert full_text_objects(app) == PG_SEARCH_OBJECTS
        # Down to 0009, then 0008: the list of words goes, then the rows' sort keys.
        migrations.downgrade(app, "0009")
        assert full_text_objects(app) == PG_SEARCH_OBJECTS - {"helpdesk_search_word"}
        migrations.downgrade(app, "0008")
        assert full_text_objects(app) == PG_SEARCH_OBJECTS - {
            "helpdesk_search_word",
            "helpdesk_search_keys_trigger",
            "helpdesk_ticket_search_keys",
        }
        # Down to 0007: the per-message indexes that 0008 replaced come back, and only they.
        migrations.downgrade(app, "0007")
        assert full_text_objects(app) == {
            "ix_helpdesk_message_body_fts",
            "ix_helpdesk_ticket_subject_fts",
        }
    migrations.downgrade(app, BEFORE_FULL_TEXT)
    assert full_text_objects(app) == set()


def department_and_contact(connection) -> None:
    """A department and a contact in plain SQL (the columns every revision since 0001 has)."""
    connection.execute(
        text(
            "INSERT INTO helpdesk_department (slug, name, description, is_active, position,"
            " created_at) VALUES ('billing', 'Billing', '', true, 0, CURRENT_TIMESTAMP)"
        )
    )
    connection.execute(
        text(
            "INSERT INTO helpdesk_contact (name, notes, attributes, created_at, updated_at)"
            " VALUES ('Lan', '', '{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
        )
    )


def test_full_text_search_finds_rows_written_before_the_upgrade(app):
    migrations.upgrade(app, BEFORE_FULL_TEXT)
    # Rows in plain SQL: today's models have columns the old schema does not have yet.
    with app.extensions["helpdesk"].engine.begin() as connection:
        department_and_contact(connection)
        connection.execute(
            text(
                "INSERT INTO helpdesk_ticket (code, subject, status, priority, channel,"
                " department_id, requester_id, notify_sms, created_at, updated_at)"
                " SELECT 'HD-AAAAAA', 'Hóa đơn tháng mười', 'open', 2, 'web', d.id, c.id, false,"
                " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP"
                " FROM helpdesk_department d, helpdesk_contact c"
            )
        )
        connection.execute(
            text(
                "INSERT INTO helpdesk_message (ticket_id, kind, channel, body, data, created_at)"
                " SELECT id, 'reply', 'web', 'Máy in kẹt giấy', '{}', CURRENT_TIMESTAMP"
                " FROM helpdesk_ticket"
            )
        )

    migrations.upgrade(app)

    engine = app.extensions["helpdesk"].engine
    if engine.dialect.name == "sqlite":
        # FTS5 had to be filled from the existing rows (subject and messages in one document
        # since 0028); diacritics are folded.
        query = (
            "SELECT rowid FROM helpdesk_ticket_search_fts"
            " WHERE helpdesk_ticket_search_fts MATCH 'hoa ket'"
        )
    else:
        # 0008 wrote the ticket's document (code, subject, messages) from the existing rows.
        query = (
            "SELECT ticket_id FROM helpdesk_ticket_search WHERE document"
            " @@ (plainto_tsquery('simple', 'hóa kẹt') && 'hd-aaaaaa'::tsquery)"
        )
    with engine.connect() as connection:
        assert len(connection.execute(text(query)).all()) == 1
        # 0029 counted the existing ticket for the department counters (models/counts.py).
        counts = "SELECT assignee_id, status, n FROM helpdesk_ticket_count"
        assert connection.execute(text(counts)).all() == [(0, "open", 1)]


def test_inbound_mail_stored_before_0013_is_still_known_by_its_content(app):
    """0013 gives old rows the Message-ID + content key (its copy of mail/fingerprint.py gives
    the same key), so a redelivery of an old mail is a duplicate and a different mail reusing
    its Message-ID is stored."""
    import hashlib

    from flask_helpdesk.services import intake
    from flask_helpdesk.services.departments import create_department
    from flask_helpdesk.services.identity import SYSTEM
    from tests.mail.mails import make_mail

    migrations.upgrade(app, "0012")
    alert = make_mail(subject="CPU high on web-1", message_id="<alert@monitor.example.net>")
    bare = make_mail(subject="No id", message_id=None)
    twice = [b"Received: from a\r\n" + bare, b"Received: from b\r\n" + bare]
    with app.extensions["helpdesk"].engine.begin() as connection:
        for raw, old_key in [
            (alert, hashlib.sha256(b"id:alert@monitor.example.net").hexdigest()),
            *[(raw, hashlib.sha256(b"raw:" + raw).hexdigest()) for raw in twice],
        ]:
            connection.execute(
                text(
                    "INSERT INTO helpdesk_inbound_mail (dedup_key, source, subject, size, raw,"
                    " status, attempts, received_at) VALUES (:key, 'pipe', 'x', 1, :raw,"
                    " 'processed', 1, CURRENT_TIMESTAMP)"
                ),
                {"key": old_key, "raw": raw},
            )

    migrations.upgrade(app)
    create_department(SYSTEM, "Support", slug="support")  # today's model: after the upgrade

    again = intake.receive(b"Received: from mx2\r\n" + alert, "pipe")
    assert again.duplicate
    other = intake.receive(alert.replace(b"CPU high on web-1", b"CPU high on web-2"), "pipe")
    assert not other.duplicate
    with app.extensions["helpdesk"].engine.connect() as connection:
        # The mail stored twice before (trace fields apart) stays twice, under two keys.
        assert connection.execute(text("SELECT COUNT(*) FROM helpdesk_inbound_mail")).scalar() == 4


def test_downgrade_to_base_removes_every_helpdesk_table_and_nothing_else(app):
    member = Member(email="host@example.com", display_name="Host", password_hash="x")
    db.session.add(member)
    db.session.commit()
    with db.engine.begin() as connection:
        # The host's own Alembic bookkeeping must survive the helpdesk's.
        connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32))"))
        connection.execute(text("INSERT INTO alembic_version VALUES ('host_rev_1')"))
    host_tables = table_names(app)

    migrations.upgrade(app)
    migrations.downgrade(app, "base")

    assert table_names(app) == host_tables
    assert migrations.current(app) is None
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).all() == [
            ("host_rev_1",)
        ]
    assert db.session.scalars(db.select(Member.email)).all() == ["host@example.com"]


def test_cli_upgrade_current_history_downgrade(app):
    runner = app.test_cli_runner()

    result = runner.invoke(args=["helpdesk", "db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert f"revision {migrations.head()}" in result.output
    assert helpdesk_tables() <= table_names(app)

    result = runner.invoke(args=["helpdesk", "db", "current"])
    assert result.output.strip() == f"{migrations.head()} (head)"

    result = runner.invoke(args=["helpdesk", "db", "history"])
    assert result.exit_code == 0
    assert "base -> 0001" in result.output

    result = runner.invoke(args=["helpdesk", "db", "downgrade", "base"])
    assert result.exit_code == 0, result.output
    assert not any(name.startswith("helpdesk_") for name in table_names(app))

    result = runner.invoke(args=["helpdesk", "db", "current"])
    assert result.output.startswith("none (no helpdesk tables yet")


def test_cli_upgrade_sql_prints_ddl_and_changes_nothing(app):
    result = app.test_cli_runner().invoke(args=["helpdesk", "db", "upgrade", "--sql"])

    assert result.exit_code == 0, result.output
    assert "CREATE TABLE helpdesk_ticket" in result.output
    assert "helpdesk_alembic_version" in result.output
    assert not any(name.startswith("helpdesk_") for name in table_names(app))


def test_demo_setup_through_the_cli(app):
    """The README's demo path: site tables, helpdesk migrations, demo data."""
    runner = app.test_cli_runner()
    for args in (["init-db"], ["helpdesk", "db", "upgrade"], ["helpdesk", "seed-demo"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, (args, result.output, result.exception)

    # The logins it prints, in every role the README promises.
    for email in ("lan@example.com", "minh@example.com", "sara@example.com", "admin@example.com"):
        assert email in result.output
    with app.extensions["helpdesk"].engine.connect() as connection:

        def column(sql: str) -> list:
            return list(connection.execute(text(sql)).scalars())

        statuses = column("SELECT DISTINCT status FROM helpdesk_ticket")
        assert sorted(statuses) == sorted(status.value for status in TicketStatus)
        # Seed 000's categories, in its order.
        assert column("SELECT name FROM helpdesk_department ORDER BY position") == [
            "Account",
            "Market",
            "Campaign management",
            "Reports",
            "Notifications",
            "Partners & contracts",
            "Revenue & reconciliation",
            "Cooperation",
            "Other",
        ]
        assert sorted(column("SELECT role FROM helpdesk_agent")) == ["admin", "agent", "lead"]
        # The demo customer's one rating (the 90 days of history have their own customers).
        rated = "SELECT count(*) FROM helpdesk_rating r JOIN helpdesk_contact c"
        assert column(f"{rated} ON c.id = r.contact_id WHERE c.user_id IS NOT NULL") == [1]
    # Each printed login works with the demo password, and the customer sees their tickets.
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post(
        "/login?next=/support/",
        data={"csrf_token": token, "email": "lan@example.com", "password": DEMO_PASSWORD},
    )
    assert response.headers["Location"] == "/support/"
    listing = client.get("/support/").get_data(as_text=True)
    assert "Campaign stuck in review" in listing
    # The admin's API token it prints works.
    api_token = re.search(r"^  (hd_\S+)$", result.output, re.M).group(1)
    listed = client.get("/support/api/v1/tickets", headers={"Authorization": f"Bearer {api_token}"})
    assert listed.status_code == 200
    subjects = {item["subject"] for item in listed.json["items"]}
    assert "Campaign stuck in review" in subjects and "Cheap followers!!!" not in subjects
    # Running it again changes nothing.
    again = runner.invoke(args=["helpdesk", "seed-demo"])
    assert "nothing seeded" in again.output


def test_upgrade_runs_on_the_bind_key_engine(tmp_path):
    main_url = f"sqlite:///{tmp_path / 'site.sqlite'}"
    helpdesk_url = f"sqlite:///{tmp_path / 'helpdesk.sqlite'}"
    app = host_app(
        main_url,
        tmp_path,
        SQLALCHEMY_BINDS={"helpdesk": helpdesk_url},
        HELPDESK_BIND_KEY="helpdesk",
    )
    try:
        migrations.upgrade(app)
        with app.app_context():
            assert migrations.current() == migrations.head()
            for engine in db.engines.values():
                engine.dispose()
    finally:
        # Flask-SQLAlchemy keeps one MetaData per bind key it has seen on the shared ``db``:
        # put it back for the other tests (the helpdesk's bind key is per app).
        db.metadatas.pop("helpdesk", None)

    assert helpdesk_tables() <= set(inspect(create_engine(helpdesk_url)).get_table_names())
    assert inspect(create_engine(main_url)).get_table_names() == []


def test_revisions_form_one_line_named_after_their_ids():
    """New revisions go on top of the current head; a second head means a rebase went wrong."""
    revisions = migrations.history()
    assert revisions[-1].down_revision is None
    for newer, older in itertools.pairwise(revisions):
        assert newer.down_revision == older.revision, "migrations must form one straight line"
    assert migrations.head() == revisions[0].revision
    for path in (migrations.MIGRATIONS_DIR / "versions").glob("*.py"):
        revision = re.search(r'^revision: str = "([^"]+)"', path.read_text(), re.MULTILINE)
        assert revision, f"{path.name} has no revision id"
        assert path.name.startswith(revision.group(1) + "_"), path.name


def test_revisions_import_no_application_code():
    """A revision must keep working when the models change later: plain SQLAlchemy only."""
    for path in (migrations.MIGRATIONS_DIR / "versions").glob("*.py"):
        imports = re.findall(r"^\s*(?:from|import)\s+(\w+)", path.read_text(), re.MULTILINE)
        # The standard library is fine (0013 hashes mail with email/hashlib/re; 0031 puts facts
        # on local days with zoneinfo and buckets them with bisect), and Flask for the host's
        # config (0031 reads HELPDESK_REPORTS_TIMEZONE); 0034 reads a message's JSON data.
        allowed = {"collections", "sqlalchemy", "alembic", "email", "hashlib", "re"}
        allowed |= {"bisect", "datetime", "zoneinfo", "flask", "json"}
        assert set(imports) <= allowed, path.name


# -- the helper for the host's own Alembic ------------------------------------------------------
def host_differences(app: Flask, **opts) -> list:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, **opts})
        return compare_metadata(context, db.metadata)


def test_host_autogenerate_ignores_helpdesk_tables_with_the_helper(app):
    migrations.upgrade(app)

    without_helper = {d[1].name for d in host_differences(app) if d[0] == "remove_table"}
    assert helpdesk_tables() | {migrations.VERSION_TABLE} <= without_helper
    assert all(name.startswith("helpdesk_") for name in without_helper)

    assert host_differences(app, include_object=migrations.include_object) == []
    assert host_differences(app, include_name=migrations.include_name) == []


def test_exclude_helpdesk_tables_still_calls_the_hosts_own_hook(app):
    migrations.upgrade(app)
    seen: list[str] = []

    def host_hook(obj, name, type_, reflected, compare_to):
        if type_ == "table":
            seen.append(name)
        return name != "legacy_import"

    with db.engine.begin() as connection:
        connection.execute(text("CREATE TABLE legacy_import (id INTEGER PRIMARY KEY)"))
        connection.execute(text("CREATE TABLE scratch (id INTEGER PRIMARY KEY)"))

    differences = host_differences(
        app, include_object=migrations.exclude_helpdesk_tables(host_hook)
    )

    assert [(d[0], d[1].name) for d in differences] == [("remove_table", "scratch")]
    assert "legacy_import" in seen
    assert not any(name.startswith("helpdesk_") for name in seen)


def test_host_metadata_and_helpdesk_metadata_stay_apart():
    assert not set(db.metadata.tables) & helpdesk_tables()
    assert isinstance(HelpdeskModel.metadata, MetaData)
    assert all(name.startswith("helpdesk_") for name in helpdesk_tables())


@needs_postgres
def test_create_all_and_migrations_build_the_same_search_objects(tmp_path):
    """Revisions 0008 to 0010 copy the search DDL of models/search.py (a revision must not
    import the models); both ways of building the schema must still make the same objects."""
    definitions = []
    for build in ("migrations", "create_all"):
        server = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        name = f"hd_parity_{uuid.uuid4().hex[:10]}"
        with server.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
        app = host_app(url, tmp_path)
        try:
            with app.app_context():
                if build == "migrations":
                    migrations.upgrade(app)
                else:
                    HelpdeskModel.metadata.create_all(app.extensions["helpdesk"].engine)
                with app.extensions["helpdesk"].engine.connect() as connection:
                    definitions.append(search_definitions(connection))
                for engine in db.engines.values():
                    engine.dispose()
                app.extensions["helpdesk"].engine.dispose()
        finally:
            with server.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            server.dispose()
    by_migrations, by_create_all = definitions
    assert (
        set(by_migrations)
        == (PG_SEARCH_OBJECTS - {"helpdesk_ticket_search", "helpdesk_search_word"})
        | {
            "ix_helpdesk_search_word_word",
            "helpdesk_search_word.word",
            "pk_helpdesk_ticket_search",
            "fk_helpdesk_ticket_search_ticket_id_helpdesk_ticket",
            "helpdesk_ticket_search.ticket_id",
            "helpdesk_ticket_search.updated_at",
            "helpdesk_ticket_search.created_at",
            "helpdesk_ticket_search.priority",
            "helpdesk_ticket_search.document",
            "helpdesk_ticket_search options",
            # 0023: the article search.
            "helpdesk_kb_article_search_trigger",
            "helpdesk_kb_article_search",
            "ix_helpdesk_kb_article_search_fts",
            "ix_helpdesk_kb_article_search_title_fts",
            "ix_helpdesk_kb_word_trgm",
            # 0030: accents folded by unaccent (when the server has it).
            "helpdesk_kb_fold",
        }
        | COUNT_OBJECTS
    )  # 0029: the department counters' functions and triggers
    assert by_migrations == by_create_all
    # The search's plan choice needs detailed word statistics (services/search.py).
    assert by_migrations["helpdesk_ticket_search.document"].endswith("statistics 10000")


def search_definitions(connection) -> dict[str, str]:
    """name -> definition of every PostgreSQL object behind the per-ticket search documents."""
    rows = connection.execute(
        text(
            "SELECT proname, pg_get_functiondef(oid) FROM pg_proc WHERE proname LIKE 'helpdesk_%'"
            " UNION ALL SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger"
            "  WHERE tgname LIKE 'helpdesk_%'"
            " UNION ALL SELECT indexname, indexdef FROM pg_indexes"
            "  WHERE (tablename IN ('helpdesk_ticket_search', 'helpdesk_search_word',"
            "  'helpdesk_kb_article_search') AND indexname LIKE 'ix_%')"
            "  OR indexname = 'ix_helpdesk_kb_word_trgm'"
            " UNION ALL SELECT 'helpdesk_search_word.' || attname, format_type(atttypid, atttypmod)"
            "  || ' collation ' || (SELECT collname FROM pg_collation WHERE oid = attcollation)"
            "  FROM pg_attribute WHERE attrelid = 'helpdesk_search_word'::regclass AND attnum > 0"
            " UNION ALL SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            "  WHERE conrelid = 'helpdesk_ticket_search'::regclass"
            " UNION ALL SELECT 'helpdesk_ticket_search.' || attname,"
            "  format_type(atttypid, atttypmod) || ' not null ' || attnotnull"
            "  || ' statistics ' || attstattarget FROM pg_attribute"
            "  WHERE attrelid = 'helpdesk_ticket_search'::regclass AND attnum > 0"
            " UNION ALL SELECT 'helpdesk_ticket_search options', array_to_string(reloptions, ',')"
            "  FROM pg_class WHERE oid = 'helpdesk_ticket_search'::regclass"
        )
    )
    return dict(rows.all())


def test_0015_turns_admin_rows_the_sync_made_into_host_admin_rows(app):
    """Admin rows nobody saved were the old sync's copy of the host's flag: from 0015 on they
    follow the host; an admin role a person gave (an audit event says so) is kept."""
    migrations.upgrade(app, "0014")
    engine = app.extensions["helpdesk"].engine
    with engine.begin() as connection:
        for user_id in ("synced", "chosen"):
            connection.execute(
                text(
                    "INSERT INTO helpdesk_agent (user_id, name, role, availability, capacity,"
                    " is_active, signature, created_at)"
                    " VALUES (:u, :u, 'admin', 'available', 20, :t, '', CURRENT_TIMESTAMP)"
                ),
                {"u": user_id, "t": True},
            )
        chosen = connection.execute(
            text("SELECT id FROM helpdesk_agent WHERE user_id = 'chosen'")
        ).scalar()
        connection.execute(
            text(
                "INSERT INTO helpdesk_audit_event (created_at, action, data)"
                " VALUES (CURRENT_TIMESTAMP, 'agent.created', :data)"
            ),
            {"data": json.dumps({"agent_id": chosen, "role": "admin"})},
        )

    migrations.upgrade(app)

    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT user_id, role, via_host_admin FROM helpdesk_agent ORDER BY user_id")
        ).all()
    assert [(u, r, bool(v)) for u, r, v in rows] == [
        ("chosen", "admin", False),
        ("synced", "agent", True),
    ]
    migrations.downgrade(app, "0014")
    with engine.connect() as connection:
        roles = connection.execute(text("SELECT role FROM helpdesk_agent")).scalars().all()
    assert roles == ["admin", "admin"]


def test_0026_merges_email_only_contacts_of_one_address_and_then_refuses_a_second(app):
    """Contacts two workers created for one new sender are merged into the oldest: what
    pointed at a duplicate points at it, notes and attributes are kept; host users' mirrors
    are not touched; afterwards the database refuses a second email-only contact."""
    from sqlalchemy.exc import IntegrityError

    migrations.upgrade(app, "0025")
    engine = app.extensions["helpdesk"].engine
    insert_contact = text(
        "INSERT INTO helpdesk_contact (user_id, email, name, phone, notes, attributes,"
        " created_at, updated_at) VALUES (:user, :email, :name, :phone, :notes, :attributes,"
        " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
    )
    people = [
        (None, "ann@example.org", "", None, "", {"plan": "gold"}),
        (None, "Ann@Example.org", "Ann Lee", "+84 90 000", "Prefers mail.", {"plan": "free"}),
        (None, "ann@example.org", "Ann", None, "Called twice.", {"since": 2019}),
        ("host-7", "ann@example.org", "Ann (site account)", None, "", {}),
        (None, "bob@example.org", "Bob", None, "", {}),
    ]
    with engine.begin() as connection:
        for user, email, name, phone, notes, attributes in people:
            connection.execute(
                insert_contact,
                {"user": user, "email": email, "name": name, "phone": phone, "notes": notes,
                 "attributes": json.dumps(attributes)},
            )  # fmt: skip
        ids = connection.execute(text("SELECT id FROM helpdesk_contact ORDER BY id")).scalars()
        ids = list(ids)
        for contact_id in ids:
            connection.execute(
                text(
                    "INSERT INTO helpdesk_audit_event (created_at, action, actor_contact_id, data)"
                    " VALUES (CURRENT_TIMESTAMP, 'contact.seen', :c, '{}')"
                ),
                {"c": contact_id},
            )

    migrations.upgrade(app)

    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT id, user_id, name, phone, notes, attributes FROM helpdesk_contact"
                 " ORDER BY id")
        ).all()  # fmt: skip
        pointed = connection.execute(
            text("SELECT actor_contact_id FROM helpdesk_audit_event ORDER BY id")
        ).scalars()
        pointed = list(pointed)
    kept, mirror, bob = ids[0], ids[3], ids[4]
    assert [row.id for row in rows] == [kept, mirror, bob]
    ann = rows[0]
    assert (ann.user_id, ann.name, ann.phone) == (None, "Ann Lee", "+84 90 000")
    assert ann.notes == "Prefers mail.\n\nCalled twice."
    attributes = ann.attributes if isinstance(ann.attributes, dict) else json.loads(ann.attributes)
    assert attributes == {"plan": "gold", "since": 2019}
    assert pointed == [kept, kept, kept, mirror, bob]

    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(
            insert_contact,
            {"user": None, "email": "BOB@example.org", "name": "", "phone": None, "notes": "",
             "attributes": "{}"},
        )  # fmt: skip
    with engine.begin() as connection:  # another host user with that address is fine
        connection.execute(
            insert_contact,
            {"user": "host-8", "email": "bob@example.org", "name": "", "phone": None,
             "notes": "", "attributes": "{}"},
        )  # fmt: skip


def test_0033_keeps_the_counts_and_the_rollup_through_its_slots_up_and_down(app):
    """0033 spreads the hot counters over slots: the rows there were become slot 0, a ticket
    made afterwards counts into its connection's slot, and the downgrade adds each cell's slots
    back into one row: the department counts and the reports' figures never change."""
    migrations.upgrade(app, "0032")
    engine = app.extensions["helpdesk"].engine

    def ticket(connection, code: str, status: str) -> None:
        connection.execute(
            text(
                "INSERT INTO helpdesk_ticket (code, subject, status, priority, channel,"
                " department_id, requester_id, notify_sms, created_at, updated_at)"
                " SELECT :code, 'Hot', :status, 2, 'web', d.id, c.id, false, CURRENT_TIMESTAMP,"
                " CURRENT_TIMESTAMP FROM helpdesk_department d, helpdesk_contact c"
            ),
            {"code": code, "status": status},
        )

    with engine.begin() as connection:
        department_and_contact(connection)
        for code, status in [("HD-AAAAA1", "open"), ("HD-AAAAA2", "open"), ("HD-AAAAA3", "closed")]:
            ticket(connection, code, status)
        connection.execute(
            text(
                "INSERT INTO helpdesk_report_day (span, day, department_id, agent_id, assignee_id,"
                " channel, priority, created, backlog, rs_10) SELECT 1, '2026-12-01', id, 0, 0,"
                " 'web', 2, 3, 2, 1 FROM helpdesk_department"
            )
        )
    counts = "SELECT status, SUM(n) FROM helpdesk_ticket_count GROUP BY status ORDER BY status"
    rollup = "SELECT SUM(created), SUM(backlog), SUM(rs_10), COUNT(*) FROM helpdesk_report_day"

    migrations.upgrade(app)
    with engine.begin() as connection:
        slots = (
            "SELECT DISTINCT slot FROM helpdesk_ticket_count"
            " UNION SELECT slot FROM helpdesk_report_day"
        )
        assert connection.execute(text(slots)).scalars().all() == [0]
        ticket(connection, "HD-AAAAA4", "open")  # into this connection's slot
        # What writers in other slots leave: a cell's figures spread over several rows.
        connection.execute(text("UPDATE helpdesk_ticket_count SET n = n - 1 WHERE slot = 0"))
        connection.execute(
            text(
                "INSERT INTO helpdesk_ticket_count (department_id, assignee_id, status, slot, n)"
                " SELECT department_id, assignee_id, status, 17, 1 FROM helpdesk_ticket_count"
                " WHERE slot = 0"
            )
        )
        connection.execute(
            text(
                "INSERT INTO helpdesk_report_day (span, day, department_id, agent_id,"
                " assignee_id, channel, priority, slot, created, backlog) SELECT span, day,"
                " department_id, agent_id, assignee_id, channel, priority, 9, 2, 1"
                " FROM helpdesk_report_day"
            )
        )
        connection.execute(
            text("UPDATE helpdesk_report_day SET created = 1, backlog = 1 WHERE slot = 0")
        )
        assert connection.execute(text(counts)).all() == [("closed", 1), ("open", 3)]
        assert connection.execute(text(rollup)).one() == (3, 2, 1, 2)

    migrations.downgrade(app, "0032")
    with engine.begin() as connection:
        assert connection.execute(text(counts)).all() == [("closed", 1), ("open", 3)]
        assert connection.execute(text(rollup)).one() == (3, 2, 1, 1)  # one row again
        cells = "SELECT COUNT(*) FROM helpdesk_ticket_count"
        assert connection.execute(text(cells)).scalar() == 2
        ticket(connection, "HD-AAAAA5", "open")  # the 0029 trigger again
        assert connection.execute(text(counts)).all() == [("closed", 1), ("open", 4)]
    migrations.upgrade(app)
    with engine.connect() as connection:
        assert connection.execute(text(counts)).all() == [("closed", 1), ("open", 4)]
        assert connection.execute(text(rollup)).one() == (3, 2, 1, 1)


def test_0033_copies_the_models_slot_expression():
    """The revision's frozen copy of the slot (a revision imports no app code)."""
    from importlib import import_module

    from flask_helpdesk.models.base import PG_HOT_SLOT

    revision = import_module("flask_helpdesk.migrations.versions.0033_hot_counter_slots")
    assert revision.SLOT == PG_HOT_SLOT


def test_0034_keeps_one_inbound_mail_per_posted_message_and_then_refuses_a_second(app):
    """Rows linking one message twice (a bug, a hand edit) keep the link where the message's
    data names the row, else on the oldest; the others lose it and say so in their reason.
    Afterwards the database refuses a second row for a message."""
    from sqlalchemy.exc import IntegrityError

    migrations.upgrade(app, "0033")
    engine = app.extensions["helpdesk"].engine
    insert_mail = text(
        "INSERT INTO helpdesk_inbound_mail (dedup_key, source, subject, size, raw, status,"
        " reason, attempts, received_at, posted_message_id) VALUES (:key, 'pipe', 'x', 1,"
        " :raw, 'processed', :reason, 1, CURRENT_TIMESTAMP, :message)"
    )
    with engine.begin() as connection:
        department_and_contact(connection)
        connection.execute(
            text(
                "INSERT INTO helpdesk_ticket (code, subject, status, priority, channel,"
                " department_id, requester_id, notify_sms, created_at, updated_at)"
                " SELECT 'HD-AAAAAA', 'Mail', 'open', 2, 'email', d.id, c.id, false,"
                " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP"
                " FROM helpdesk_department d, helpdesk_contact c"
            )
        )
        insert_message = text(
            "INSERT INTO helpdesk_message (ticket_id, kind, channel, body, data, created_at)"
            " SELECT id, 'reply', 'email', 'Hi', :data, CURRENT_TIMESTAMP FROM helpdesk_ticket"
        )
        for data in ["{}", "{}", "{}"]:
            connection.execute(insert_message, {"data": data})
        first, named, alone = connection.execute(
            text("SELECT id FROM helpdesk_message ORDER BY id")
        ).scalars()
        mails = [(first, None), (first, "held once"), (named, None), (named, None), (alone, None)]
        for n, (message_id, reason) in enumerate(mails):
            connection.execute(
                insert_mail,
                {"key": f"k{n}", "raw": b"x", "reason": reason, "message": message_id},
            )
        ids = list(connection.execute(text("SELECT id FROM helpdesk_inbound_mail ORDER BY id")))
        ids = [row.id for row in ids]
        connection.execute(  # the message names its mail, the later of its two
            text("UPDATE helpdesk_message SET data = :data WHERE id = :id"),
            {"data": json.dumps({"inbound_mail_id": ids[3]}), "id": named},
        )

    migrations.upgrade(app)

    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT posted_message_id, reason FROM helpdesk_inbound_mail ORDER BY id")
        ).all()
    assert [row.posted_message_id for row in rows] == [first, None, None, named, alone]
    assert rows[1].reason == (
        f"held once\nPosted message {first}, which inbound mail {ids[0]} posted too (0034)."
    )
    assert (
        rows[2].reason == f"Posted message {named}, which inbound mail {ids[3]} posted too (0034)."
    )
    assert rows[0].reason is None and rows[3].reason is None

    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(
            insert_mail, {"key": "k9", "raw": b"x", "reason": None, "message": alone}
        )
    with engine.begin() as connection:  # mail that posted nothing: as many as there are
        for key in ("k10", "k11"):
            connection.execute(
                insert_mail, {"key": key, "raw": b"x", "reason": None, "message": None}
            )

    migrations.downgrade(app, "0033")
    with engine.begin() as connection:  # the uniqueness goes, the links cleared stay cleared
        connection.execute(
            insert_mail, {"key": "k12", "raw": b"x", "reason": None, "message": alone}
        )


# PostgreSQL only (SQLite stores the bytes as they are): no SQLite case to skip in the
# PostgreSQL run, where every skip counts as a failure (.ci/check_report.py).
@pytest.mark.parametrize(
    "empty_url", [pytest.param("postgresql", marks=needs_postgres)], indirect=True
)
def test_0035_compresses_new_raw_mail_with_lz4_on_postgresql(app):
    """Created by the models or by the migration, the raw column compresses with LZ4 where
    the server has it; a mail stored before keeps its pglz bytes and reads back whole."""
    engine = app.extensions["helpdesk"].engine
    assert engine.dialect.name == "postgresql"
    raw = b"Subject: compressible\r\n\r\n" + b"The same line again and again.\r\n" * 4000
    insert_mail = text(
        "INSERT INTO helpdesk_inbound_mail (dedup_key, source, subject, size, raw, status,"
        " attempts, received_at) VALUES (:key, 'pipe', 'x', 1, :raw, 'received', 0,"
        " CURRENT_TIMESTAMP)"
    )
    compression = text(
        "SELECT pg_column_compression(raw) FROM helpdesk_inbound_mail WHERE dedup_key = :key"
    )
    with engine.connect() as connection:
        lz4 = connection.execute(
            text(
                "SELECT count(*) FROM pg_settings WHERE name = 'default_toast_compression'"
                " AND 'lz4' = ANY(enumvals)"
            )
        ).scalar_one()
    app.extensions["helpdesk"].create_all()  # the models' own schema first
    with engine.begin() as connection:
        connection.execute(insert_mail, {"key": "models", "raw": raw})
        assert connection.execute(compression, {"key": "models"}).scalar_one() == (
            "lz4" if lz4 else "pglz"
        )
    app.extensions["helpdesk"].drop_all()
    migrations.upgrade(app, "0034")
    with engine.begin() as connection:
        connection.execute(insert_mail, {"key": "before", "raw": raw})

    migrations.upgrade(app)

    with engine.begin() as connection:
        connection.execute(insert_mail, {"key": "after", "raw": raw})
        assert connection.execute(compression, {"key": "before"}).scalar_one() == "pglz"
        expected = "lz4" if lz4 else "pglz"
        assert connection.execute(compression, {"key": "after"}).scalar_one() == expected
        stored = connection.execute(text("SELECT raw FROM helpdesk_inbound_mail")).scalars()
        assert list(stored) == [raw, raw]
    migrations.downgrade(app, "0034")
    with engine.begin() as connection:
        connection.execute(insert_mail, {"key": "down", "raw": raw})
        assert connection.execute(compression, {"key": "down"}).scalar_one() == "pglz"


# PostgreSQL only (SQLite has its own triggers, unchanged): no SQLite case to skip in the
# PostgreSQL run (.ci/check_report.py).
@pytest.mark.parametrize(
    "empty_url", [pytest.param("postgresql", marks=needs_postgres)], indirect=True
)
def test_0036_writes_a_new_tickets_search_document_once_and_keeps_what_search_finds(app):
    """A ticket inserted with its first message in one statement (as the services create
    one) gets one search document write from 0036 on, two before; either way the document
    holds its code, subject and message, a ticket inserted alone still gets one, a later
    message still reaches it, and the department counts follow, down and up again."""
    engine = app.extensions["helpdesk"].engine
    migrations.upgrade(app)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO helpdesk_department (id, slug, name, description, is_active,"
                " position, created_at) VALUES (1, 'it', 'IT', '', true, 0, now());"
                " INSERT INTO helpdesk_contact (id, name, notes, attributes, created_at,"
                " updated_at) VALUES (1, 'Ann', '', '{}', now(), now())"
            )
        )
    create = text(
        "WITH t AS (INSERT INTO helpdesk_ticket (code, subject, status, priority, channel,"
        " department_id, requester_id, notify_sms, created_at, updated_at) VALUES"
        " (:code, :subject, 'open', 1, 'email', 1, 1, false, now(), now()) RETURNING id)"
        " INSERT INTO helpdesk_message (ticket_id, kind, channel, body, data, created_at)"
        " SELECT t.id, 'reply', 'email', :body, '{}', now() FROM t"
    )
    alone = text(
        "INSERT INTO helpdesk_ticket (code, subject, status, priority, channel, department_id,"
        " requester_id, notify_sms, created_at, updated_at) VALUES"
        " (:code, :subject, 'new', 1, 'email', 1, 1, false, now(), now())"
    )
    writes = text(
        "SELECT n_tup_ins + n_tup_upd FROM pg_stat_xact_user_tables"
        " WHERE relname = 'helpdesk_ticket_search'"
    )
    found = text(
        "SELECT t.code FROM helpdesk_ticket_search AS s JOIN helpdesk_ticket AS t"
        " ON t.id = s.ticket_id WHERE s.document @@ CAST(:word AS tsquery) ORDER BY t.code"
    )
    counts = text(
        "SELECT status, sum(n) FROM helpdesk_ticket_count GROUP BY status ORDER BY status"
    )

    def create_tickets(suffix: str) -> list[int]:
        """Writes of search rows: a ticket with its message, a ticket alone, its message."""
        written = []
        for statement, values in (
            (create, {"body": f"printer{suffix} jammed", "subject": f"paper{suffix}"}),
            (alone, {"subject": f"lonely{suffix}"}),
            (
                text(
                    "INSERT INTO helpdesk_message (ticket_id, kind, channel, body, data,"
                    " created_at) SELECT id, 'reply', 'email', :body, '{}', now()"
                    " FROM helpdesk_ticket WHERE code = :code"
                ),
                {"body": f"later{suffix}", "code": f"HD-B{suffix}"},
            ),
        ):
            with engine.begin() as connection:
                code = f"HD-{'A' if statement is create else 'B'}{suffix}"
                # The counts of this backend not yet reported are in the view too: a difference.
                before = connection.execute(writes).scalar_one() or 0
                connection.execute(statement, {"code": code, **values})
                written.append(connection.execute(writes).scalar_one() - before)
        return written

    assert create_tickets("1") == [1, 1, 1]  # 0036: one write each
    migrations.downgrade(app, "0035")
    assert create_tickets("2") == [2, 1, 1]  # before: the new ticket's document twice
    migrations.upgrade(app)
    assert create_tickets("3") == [1, 1, 1]
    with engine.connect() as connection:
        for suffix in "123":
            for word in (f"hd-a{suffix}", f"paper{suffix}", f"printer{suffix}", "jammed"):
                assert f"HD-A{suffix}" in connection.execute(found, {"word": word}).scalars().all()
            for word in (f"hd-b{suffix}", f"lonely{suffix}", f"later{suffix}"):
                assert connection.execute(found, {"word": word}).scalars().all() == [
                    f"HD-B{suffix}"
                ]
        assert connection.execute(counts).all() == [("new", 3), ("open", 3)]
        words = connection.execute(text("SELECT word FROM helpdesk_search_word")).scalars()
        assert {"printer1", "printer2", "printer3", "lonely1", "later3"} <= set(words)


# 0037's indexes: (name, the column that must be set) as models/ticket.py, reports.py and
# audit.py declare them.
PARTIAL_ON_SQLITE = {
    "ix_helpdesk_ticket_sla_due": "sla_due_at",
    "ix_helpdesk_ticket_sla_check": "sla_check_at",
    "ix_helpdesk_ticket_status_last_agent": "last_agent_reply_at",
    "ix_helpdesk_ticket_status_last_customer": "last_customer_reply_at",
    "ix_helpdesk_ticket_creator_agent_id": "creator_agent_id",
    "ix_helpdesk_ticket_fact_assignee": "assignee_id",
    "ix_helpdesk_ticket_fact_agent": "agent_id",
    "ix_helpdesk_audit_event_actor_agent_id": "actor_agent_id",
}


def index_definitions(engine) -> dict[str, str]:
    """name -> the database's own definition of each of 0037's indexes."""
    names = sorted(PARTIAL_ON_SQLITE)
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            query = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND name IN :names"
        else:
            query = "SELECT indexname, indexdef FROM pg_indexes WHERE indexname IN :names"
        statement = text(query).bindparams(bindparam("names", expanding=True))
        return dict(connection.execute(statement, {"names": names}).all())


def test_0037_makes_eight_indexes_partial_on_sqlite_as_create_all_does_and_back(app, tmp_path):
    """On SQLite the eight indexes hold only the rows whose column is set, after the upgrade
    as after create_all (the comparison of the models' schema does not look at an index's
    WHERE); the downgrade makes them whole again, keeping the rows. PostgreSQL keeps them
    whole."""
    engine = app.extensions["helpdesk"].engine
    sqlite = engine.dialect.name == "sqlite"
    migrations.upgrade(app, "0036")
    whole = index_definitions(engine)
    assert len(whole) == len(PARTIAL_ON_SQLITE)
    assert not any(" WHERE " in definition.upper() for definition in whole.values())

    migrations.upgrade(app)

    upgraded = index_definitions(engine)
    for name, column in PARTIAL_ON_SQLITE.items():
        if sqlite:
            assert upgraded[name].endswith(f" WHERE {column} IS NOT NULL"), upgraded[name]
        else:
            assert upgraded[name] == whole[name]
    built = host_app(f"sqlite:///{tmp_path / 'create_all.sqlite'}", tmp_path)
    with built.app_context():
        HelpdeskModel.metadata.create_all(built.extensions["helpdesk"].engine)
        if sqlite:  # the same statements as create_all's, so the same indexes
            assert index_definitions(built.extensions["helpdesk"].engine) == upgraded
        built.extensions["helpdesk"].engine.dispose()
    assert schema_differences(app) == []

    migrations.downgrade(app, "0036")

    assert index_definitions(engine) == whole
    migrations.upgrade(app)
    assert index_definitions(engine) == upgraded


def unread_index(engine) -> str | None:
    """The database's own definition of 0038's index, None when there is none."""
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            query = "SELECT sql FROM sqlite_master WHERE name = 'ix_helpdesk_ticket_unread'"
        else:
            query = "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_helpdesk_ticket_unread'"
        return connection.execute(text(query)).scalar()


def test_0038_indexes_the_unread_tickets_as_create_all_does_and_back(app, tmp_path):
    """The queue's "unread customer reply" filter has its index on both databases, holding
    only the tickets a customer wrote to since the agents last looked (the comparison of the
    models' schema does not look at an index's WHERE); the downgrade drops it."""
    engine = app.extensions["helpdesk"].engine
    migrations.upgrade(app, "0037")
    assert unread_index(engine) is None

    migrations.upgrade(app)

    upgraded = unread_index(engine)
    assert upgraded is not None
    condition = upgraded.partition(" WHERE ")[2]
    if engine.dialect.name == "sqlite":
        assert condition == (
            "last_customer_reply_at IS NOT NULL"
            " AND (agent_seen_at IS NULL OR last_customer_reply_at > agent_seen_at)"
        )
        built = host_app(f"sqlite:///{tmp_path / 'create_all.sqlite'}", tmp_path)
        with built.app_context():
            HelpdeskModel.metadata.create_all(built.extensions["helpdesk"].engine)
            assert unread_index(built.extensions["helpdesk"].engine) == upgraded
            built.extensions["helpdesk"].engine.dispose()
    else:
        assert condition == (
            "((last_customer_reply_at IS NOT NULL)"
            " AND ((agent_seen_at IS NULL) OR (last_customer_reply_at > agent_seen_at)))"
        )
    assert schema_differences(app) == []

    migrations.downgrade(app, "0037")

    assert unread_index(engine) is None
    migrations.upgrade(app)
    assert unread_index(engine) == upgraded
