"""Load a large helpdesk and time what agents wait for: the queue, its filters, search, a long
ticket and a reply. A script, not a test (CI never runs it)::

    python bench/queue_bench.py --url postgresql+psycopg://postgres@127.0.0.1/hd_bench
    python bench/queue_bench.py --url sqlite:////tmp/bench.sqlite --tickets 1000000
    python bench/queue_bench.py --url ... --skip-load     # time an already loaded database again

How the data is made, and why it is what the services would have made: the script first runs
the real services (open, assign, reply, customer reply, status change, close, spam) once per
*script* of a ticket's life, reads back the rows they wrote (ticket, messages, audit events),
and then clones those rows in bulk — new ids, codes, people, departments, texts and times, every
other column exactly as the service wrote it. PostgreSQL gets the rows by ``COPY`` with the
secondary indexes dropped and rebuilt afterwards from their own definitions, and the per-ticket
search documents written in one statement as migration 0008 does; SQLite gets ``executemany``
INSERTs with its FTS5 triggers in place, so the full-text index is filled by the same triggers as
in production. At the end one more ticket is made by the
services and compared column by column with a cloned one (only ids, codes, people, texts and
times may differ): the load aborts if they do not match.

Timings are whole HTTP requests through the Flask test client (routing, services, SQL,
templates), as a logged-in agent who works in two of the five departments (the visibility
condition is part of every query), after one warm-up request. Figures: median and p95 wall
time of ``--repeat`` runs, the median CPU time of this process (``time.process_time``: on
SQLite the database's work too, and steadier than the wall on a busy machine; the load average
is printed before and after), and the number of SQL statements of one request.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import string
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from operator import itemgetter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import JSON, event, func, select, text

from example_app import create_app
from example_app.models import Member, db
from flask_helpdesk import migrations
from flask_helpdesk.mail.threading import make_message_id
from flask_helpdesk.models import (
    Agent,
    AuditEvent,
    Contact,
    HelpdeskModel,
    Message,
    Tag,
    Ticket,
)
from flask_helpdesk.models.base import UTCDateTime
from flask_helpdesk.models.counts import COUNT_TABLE, WRITE_COUNTS
from flask_helpdesk.models.search import (
    PG_SEARCH_INDEX,
    PG_SEARCH_TABLE,
    PG_WORDS_TABLE,
    PG_WRITE_DOCUMENTS,
    PG_WRITE_WORDS,
    SQLITE_SEARCH_TABLE,
)
from flask_helpdesk.services import desk, messages, queues, tickets
from flask_helpdesk.services.agents import make_agent
from flask_helpdesk.services.codes import CODE_ALPHABET, CODE_LENGTH
from flask_helpdesk.services.departments import create_department
from flask_helpdesk.services.identity import (
    SYSTEM,
    agent_as_actor,
    contact_as_actor,
    sync_contact,
)

DEPARTMENTS = ["account", "billing", "shipping", "returns", "other"]
AGENTS_PER_DEPARTMENT = 6
CONTACTS = 100_000
TAGS = ["vip", "refund", "bug", "urgent-call", "invoice", "login", "mobile", "api"]
# A ticket's life (share of tickets). Each is played once through the services as a template.
SCRIPTS = {
    "open": 0.08,
    "answered": 0.10,
    "customer_replied": 0.06,
    "processing": 0.04,
    "closed": 0.70,
    "spam": 0.02,
}
SPAN = timedelta(days=730)  # tickets spread over two years
BATCH = 20_000


# -- words ----------------------------------------------------------------------------------

SYLLABLES = [a + b for a in "bcdfghklmnprstvz" for b in "aeiou"] + ["an", "en", "on", "ar"]


def vocabulary(rng: random.Random, size: int = 6000) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(sorted(words), key=lambda w: rng.random())  # set order varies per process


class Texts:
    """Sentences of Zipf-distributed words: a few very common words, a long tail of rare ones.
    ``common``/``rare`` are words of known frequency to search for."""

    def __init__(self, rng: random.Random) -> None:
        self.words = vocabulary(rng)
        cumulative = list(accumulate(1 / (rank + 1) for rank in range(len(self.words))))
        self.sentences = [
            " ".join(
                rng.choices(self.words, cum_weights=cumulative, k=rng.randint(6, 14))
            ).capitalize()
            + "."
            for _ in range(30_000)
        ]
        self.rng = rng
        self.common = self.words[5]
        self.medium = self.words[300]
        self.rare = self.words[4000]

    def body(self) -> str:
        return " ".join(self.rng.choices(self.sentences, k=self.rng.randint(1, 4)))

    def subject(self) -> str:
        return self.rng.choice(self.sentences)[:80].rstrip(".")


# -- templates: one real ticket per script, made by the services ---------------------------


def play(script: str, customer, agent, department) -> Ticket:
    """Run one ticket's life through the services (what production does)."""
    ticket = tickets.open_ticket(
        customer,
        tickets.NewTicket(department_id=department.id, subject="Template", body="First message"),
    )
    if script == "spam":
        tickets.change_status(agent, ticket, "spam")
        return ticket
    if script == "open":
        return ticket
    desk.assign(agent, ticket, agent.agent.id)
    messages.post_message(agent, ticket, "Agent answer")
    if script == "closed":
        tickets.close_ticket(agent, ticket)
    elif script in ("customer_replied", "processing"):
        messages.post_message(customer, ticket, "Customer answer")
        if script == "processing":
            tickets.change_status(agent, ticket, "processing")
    return ticket


