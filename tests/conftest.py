"""Test fixtures: the demo host app built by its factory, on SQLite or (with
HELPDESK_TEST_DATABASE_URL) PostgreSQL, with a fresh set of rows for every test."""

from __future__ import annotations

import functools
import hashlib
import os
import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask, g
from flask.testing import FlaskClient
from flask_login import FlaskLoginClient
from jinja2 import BytecodeCache, Environment
from jinja2.bccache import Bucket
from sqlalchemy import Engine, event, text
from werkzeug.routing import Rule
from werkzeug.security import generate_password_hash

from example_app import create_app, helpdesk
from example_app import models as host_models
from example_app.models import Member, db
from flask_helpdesk.models import Department, HelpdeskModel
from flask_helpdesk.services.identity import SYSTEM
from flask_helpdesk.services.prepared import listen_statements

DATABASE_URL_VARIABLE = "HELPDESK_TEST_DATABASE_URL"
REDIS_URL_VARIABLE = "HELPDESK_TEST_REDIS_URL"


@pytest.fixture(scope="session", autouse=True)
def _quick_password_hashing() -> Iterator[None]:
    """Hash the demo host's passwords with one PBKDF2 round instead of scrypt.

    scrypt is slow on purpose (0.1-0.4 s a hash, more on a busy machine) and the suite creates
    and logs in hundreds of members. Logins still go through the real check: werkzeug reads the
    method from the stored hash."""
    quick = functools.partial(generate_password_hash, method="pbkdf2:sha256:1")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(host_models, "generate_password_hash", quick)
        yield


@pytest.fixture(scope="session", autouse=True)
def _shared_url_builders() -> Iterator[None]:
    """Build each URL rule's builder functions once per session, not once per app.

    werkzeug compiles two Python functions for every URL rule of every app (generated code,
    run through ``compile``): 64 of the 75 ms of CPU a test's app took to build, and the suite
    builds an app per test. A builder depends only on what is read here (the rule, its parsed
    parts, its defaults as the converter writes them, which builder), never on the app: the
    converters are looked up on the rule when a URL is built. Relies on werkzeug's
    ``Rule._compile_builder``; a werkzeug without it fails every test here, loudly."""
    compile_builder = Rule._compile_builder
    built: dict[tuple, Callable[..., tuple[str, str]]] = {}

    def shared(rule: Rule, append_unknown: bool = True) -> Callable[..., tuple[str, str]]:
        defaults = rule.defaults or {}
        parts = tuple(
            (True, "=" + rule._converters[data].to_url(defaults[data]))
            if dynamic and data in defaults
            else (dynamic, data)
            for dynamic, data in rule._trace
        )
        key = (append_unknown, rule.rule, parts, tuple(map(str, defaults)))
        if key not in built:
            built[key] = compile_builder(rule, append_unknown)
        return built[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Rule, "_compile_builder", shared)
        yield


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get(DATABASE_URL_VARIABLE)
    if url:
        return url
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "helpdesk.sqlite")


@event.listens_for(Engine, "connect")
def _sqlite_commits_without_fsync(dbapi_connection, connection_record) -> None:
    """Test databases on SQLite are not synced to disk at each commit (``synchronous = OFF``).

    A commit still ends its transaction and shows it to every other connection at once; only a
    crash of the machine itself could lose it, which a test database does not mind. With the
    default (FULL) each commit waited for two or three fsyncs: 8-15 ms on a loaded machine
    against 0.2-0.4 ms, and the suite commits tens of thousands of times."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous = OFF")
        cursor.close()


@pytest.fixture(scope="session")
def _schema(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Create the schema once per session, from scratch (an old schema must not linger)."""
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url})
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            # The same for the PostgreSQL test database, for every later connection to it
            # (the suite's and its subprocesses'): a commit does not wait for its WAL to reach
            # the disk (about 10 ms a commit on a loaded machine; visibility is unchanged).
            with db.engine.begin() as connection:
                connection.execute(
                    text(
                        "DO $$ BEGIN EXECUTE format("
                        "'ALTER DATABASE %I SET synchronous_commit = off', current_database());"
                        " END $$"
                    )
                )
        state = app.extensions["helpdesk"]
        state.drop_all()
        db.drop_all()
        db.create_all()
        state.create_all()
        db.engine.dispose()


