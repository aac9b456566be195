"""The one dispatcher: jobs run after commit, never after a rollback; Redis down falls back."""

from __future__ import annotations

from sqlalchemy import create_engine, select, text

from flask_helpdesk import jobs
from flask_helpdesk.models import Department
from flask_helpdesk.services import base
from flask_helpdesk.services.departments import create_department
from flask_helpdesk.services.identity import SYSTEM, contact_as_actor, sync_contact
from flask_helpdesk.services.tickets import NewTicket, open_ticket
from tests.conftest import clean_tables, make_member, make_test_app
from tests.jobs.conftest import mail_config

RAN: list[tuple] = []


def record_job(*args, **kwargs) -> None:
    RAN.append((args, kwargs))


def test_inline_job_runs_only_after_commit_and_sees_committed_rows(app, database_url):
    seen_by_job: list[int] = []
    other_connection = create_engine(database_url)

    def count_departments_elsewhere() -> None:
        # Another connection: only what was really committed is visible there.
        with other_connection.connect() as connection:
            seen_by_job.append(
                connection.execute(text("select count(*) from helpdesk_department")).scalar()
            )

    session = app.extensions["helpdesk"].db.session
    session.add(Department(slug="late", name="Late"))
    jobs.enqueue(count_departments_elsewhere)
    assert seen_by_job == []  # not while the transaction is open
    base.commit()
    assert seen_by_job == [1]
    other_connection.dispose()


def test_rolled_back_transaction_never_runs_its_jobs(app):
    RAN.clear()
    session = app.extensions["helpdesk"].db.session
    session.add(Department(slug="gone", name="Gone"))
    jobs.enqueue(record_job, "from the rolled back transaction")
    session.rollback()  # whoever rolls back: the host, a service, an error handler
    create_department(SYSTEM, "Kept", slug="kept")  # a later unit of work commits
    assert RAN == []
    assert session.scalar(select(Department.slug).where(Department.slug == "gone")) is None


def test_savepoint_rollback_keeps_the_outer_transactions_jobs(app):
    RAN.clear()
    session = app.extensions["helpdesk"].db.session
    jobs.enqueue(record_job, "outer")
    savepoint = session.begin_nested()
    session.add(Department(slug="inner", name="Inner"))
    savepoint.rollback()
    base.commit()
    assert RAN == [(("outer",), {})]


def test_failing_inline_job_does_not_stop_the_next_one(app, caplog):
    RAN.clear()

    def broken() -> None:
        raise RuntimeError("boom")

    jobs.enqueue(broken)
    jobs.enqueue(record_job, "after the broken one")
    base.commit()
    assert RAN == [(("after the broken one",), {})]
    assert "helpdesk job broken failed" in caplog.text


def test_unreachable_redis_falls_back_to_inline(_schema, database_url, tmp_path, smtp, caplog):
    app = make_test_app(
        database_url,
        tmp_path,
        HELPDESK_REDIS_URL="redis://127.0.0.1:1/0",  # nothing listens on port 1
        **mail_config(smtp),
    )
    with app.app_context():
        try:
            app.extensions["helpdesk"].config["HELPDESK_NOTIFY_EMAILS"] = ("desk@example.com",)
            department = create_department(SYSTEM, "Billing", slug="billing")
            customer = contact_as_actor(sync_contact(make_member("Lan", "lan@example.com")))
            open_ticket(customer, NewTicket(department.id, "Refund", "Please refund."))
            assert [m.rcpt_tos for m in smtp.messages] == [["desk@example.com"]]
            assert "Redis unreachable" in caplog.text
        finally:
            clean_tables(app)