def raw_rows(connection, table, column: str, value: Any) -> list[dict[str, Any]]:
    """Rows as the database holds them (no type processing), decoded to plain Python."""
    rows = connection.execute(
        text(f"SELECT * FROM {table.name} WHERE {column} = :v ORDER BY id"), {"v": value}
    ).mappings()
    return [decode(table, dict(row)) for row in rows]


def decode(table, row: dict[str, Any]) -> dict[str, Any]:
    for column in table.columns:
        value = row[column.name]
        if value is None:
            continue
        if isinstance(column.type, UTCDateTime) and isinstance(value, str):
            row[column.name] = datetime.fromisoformat(value)
        elif isinstance(column.type, JSON) and isinstance(value, str):
            row[column.name] = json.loads(value)
    return row


class Template:
    def __init__(self, connection, ticket_id: int) -> None:
        self.ticket = raw_rows(connection, Ticket.__table__, "id", ticket_id)[0]
        self.messages = raw_rows(connection, Message.__table__, "ticket_id", ticket_id)
        self.audit = raw_rows(connection, AuditEvent.__table__, "ticket_id", ticket_id)
        # Every distinct moment the services stamped, in order: clones keep the order.
        moments = set()
        for row in [self.ticket, *self.messages, *self.audit]:
            moments.update(v for v in row.values() if isinstance(v, datetime))
        self.moments = {moment: rank for rank, moment in enumerate(sorted(moments))}
        self.last_rank = len(self.moments) - 1


# -- cloning --------------------------------------------------------------------------------


class Ids:
    def __init__(self, connection) -> None:
        def top(table) -> int:
            return connection.execute(text(f"SELECT COALESCE(MAX(id), 0) FROM {table}")).scalar()

        self.ticket = top("helpdesk_ticket")
        self.message = top("helpdesk_message")
        self.audit = top("helpdesk_audit_event")


def codes(rng: random.Random, taken: set[str]) -> Iterator[str]:
    while True:
        code = "HD-" + "".join(rng.choices(CODE_ALPHABET, k=CODE_LENGTH))
        if code not in taken:
            taken.add(code)
            yield code