def no_dns(name: str, timeout: float) -> None:
    return None


# What Jinja reads while it compiles a template, besides its source: the lexer's settings, the
# extensions, and which filters and tests exist and what they are passed.
_LEXER_SETTINGS = (
    "block_start_string", "block_end_string", "variable_start_string", "variable_end_string",
    "comment_start_string", "comment_end_string", "line_statement_prefix", "line_comment_prefix",
    "trim_blocks", "lstrip_blocks", "newline_sequence", "keep_trailing_newline",
    "optimized", "is_async", "finalize",
)  # fmt: skip


class SharedTemplateCode(BytecodeCache):
    """Compiled templates shared by every app a test session builds.

    Each test builds its own app, and with it a Jinja environment whose template cache starts
    empty: every test that rendered a page parsed and compiled each template it used again
    (about 15 ms of CPU a template, 80-90 % of a fresh app's first request). The compiled code
    is kept here, keyed by everything Jinja reads while compiling besides the source (the source
    itself is checked against its checksum, so an edited template is compiled again)."""

    def __init__(self) -> None:
        self.code: dict[str, tuple[str, object]] = {}

    def get_bucket(
        self, environment: Environment, name: str, filename: str | None, source: str
    ) -> Bucket:
        autoescape = environment.autoescape
        settings = (
            name,
            filename,
            autoescape(name) if callable(autoescape) else autoescape,
            tuple(repr(getattr(environment, setting)) for setting in _LEXER_SETTINGS),
            tuple(sorted(environment.extensions)),
            *(
                tuple(
                    sorted((key, repr(getattr(f, "jinja_pass_arg", None))) for key, f in d.items())
                )
                for d in (environment.filters, environment.tests)
            ),
        )
        key = hashlib.sha1(repr(settings).encode()).hexdigest()
        bucket = Bucket(environment, key, self.get_source_checksum(source))
        self.load_bytecode(bucket)
        return bucket

    def load_bytecode(self, bucket: Bucket) -> None:
        checksum, code = self.code.get(bucket.key, (None, None))
        if checksum == bucket.checksum:
            bucket.code = code  # type: ignore[assignment]

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.code[bucket.key] = (bucket.checksum, bucket.code)


TEMPLATE_CODE = SharedTemplateCode()


def make_test_app(database_url: str, tmp_path, **config) -> Flask:
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "HELPDESK_STORAGE_PATH": str(tmp_path / "attachments"),
            "HELPDESK_REDIS_URL": None,
            "MAIL_SUPPRESS_SEND": True,
            # No test touches the network: sender checks find no DNS records unless a test
            # serves its own (tests/mail/test_sender_auth.py).
            "HELPDESK_MAIL_DNS_RESOLVER": no_dns,
            **config,
        }
    )
    app.test_client_class = FlaskLoginClient
    app.jinja_env.bytecode_cache = TEMPLATE_CODE

    def _fresh_request_globals() -> None:
        # Tests hold an app context and Flask reuses it for requests, so ``g`` would carry the
        # previous request's logged-in user (Flask-Login), actor caches, locale (Flask-Babel)
        # and CSRF token (Flask-WTF caches it in ``g``: another client's token would be served)
        # into the next one.
        stale = ("_login_user", "_flask_babel", "csrf_token")
        for key in [k for k in vars(g) if k in stale or k.startswith("_helpdesk")]:
            g.pop(key)

    # First of all hooks: the extension's own (the access guard) must see a fresh ``g`` too.
    app.before_request_funcs.setdefault(None, []).insert(0, _fresh_request_globals)

    return app


def clean_tables(app: Flask) -> None:
    """Delete every row (children first) so the next test starts empty."""
    db.session.remove()
    engine = app.extensions["helpdesk"].engine
    with engine.begin() as connection:
        for table in reversed(HelpdeskModel.metadata.sorted_tables):
            connection.execute(table.delete())
        for table in reversed(db.metadata.sorted_tables):
            connection.execute(table.delete())
        for hook in CLEANUP_HOOKS:
            hook(connection)
    engine.dispose()


