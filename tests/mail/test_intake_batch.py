"""A worker's batch of stored mails (PostgreSQL, ``intake.process_batch``): one transaction,
a savepoint a mail, one commit, and the same rows as the mails processed one by one.

Killed at every step of the batch (before each statement and commit), the sweep then ends
with exactly the rows of an uninterrupted run: a crash in the middle of the batch rolls back
every mail of it, none is half-stored, none is filed twice. The batch is the one of
``test_intake_crash.py`` (a customer's mail with a colleague in Cc and a PDF, the colleague's
threaded answer, two ServiceNow updates sharing one Message-ID, an out-of-office reply).
"""

from __future__ import annotations

import os

import pytest
from sqlalchemy import event, func, select

from flask_helpdesk.models import Department, InboundMail, InboundStatus, report_day
from flask_helpdesk.services import (
    facts,
    house_rules,
    intake,
    mail_auth,
    rules,
    sla_policies,
    spam,
    webhooks,
)
from flask_helpdesk.services.base import session
from flask_helpdesk.services.notifications import tickets as ticket_notifications
from tests.mail.test_intake_crash import (
    CRASHED,
    FINISHED,
    batch,
    die_before,
    fresh_database,
    snapshot,
)

# Statements for the five stored mails of the batch (three new tickets: the customer's with a
# PDF and a participant, one for each ServiceNow update; a reply; an out-of-office reply),
# their staff notifications included: 37, of which ten are the savepoints' SAVEPOINT and RELEASE;
# one claim, one roll-up upsert and one commit for the five. One by one a worker ran five
# claims, three upserts and five commits.
BATCH_BUDGET = 37


@pytest.fixture
def postgresql(app):
    if app.extensions["helpdesk"].engine.dialect.name != "postgresql":
        pytest.skip("batches run on PostgreSQL only (set HELPDESK_TEST_DATABASE_URL)")
    return app


def store(mails: list[bytes], monkeypatch) -> list[int]:
    """Store *mails* as the pipe does and leave them unprocessed, as a drain finds them
    listed; their ids in order."""
    ids: list[int] = []

    def listed(func, inbound_id: int, **kwargs) -> None:
        ids.append(inbound_id)

    with monkeypatch.context() as patched:
        patched.setattr(intake.jobs, "enqueue", listed)
        for raw in mails:
            intake.receive(raw, "pipe")
    return ids


def senders_known(mails: list[bytes]) -> None:
    """Their senders' domains in this process's DNS cache (a worker that had mail from them):
    the batch checks them while the rows are locked, without waiting on DNS."""
    for raw in mails:
        mail_auth.check(raw)


def reports() -> list[tuple]:
    """The reports' roll-up as readers sum it (its slots added up): for each span, department
    (by slug: ids differ from one fresh database to the next), channel and priority, the
    measures that are not zero."""
    key = (report_day.c.span, Department.slug, report_day.c.channel, report_day.c.priority)
    names = facts.measures()
    query = (
        select(*key, *(func.sum(report_day.c[name]) for name in names))
        .join(Department, Department.id == report_day.c.department_id)
        .group_by(*key)
    )
    return sorted(
        (*row[:4], tuple((n, v) for n, v in zip(names, row[4:], strict=True) if v))
        for row in session().execute(query)
    )