class Cloner:
    def __init__(
        self, templates, contacts, agents_by_department, agent_names, template_people, texts, rng
    ):
        self.templates = templates
        self.agent_names = agent_names
        self.contacts = contacts  # (id, phone, email)
        self.agents_by_department = agents_by_department
        self.template_contact, self.template_agent = template_people
        self.texts = texts
        self.rng = rng
        self.script_names = list(SCRIPTS)
        self.script_weights = list(accumulate(SCRIPTS.values()))
        self.priority_weights = list(accumulate([15, 60, 20, 5]))
        self.departments = list(agents_by_department.items())

    def ticket(self, ids: Ids, code: str, now: datetime):
        rng = self.rng
        script = rng.choices(self.script_names, cum_weights=self.script_weights)[0]
        template = self.templates[script]
        department_id, agents = rng.choice(self.departments)
        agent_id = rng.choice(agents)
        contact_id, phone, email = rng.choice(self.contacts)
        step = timedelta(minutes=rng.randint(5, 3000)) / max(1, template.last_rank)
        # More recent tickets than old ones; the last moment of a ticket's life is in the past.
        created = now - SPAN * rng.random() ** 2 - step * template.last_rank
        moments = {m: created + step * rank for m, rank in template.moments.items()}
        ids.ticket += 1
        ticket_id = ids.ticket
        contacts = {self.template_contact: contact_id}
        agents = {self.template_agent: agent_id}

        t = dict(template.ticket)
        t.update(
            id=ticket_id,
            code=code,
            subject=self.texts.subject(),
            department_id=department_id,
            priority=rng.choices([0, 1, 2, 3], cum_weights=self.priority_weights)[0],
            phone=phone,
            email=email,
        )
        message_ids = {}
        out_messages = []
        for m in template.messages:
            ids.message += 1
            message_ids[m["id"]] = ids.message
            row = dict(m, id=ids.message, ticket_id=ticket_id)
            if row["body"]:
                row["body"] = self.texts.body()
            if row["email_message_id"]:  # our signed outbound Message-ID names the ticket
                row["email_message_id"] = make_message_id(code, f"m{ids.message}")
            if "assignee_name" in row["data"]:  # the "assigned to …" line names the agent
                row["data"] = dict(row["data"], assignee_name=self.agent_names[agent_id])
            out_messages.append(row)
        out_audit = []
        for a in template.audit:
            ids.audit += 1
            row = dict(a, id=ids.audit, ticket_id=ticket_id)
            data = dict(row["data"])
            if "message_id" in data:
                data["message_id"] = message_ids[data["message_id"]]
            for key in ("old", "new"):  # assignment events name agents
                if row["action"] == "ticket.assigned" and data.get(key) == self.template_agent:
                    data[key] = agent_id
            row["data"] = data
            out_audit.append(row)
        for row in [t, *out_messages, *out_audit]:
            for key, value in row.items():
                if isinstance(value, datetime):
                    row[key] = moments[value]
                elif key.endswith(("contact_id", "requester_id")) and value is not None:
                    row[key] = contacts.get(value, value)
                elif key.endswith(("agent_id", "assignee_id")) and value is not None:
                    row[key] = agents.get(value, value)
        return t, out_messages, out_audit


# -- writers --------------------------------------------------------------------------------


class Writer:
    """Bulk rows into one table: COPY on PostgreSQL, executemany on SQLite."""

    def __init__(self, connection, table) -> None:
        self.connection = connection
        self.table = table
        self.columns = [c.name for c in table.columns]
        self.dialect = connection.dialect.name
        self.dates = {c.name for c in table.columns if isinstance(c.type, UTCDateTime)}
        self.jsons = {c.name for c in table.columns if isinstance(c.type, JSON)}
        self.rows: list[list] = []
        self.get = itemgetter(*self.columns)
        self.special = [
            (index, name)
            for index, name in enumerate(self.columns)
            if name in self.jsons or (name in self.dates and self.dialect == "sqlite")
        ]

    def add(self, row: dict[str, Any]) -> None:
        values = list(self.get(row))
        for index, name in self.special:
            values[index] = self._value(name, values[index])
        self.rows.append(values)
        if len(self.rows) >= BATCH:
            self.flush()

    def _value(self, name: str, value: Any) -> Any:
        if value is None:
            return None
        if name in self.jsons:
            if self.dialect == "postgresql":
                from psycopg.types.json import Json

                return Json(value)
            return json.dumps(value)
        if name in self.dates and self.dialect == "sqlite":
            return value.isoformat(" ", "microseconds")  # what SQLAlchemy's SQLite type writes
        return value

    def flush(self) -> None:
        if not self.rows:
            return
        raw = self.connection.connection.driver_connection
        names = ", ".join(self.columns)
        if self.dialect == "postgresql":
            statement = f"COPY {self.table.name} ({names}) FROM STDIN"
            with raw.cursor() as cursor, cursor.copy(statement) as copy:
                for row in self.rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" * len(self.columns))
            raw.executemany(f"INSERT INTO {self.table.name} ({names}) VALUES ({marks})", self.rows)
        self.rows = []