# Features with tables outside the metadata (full-text indexes) register their cleanup here.
CLEANUP_HOOKS: list = []


@pytest.fixture
def app(_schema, database_url: str, tmp_path) -> Iterator[Flask]:
    app = make_test_app(database_url, tmp_path)
    with app.app_context():
        # Once per process the helpdesk looks whether its tables exist; done here, that query
        # stays out of the query budgets of the first request a test makes.
        assert app.extensions["helpdesk"].schema_ready()
        try:
            yield app
        finally:
            clean_tables(app)


@dataclass
class People:
    """Host members created for a test, by role."""

    members: dict[str, Member] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Member:
        return self.members[key]


def make_member(
    name: str,
    email: str | None = None,
    admin: bool = False,
    phone: str | None = None,
    language: str | None = None,
) -> Member:
    member = Member(
        email=email or f"{name.lower().replace(' ', '.')}@example.com",
        display_name=name,
        is_superuser=admin,
        phone=phone,
        preferred_language=language,
    )
    member.set_password("secret")
    db.session.add(member)
    db.session.commit()
    return member


@pytest.fixture
def departments(app) -> dict[str, Department]:
    from flask_helpdesk.services.departments import create_department

    return {
        slug: create_department(SYSTEM, name, slug=slug)
        for slug, name in [("account", "Account"), ("billing", "Billing"), ("other", "Other")]
    }


@pytest.fixture
def customer(app) -> Member:
    return make_member("Lan Nguyen", "lan@example.com", phone="+84900000001")


@pytest.fixture
def other_customer(app) -> Member:
    return make_member("Reza Karimi", "reza@example.com")


def client_for(app: Flask, member: Member | None) -> FlaskClient:
    if member is None:
        return app.test_client()
    return app.test_client(user=member)


CSRF_PATTERN = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"'
    r'|name="csrf_token" value="([^"]+)"'
)


def csrf_from(html: str) -> str:
    match = CSRF_PATTERN.search(html)
    assert match, "page has no CSRF token"
    return match.group(1) or match.group(2)


def post_form(
    client: FlaskClient,
    page_url: str,
    post_url: str | None = None,
    data: dict | None = None,
    **kwargs,
):
    """Load *page_url* like a browser, take its CSRF token, submit *data* to *post_url*."""
    page = client.get(page_url)
    assert page.status_code == 200, page.status_code
    payload = {"csrf_token": csrf_from(page.get_data(as_text=True)), **(data or {})}
    return client.post(post_url or page_url, data=payload, **kwargs)


@contextmanager
def count_queries(app: Flask) -> Iterator[list[str]]:
    """Collect the SQL statements run inside the block."""
    statements: list[str] = []
    # Also the statements services run on the driver's cursor (services/prepared.py).
    stop = listen_statements(
        app.extensions["helpdesk"].engine, lambda statement, _p: statements.append(statement)
    )
    try:
        yield statements
    finally:
        stop()


@contextmanager
def count_rows(app: Flask) -> Iterator[list[tuple[int, str]]]:
    """The SELECT statements run inside the block with the number of rows each returns. The
    drivers do not say how many rows a SELECT fetched: once the block is over, each is run
    again, with its parameters, on a connection of its own."""
    ran: list[tuple[str, Any]] = []
    engine = app.extensions["helpdesk"].engine

    def seen(statement: str, parameters: Any) -> None:
        if statement.lstrip()[:6].upper() == "SELECT":
            ran.append((statement, parameters))

    counted: list[tuple[int, str]] = []
    stop = listen_statements(engine, seen)
    try:
        yield counted
    finally:
        stop()
    with engine.connect() as connection:
        for statement, parameters in ran:
            rows = connection.exec_driver_sql(statement, parameters).all()
            counted.append((len(rows), statement))


__all__ = ["Member", "helpdesk"]