def crash_at(app, ids: list[int], step: int) -> int:
    """Process *ids* as one batch in a child that dies before its *step*-th statement or
    commit; the child's exit status."""
    engine = app.extensions["helpdesk"].engine
    session().remove()
    engine.dispose()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        status = 2
        try:
            die_before(engine, step)
            intake.process_batch(ids)
            status = FINISHED
        finally:
            os._exit(status)
    _pid, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_a_batch_stores_what_the_mails_one_by_one_store(postgresql, dns, monkeypatch):
    app, mails = postgresql, batch()
    # What each process reads again every few seconds stays read for the test (see
    # test_intake_budget.py): a reload is no mail's statement.
    cached = [(rules, "RULES_CACHE_TTL"), (webhooks, "SUBSCRIPTIONS_TTL")]
    cached += [(house_rules, "RULES_TTL"), (sla_policies, "ACTIVE_POLICIES_TTL")]
    cached += [(spam, "TOTALS_CACHE_TTL"), (ticket_notifications, "STAFF_CACHE_SECONDS")]
    for module, name in cached:
        monkeypatch.setattr(module, name, 3600.0)
    fresh_database(app)
    for raw in mails:
        intake.receive(raw, "pipe")  # inline: each mail processed alone right away
    one_by_one, one_by_one_reports = snapshot(), reports()
    assert one_by_one_reports  # the new tickets are counted

    fresh_database(app)
    senders_known(mails)
    ids = store(mails, monkeypatch)
    engine = app.extensions["helpdesk"].engine
    claims, upserts, statements, commits = [], [], [], []

    def note(conn, cursor, sql, parameters, context, executemany):
        statements.append(sql)
        if "FOR NO KEY UPDATE" in sql:
            claims.append(sql)
        if sql.startswith(f"INSERT INTO {report_day.name} "):
            upserts.append(sql)

    def committed(conn):
        commits.append(1)

    event.listen(engine, "before_cursor_execute", note)
    event.listen(engine, "commit", committed)
    try:
        intake.process_batch(ids)
    finally:
        event.remove(engine, "before_cursor_execute", note)
        event.remove(engine, "commit", committed)
    assert snapshot() == one_by_one
    # The five mails' work, their staff notifications included, in one transaction.
    assert len(commits) == 1
    assert len(statements) <= BATCH_BUDGET, "\n".join(x[:110] for x in statements)
    assert len(claims) == 1 and "SKIP LOCKED" in claims[0]  # the five claimed at once
    # The three new tickets counted by one upsert at the batch's end, to the same figures.
    assert len(upserts) == 1 and reports() == one_by_one_reports


def test_a_mail_failing_in_a_batch_is_set_aside_alone(postgresql, dns, monkeypatch):
    """The ServiceNow update that fails rolls back in its savepoint and is marked failed with
    the reason; the mails before and after it are stored and committed with the batch."""
    app, mails = postgresql, batch()
    fresh_database(app)
    senders_known(mails)
    ids = store(mails, monkeypatch)
    handle = intake.handle

    def failing(row, *args):
        if row.subject.endswith("Resolved"):
            handle(row, *args)  # written, then undone by its savepoint's rollback
            raise RuntimeError("the parser choked")
        return handle(row, *args)

    monkeypatch.setattr(intake, "handle", failing)
    intake.process_batch(ids)
    session().expire_all()
    rows = {row.subject: row for row in session().scalars(select(InboundMail))}
    failed = rows.pop("Incident INC0042 updated - Resolved")
    assert (failed.status, failed.reason, failed.attempts, failed.ticket_id) == (
        InboundStatus.FAILED,
        "RuntimeError: the parser choked",
        1,
        None,
    )
    assert {row.status for row in rows.values()} == {
        InboundStatus.PROCESSED,
        InboundStatus.IGNORED,
    }
    assert [t[0][0] for t in snapshot()["tickets"]].count("Incident INC0042 updated - New") == 1
    assert not any("Resolved" in t[0][0] for t in snapshot()["tickets"])
    # Its new ticket's count was rolled back with it: two tickets counted, not three.
    created = [dict(row[4]).get("created", 0) for row in reports()]
    assert sum(created) == 2 * 2  # each in its day's row and its week's


def test_a_crash_at_any_step_of_a_batch_leaves_every_mail_to_the_sweep(
    postgresql, dns, monkeypatch
):
    app, mails = postgresql, batch()
    fresh_database(app)
    senders_known(mails)
    intake.process_batch(store(mails, monkeypatch))
    expected = snapshot()
    assert len(expected["tickets"]) == 3 and len(expected["inbound"]) == 5

    config = app.extensions["helpdesk"].config
    step = 0
    while True:
        step += 1
        fresh_database(app)
        ids = store(mails, monkeypatch)
        code = crash_at(app, ids, step)
        if code == FINISHED:  # the batch has fewer steps: every one of them was tried
            assert snapshot() == expected
            break
        assert code == CRASHED, f"the child failed at step {step} (exit {code})"
        session().expire_all()
        # Nothing of the batch is half-done: before its commit every mail is as stored.
        statuses = {row.status for row in session().scalars(select(InboundMail))}
        assert statuses <= {InboundStatus.RECEIVED} or InboundStatus.RECEIVED not in statuses, (
            step,
            statuses,
        )
        config["HELPDESK_MAIL_STALE_AFTER"] = 0
        try:
            intake.sweep(older_than=0)  # cron's process-mail
        finally:
            config["HELPDESK_MAIL_STALE_AFTER"] = 300
        assert snapshot() == expected, f"after a crash at step {step}"
    assert step > 20  # sanity: the batch really is many steps long