BULK_TABLES = ["helpdesk_ticket", "helpdesk_message", "helpdesk_audit_event", "helpdesk_ticket_tag"]


def drop_secondary_indexes(connection) -> list[str]:
    """Drop the bulk tables' secondary indexes; return the DDL that recreates them."""
    if connection.dialect.name == "postgresql":
        rows = connection.execute(
            text(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i "
                "JOIN pg_class c ON c.relname = i.indexname "
                "JOIN pg_index x ON x.indexrelid = c.oid "
                "WHERE i.tablename = ANY(:t) AND NOT x.indisprimary AND NOT x.indisunique"
            ),
            {"t": BULK_TABLES},
        ).all()
    else:
        # The message index by ticket stays: SQLite's search triggers (migration 0028) read a
        # ticket's thread by it at each message written; without it every INSERT scanned all
        # the messages so far and a 100,000-ticket load never ended.
        rows = connection.execute(
            text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                "AND tbl_name IN ('helpdesk_ticket', 'helpdesk_message', 'helpdesk_audit_event', "
                "'helpdesk_ticket_tag') AND name != :kept"
            ),
            {"kept": "ix_helpdesk_message_ticket_created"},
        ).all()
    for name, _ddl in rows:
        connection.execute(text(f"DROP INDEX {name}"))
    return [ddl for _name, ddl in rows]


# -- load -----------------------------------------------------------------------------------


