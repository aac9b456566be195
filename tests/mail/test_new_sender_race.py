"""Two workers taking mail from a new sender at the same moment file it under ONE contact:
real parallel transactions on PostgreSQL (SQLite has one writer at a time, so there is no
race to test there; the unique index behind it is tested on both in tests/test_migrations.py).
"""

from __future__ import annotations

import os
import threading

import pytest
from sqlalchemy import func, select

from flask_helpdesk import jobs
from flask_helpdesk.models import Contact, InboundMail, Ticket
from flask_helpdesk.services import intake, mail_routing
from flask_helpdesk.services.base import session
from tests.conftest import DATABASE_URL_VARIABLE, make_test_app
from tests.mail.mails import make_mail

pytestmark = pytest.mark.skipif(
    not os.environ.get(DATABASE_URL_VARIABLE, "").startswith("postgresql"),
    reason=f"set {DATABASE_URL_VARIABLE} to a PostgreSQL URL",
)


def _in_threads(database_url, tmp_path, *works) -> None:
    """Run each ``work()`` in a thread with its own app and connection; fails, never hangs."""
    apps = [make_test_app(database_url, tmp_path) for _ in works]
    errors: list[BaseException] = []

    def run(app, work) -> None:
        try:
            with app.app_context():
                try:
                    work()
                finally:
                    app.extensions["helpdesk"].db.session.remove()
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=run, args=pair) for pair in zip(apps, works, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a worker did not finish"
    assert not errors, errors


def _contacts(address: str) -> list[int]:
    session().expire_all()
    return list(
        session().scalars(select(Contact.id).where(func.lower(Contact.email) == address.lower()))
    )


@pytest.mark.parametrize("first_ends", ["commit", "rollback"])
def test_the_second_worker_waits_for_the_first_and_takes_its_contact(
    app, database_url, tmp_path, first_ends
):
    """The first worker has created the contact and not committed yet when the second asks
    for it: the second waits, then gets the first one's contact (or makes its own when the
    first rolled back) — never a second contact, never an error."""
    inserted = threading.Event()
    got: dict[str, int] = {}

    def first() -> None:
        contact = mail_routing.contact_for("New.Sender@Example.org", "New Sender")
        got["first"] = contact.id
        inserted.set()
        threading.Event().wait(0.5)  # the second is now blocked on our uncommitted row
        session().commit() if first_ends == "commit" else session().rollback()

    def second() -> None:
        assert inserted.wait(60)
        got["second"] = mail_routing.contact_for("new.sender@example.org", "N. Sender")
        got["second"] = got["second"].id
        session().commit()

    _in_threads(database_url, tmp_path, first, second)

    assert _contacts("new.sender@example.org") == [got["second"]]
    if first_ends == "commit":
        assert got["second"] == got["first"]
    else:
        assert got["second"] != got["first"]


def test_two_mails_of_a_new_sender_processed_at_once_make_two_tickets_for_one_contact(
    app, support, database_url, tmp_path, monkeypatch
):
    with monkeypatch.context() as stored_only:  # stored, left for the two workers below
        stored_only.setattr(jobs, "enqueue", lambda *args, **kwargs: None)
        rows = [
            intake.receive(
                make_mail(subject=f"Order {n} never came", sender="Mai <mai.tran@example.net>"),
                "pipe",
            ).inbound.id
            for n in (1, 2)
        ]
    start = threading.Barrier(2, timeout=60)

    def worker(inbound_id: int):
        def work() -> None:
            start.wait()
            intake.process(inbound_id)

        return work

    _in_threads(database_url, tmp_path, *(worker(i) for i in rows))

    session().expire_all()
    tickets = list(session().scalars(select(Ticket).order_by(Ticket.id)))
    assert len(tickets) == 2
    assert len(_contacts("mai.tran@example.net")) == 1
    assert {t.requester_id for t in tickets} == set(_contacts("mai.tran@example.net"))
    statuses = session().scalars(select(InboundMail.status).where(InboundMail.id.in_(rows)))
    assert {s.value for s in statuses} == {"processed"}