def load(app, n_tickets: int, seed: int) -> None:
    rng = random.Random(seed)
    texts = Texts(rng)
    engine = app.extensions["helpdesk"].engine
    started = time.perf_counter()
    with engine.connect() as connection:  # start from an empty database
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("DROP SCHEMA public CASCADE")
            connection.exec_driver_sql("CREATE SCHEMA public")
        else:
            tables = connection.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE '%fts5%' "
                "AND name NOT LIKE '%fts_%'"
            ).scalars()
            for name in list(tables):
                connection.exec_driver_sql(f'DROP TABLE IF EXISTS "{name}"')
            for fts in ("helpdesk_message_fts", "helpdesk_ticket_fts", SQLITE_SEARCH_TABLE):
                connection.exec_driver_sql(f"DROP TABLE IF EXISTS {fts}")
        connection.commit()
    db.create_all()
    migrations.upgrade(app)  # the schema hosts get, not create_all

    departments = {slug: create_department(SYSTEM, slug.title(), slug=slug) for slug in DEPARTMENTS}
    agents_by_department: dict[int, list[int]] = {d.id: [] for d in departments.values()}
    agent_names: dict[int, str] = {}
    for i in range(AGENTS_PER_DEPARTMENT * len(DEPARTMENTS)):
        slugs = [DEPARTMENTS[i % 5], DEPARTMENTS[(i + 1) % 5]]
        member = new_member(f"Agent {i}", f"agent{i}@example.com")
        agent = make_agent(member.get_id(), slugs)
        agent_names[agent.id] = agent.display_name
        for d in agent.departments:
            agents_by_department[d.id].append(agent.id)
    admin_member = new_member("Admin", "admin@example.com", admin=True)
    make_agent(admin_member.get_id(), [], role="admin")

    # The template people: a customer and an agent working in the first department.
    template_agent = agent_as_actor(
        db.session.scalar(select(Agent).where(Agent.email == "agent0@example.com"))
    )
    template_customer = contact_as_actor(
        sync_contact(new_member("Template Customer", "template@example.com"))
    )
    first = departments[DEPARTMENTS[0]]
    made = {s: play(s, template_customer, template_agent, first).id for s in SCRIPTS}
    template_people = (template_customer.contact.id, template_agent.agent.id)
    db.session.commit()  # end the ORM session's transaction: its locks would block DROP INDEX
    with engine.connect() as connection:
        templates = {s: Template(connection, ticket_id) for s, ticket_id in made.items()}
        # The templates leave the table: the clones stand for them.
        for table in ("helpdesk_audit_event", "helpdesk_message", "helpdesk_ticket"):
            column = "id" if table == "helpdesk_ticket" else "ticket_id"
            ids = ",".join(str(ticket_id) for ticket_id in made.values())
            connection.execute(text(f"DELETE FROM {table} WHERE {column} IN ({ids})"))
        connection.commit()
    print(f"schema, people and templates: {time.perf_counter() - started:.1f}s", flush=True)

    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("PRAGMA journal_mode = OFF")
            connection.exec_driver_sql("PRAGMA synchronous = OFF")
            connection.exec_driver_sql("PRAGMA cache_size = -1000000")
        else:
            for table in BULK_TABLES:
                connection.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER ALL"))
        recreate = drop_secondary_indexes(connection)

        contacts = clone_contacts(connection, template_people[0], rng)
        tag_ids = [
            connection.execute(
                Tag.__table__.insert().values(name=name).returning(Tag.__table__.c.id)
            ).scalar_one()
            for name in TAGS
        ]
        cloner = Cloner(
            templates,
            contacts,
            agents_by_department,
            agent_names,
            template_people,
            texts,
            rng,
        )
        ids = Ids(connection)
        writers = {
            name: Writer(connection, HelpdeskModel.metadata.tables[name]) for name in BULK_TABLES
        }
        code_source = codes(rng, set())
        now = datetime.now(UTC).replace(tzinfo=None)
        for i in range(n_tickets):
            t, ms, audit = cloner.ticket(ids, next(code_source), now)
            writers["helpdesk_ticket"].add(t)
            for m in ms:
                writers["helpdesk_message"].add(m)
            for a in audit:
                writers["helpdesk_audit_event"].add(a)
            if rng.random() < 0.1:
                for tag_id in rng.sample(tag_ids, rng.randint(1, 2)):
                    writers["helpdesk_ticket_tag"].add({"ticket_id": t["id"], "tag_id": tag_id})
            if (i + 1) % 100_000 == 0:
                print(f"  {i + 1:,} tickets: {time.perf_counter() - started:.0f}s", flush=True)
        for writer in writers.values():
            writer.flush()
        print(f"rows written: {time.perf_counter() - started:.1f}s", flush=True)
        if connection.dialect.name == "postgresql":
            connection.execute(text("SET maintenance_work_mem = '1GB'"))
        for ddl in recreate:
            connection.execute(text(ddl))
        if connection.dialect.name == "postgresql":
            # The triggers that write each ticket's search document were off during COPY:
            # write them all at once, then build their index (as migration 0008 does).
            connection.exec_driver_sql(f"DROP INDEX ix_{PG_SEARCH_TABLE}_fts")
            connection.exec_driver_sql(PG_WRITE_DOCUMENTS.format(condition="TRUE"))
            connection.exec_driver_sql(PG_SEARCH_INDEX)
            connection.exec_driver_sql(f"TRUNCATE {PG_WORDS_TABLE}")
            connection.exec_driver_sql(PG_WRITE_WORDS)
            # The department counts too (models/counts.py), from the tickets just loaded.
            connection.exec_driver_sql(f"DELETE FROM {COUNT_TABLE}")
            connection.exec_driver_sql(WRITE_COUNTS)
            print(f"search documents written: {time.perf_counter() - started:.1f}s", flush=True)
        if connection.dialect.name == "postgresql":
            for table in BULK_TABLES:
                connection.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER ALL"))
            for table in (
                "helpdesk_ticket",
                "helpdesk_message",
                "helpdesk_audit_event",
                "helpdesk_contact",
            ):
                connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT MAX(id) FROM {table}))"
                    )
                )
        connection.commit()
        print(f"indexes rebuilt: {time.perf_counter() - started:.1f}s", flush=True)
    analyze(engine)
    check_clone_matches_services(app, template_customer, template_agent, first)
    print(f"load done: {time.perf_counter() - started:.1f}s", flush=True)


def analyze(engine) -> None:
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                "VACUUM ANALYZE"
            )
        else:
            connection.exec_driver_sql("ANALYZE")
            connection.commit()


def new_member(name: str, email: str, admin: bool = False) -> Member:
    member = Member(email=email, display_name=name, is_superuser=admin, password_hash="-")
    db.session.add(member)
    db.session.commit()
    return member


def clone_contacts(connection, template_id: int, rng: random.Random) -> list[tuple]:
    """Customers shaped like the one ``sync_contact`` made, as (id, phone, email)."""
    table = Contact.__table__
    base = raw_rows(connection, table, "id", template_id)[0]
    writer = Writer(connection, table)
    start = connection.execute(text("SELECT MAX(id) FROM helpdesk_contact")).scalar()
    out = []
    for i in range(CONTACTS):
        name = " ".join(rng.choice(string.ascii_uppercase) + "xyz" for _ in range(2))
        row = dict(
            base,
            id=start + 1 + i,
            user_id=f"bench-{i}",
            email=f"customer{i}@example.com",
            name=name,
            phone=None if i % 3 else f"+8490{i:07d}",
        )
        writer.add(row)
        out.append((row["id"], row["phone"], row["email"]))
    writer.flush()
    return out


def check_clone_matches_services(app, customer, agent, department) -> None:
    """One more closed ticket through the services must look like a clone, column by column."""
    ticket = play("closed", customer, agent, department)
    engine = app.extensions["helpdesk"].engine
    may_differ = {"id", "code", "subject", "body", "priority", "phone", "email", "ticket_id"}
    with engine.connect() as connection:
        real = Template(connection, ticket.id)
        clone_id = connection.execute(
            text(
                "SELECT id FROM helpdesk_ticket WHERE status = 'closed' AND id < :i "
                "ORDER BY id DESC LIMIT 1"
            ),
            {"i": ticket.id},
        ).scalar()
        clone = Template(connection, clone_id)

    def shape(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for row in rows:
            kept = {}
            for key, value in row.items():
                if key == "phone":  # a third of the cloned customers have one
                    continue
                if key in may_differ or key.endswith("_id"):
                    kept[key] = value is None  # only whether it is set
                elif isinstance(value, datetime):
                    kept[key] = "time"
                elif key.endswith("_seconds") and isinstance(value, int):
                    # Durations between those times: a second more when the machine is
                    # loaded while the services play the ticket's life.
                    kept[key] = "seconds"
                elif isinstance(value, dict):  # ids and names of people may differ
                    kept[key] = {
                        k: type(v).__name__ if k.endswith(("id", "old", "new", "name")) else v
                        for k, v in value.items()
                    }
                else:
                    kept[key] = value
            out.append(kept)
        return out

    for part in ("ticket", "messages", "audit"):
        a = getattr(real, part)
        b = getattr(clone, part)
        a, b = shape(a if isinstance(a, list) else [a]), shape(b if isinstance(b, list) else [b])
        if a != b:
            raise SystemExit(f"bulk {part} rows differ from what the services write:\n{a}\n{b}")
    print("check: cloned rows match rows written by the services", flush=True)


# -- measurements ---------------------------------------------------------------------------


class SqlClock:
    """Statements run and time spent in the database driver, per request."""

    def __init__(self, engine) -> None:
        self.statements: list[str] = []
        self.seconds = 0.0
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        self.statements.append(statement)
        conn.info["bench_started"] = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        self.seconds += time.perf_counter() - conn.info.pop("bench_started")

    def reset(self) -> None:
        self.statements.clear()
        self.seconds = 0.0


def measure(
    label: str,
    request: Callable[[], Any],
    repeat: int,
    clock: SqlClock,
    prepare: Callable[[], None] = lambda: None,
) -> tuple:
    prepare()
    request()  # warm-up (plans, caches)
    timings, cpu, sql = [], [], []
    for _ in range(repeat):
        prepare()
        clock.reset()
        began, began_cpu = time.perf_counter(), time.process_time()
        response = request()
        timings.append((time.perf_counter() - began) * 1000)
        cpu.append((time.process_time() - began_cpu) * 1000)
        sql.append(clock.seconds * 1000)
        assert response.status_code in (200, 302), (label, response.status_code)
    timings.sort()
    p95 = timings[min(len(timings) - 1, round(0.95 * (len(timings) - 1)))]
    row = (
        label,
        statistics.median(timings),
        p95,
        statistics.median(cpu),
        statistics.median(sql),
        len(clock.statements),
    )
    print(
        f"{label:<42} {row[1]:>9.1f} {row[2]:>9.1f} {row[3]:>9.1f} {row[4]:>9.1f} {row[5]:>8}",
        flush=True,
    )
    return row


def load_average() -> str:
    return " ".join(f"{n:.1f}" for n in os.getloadavg())


def search_words() -> list[tuple[str, float]]:
    """Words found in about 3 %, 0.3 % and 0.03 % of the messages, then one in about 10 %
    (a third of the tickets; measured on a sample), with their share: searches of known
    selectivity. (The Zipf head, words in most messages,
    behave like stop words; see docs/performance.rst.)"""
    bodies = db.session.scalars(
        text("SELECT body FROM helpdesk_message WHERE id % 997 = 0 AND kind = 'reply'")
    ).all()
    counts: dict[str, int] = {}
    for body in bodies:
        for word in set(body.lower().replace(".", "").split()):
            counts[word] = counts.get(word, 0) + 1
    share = {word: count / len(bodies) for word, count in counts.items()}
    picks = []
    for target in (0.03, 0.003, 0.0003, 0.10):
        word = min(sorted(share), key=lambda w: abs(share[w] - target))
        picks.append((word, share[word]))
    return picks


def ticket_search_word(target: float = 0.30) -> tuple[str, float]:
    """A word found in about *target* of the TICKETS (subject or any message, as the search
    reads them), with its share, measured on a sample of about 2,000 tickets: issue 17's slow
    case, "a word in 30 % of tickets". (:func:`search_words` picks by share of messages; a
    ticket has several, so its 10 % word is in only about 16 % of the tickets.)"""
    top = db.session.scalar(text("SELECT MAX(id) FROM helpdesk_ticket")) or 0
    step = max(1, top // 2000)
    rows = db.session.execute(
        text(
            "SELECT t.id, t.subject, m.body FROM helpdesk_ticket t"
            " JOIN helpdesk_message m ON m.ticket_id = t.id WHERE t.id % :step = 0"
        ),
        {"step": step},
    ).all()
    words_of: dict[int, set[str]] = {}
    for ticket_id, subject, body in rows:
        words = words_of.setdefault(ticket_id, set(subject.lower().replace(".", "").split()))
        words.update(body.lower().replace(".", "").split())
    counts: dict[str, int] = {}
    for words in words_of.values():
        for word in words:
            counts[word] = counts.get(word, 0) + 1
    share = {word: count / len(words_of) for word, count in counts.items()}
    word = min(sorted(share), key=lambda w: abs(share[w] - target))
    return word, share[word]


def run(app, repeat: int) -> None:
    from flask_login import FlaskLoginClient

    app.test_client_class = FlaskLoginClient
    engine = app.extensions["helpdesk"].engine
    clock = SqlClock(engine)
    member = db.session.scalar(select(Member).where(Member.email == "agent0@example.com"))
    agent = db.session.scalar(select(Agent).where(Agent.email == "agent0@example.com"))
    actor = agent_as_actor(agent)
    me = str(agent.id)
    total = db.session.scalar(text("SELECT COUNT(*) FROM helpdesk_ticket"))
    n_messages = db.session.scalar(text("SELECT COUNT(*) FROM helpdesk_message"))
    # Page 1,000: find its cursor once (setup, not timed) from the row just before it.
    per_page = app.config.get("HELPDESK_TICKETS_PER_PAGE", 25)
    base = queues.build_query(actor, queues.QueueFilter())
    visible = db.session.scalar(
        select(func.count())
        .select_from(Ticket)
        .where(*queues.filter_conditions(actor, queues.QueueFilter()))
    )
    print(
        f"\n{engine.dialect.name}: {total:,} tickets, {n_messages:,} messages; the agent works in "
        f"2 of 5 departments and sees {visible:,} tickets; {repeat} runs each\n"
    )
    page_number = min(1000, visible // per_page)  # a small load has fewer pages
    before = (
        db.session.scalars(base.offset((page_number - 1) * per_page - 1).limit(1)).unique().one()
    )
    cursor = queues.encode_cursor(before, "updated")
    texts = Texts(random.Random(1))  # bodies for the replies
    common, medium, rare, frequent = search_words()
    third = ticket_search_word()
    department_id = agent.departments[0].id
    contact_id = db.session.scalar(text("SELECT requester_id FROM helpdesk_ticket LIMIT 1"))
    today = datetime.now(UTC).date()

    # A ticket with 50 messages, by the services, for the ticket page and the reply.
    customer = contact_as_actor(db.session.get(Contact, contact_id))
    long_ticket = tickets.open_ticket(
        customer, tickets.NewTicket(department_id=department_id, subject="Long", body="Start")
    )
    for i in range(49):
        messages.post_message(actor if i % 2 else customer, long_ticket, texts.body())
    code = long_ticket.code

    client = app.test_client(user=member)
    desk_url = "/support/desk/"
    cases: list[tuple[str, str]] = [
        ("queue page 1", ""),
        (f"queue page {page_number:,} (cursor)", f"cursor={cursor}"),
        ("status=open,customer_replied", "status=open&status=customer_replied"),
        ("department", f"department={department_id}"),
        ("assignee=me", "assignee=me"),
        ("assignee=unassigned", "assignee=unassigned"),
        ("assignee=<agent>", f"assignee={me}"),
        ("requester", f"requester={contact_id}"),
        ("creator", f"creator=contact:{contact_id}"),
        ("priority=urgent", "priority=3"),
        ("tag", "tag=vip"),
        ("created last 30 days", f"created_from={today - timedelta(days=30)}"),
        (
            "updated in one old week",
            f"updated_from={today - timedelta(days=400)}&updated_to={today - timedelta(days=393)}",
        ),
        ("unread customer reply", "unread=1"),
        ("sort=created", "sort=created"),
        ("sort=priority", "sort=priority"),
        ("combined: open+mine+urgent", "status=open&assignee=me&priority=3"),
        ("view: My open", "view=mine"),
        ("view: Unassigned", "view=unassigned"),
        (f"search common word ({common[1]:.1%} of messages)", f"q={common[0]}"),
        (f"search medium word ({medium[1]:.2%})", f"q={medium[0]}"),
        (f"search rare word ({rare[1]:.3%})", f"q={rare[0]}"),
        ("search two words (common + medium)", f"q={common[0]}+{medium[0]}"),
        (f"search frequent word ({frequent[1]:.1%})", f"q={frequent[0]}"),
        ("search two words (frequent + common)", f"q={frequent[0]}+{common[0]}"),
        (f"search word in {third[1]:.0%} of tickets", f"q={third[0]}"),
        ("search two words (30% + common)", f"q={third[0]}+{common[0]}"),
        ("search ticket code", f"q={code}"),
    ]
    print(f"load average {load_average()}")
    print(
        f"{'request':<42} {'median ms':>9} {'p95 ms':>9} {'CPU ms':>9} {'SQL ms':>9} {'queries':>8}"
    )
    for label, query in cases:
        url = desk_url + ("?" + query if query else "")
        measure(label, lambda url=url: client.get(url), repeat, clock)
    ticket_url = f"/support/desk/tickets/{code}"
    measure("ticket page, 50 messages", lambda: client.get(ticket_url), repeat, clock)
    newest: list[int] = []

    def before_reply() -> None:  # the form's "last message seen" field, not timed
        newest[:] = [
            db.session.scalar(
                select(Message.id)
                .where(Message.ticket_id == long_ticket.id)
                .order_by(Message.id.desc())
                .limit(1)
            )
        ]

    def reply():
        return client.post(
            ticket_url + "/reply",
            data={"body": texts.body(), "action": "reply", "last_seen_message_id": str(newest[0])},
        )

    measure("reply (POST, redirect)", reply, repeat, clock, before_reply)
    print(f"load average {load_average()}")


def bench_app(url: str):
    """The example app on *url*, as the benchmarks drive it: no CSRF, no Redis, no mail sent."""
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "WTF_CSRF_ENABLED": False,
            "HELPDESK_REDIS_URL": None,
            "MAIL_SUPPRESS_SEND": True,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True, help="SQLAlchemy database URL")
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-load", action="store_true")
    args = parser.parse_args()
    app = bench_app(args.url)
    with app.app_context():
        if not args.skip_load:
            load(app, args.tickets, args.seed)
        else:
            migrations.upgrade(app)  # a database loaded earlier gets the newest indexes
            analyze(app.extensions["helpdesk"].engine)
        run(app, args.repeat)


if __name__ == "__main__":
    main()
