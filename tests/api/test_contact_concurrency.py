"""Two clients updating one contact with the same ``If-Match`` at the same moment: the second
waits for the first and is told the contact changed (412) instead of silently undoing it."""

from __future__ import annotations

import threading

import pytest

from flask_helpdesk.models import Contact
from flask_helpdesk.services import contacts
from flask_helpdesk.services.base import session
from flask_helpdesk.services.identity import SYSTEM
from tests.api.conftest import ApiClient, token_for
from tests.conftest import make_test_app


def test_second_writer_with_the_same_etag_is_refused_not_lost(
    app, departments, admin, lan, database_url, tmp_path
):
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only (row locks); set HELPDESK_TEST_DATABASE_URL")
    contact_id = lan.contact.id
    contacts.update_attributes(SYSTEM, lan.contact, {"plan": "free"})
    token = token_for(admin, scope="admin")
    path = f"/contacts/{contact_id}"
    etag = ApiClient(app, token).get(path).headers["ETag"]

    # The first writer: another process holding the row (locked, not yet committed).
    holder = make_test_app(database_url, tmp_path)
    other = make_test_app(database_url, tmp_path)
    results: dict[str, int] = {}
    errors: list[BaseException] = []

    def second_writer() -> None:
        try:
            with other.app_context():
                try:
                    response = ApiClient(other, token).patch(
                        path, json={"attributes": {"seats": 3}}, headers={"If-Match": etag}
                    )
                    results["status"] = response.status_code
                finally:
                    other.extensions["helpdesk"].db.session.remove()
        except BaseException as error:  # surfaced below
            errors.append(error)

    with holder.app_context():
        try:
            held = contacts.get_contact(SYSTEM, contact_id, for_update=True)
            thread = threading.Thread(target=second_writer)
            thread.start()
            thread.join(timeout=1.0)
            # Still waiting for the lock: without it the second writer would have passed the
            # ETag check and answered already.
            assert thread.is_alive() and not results
            contacts.update_attributes(SYSTEM, held, {"plan": "pro"})  # commits, unlocks
        finally:
            holder.extensions["helpdesk"].db.session.remove()
    thread.join(timeout=60)
    assert not thread.is_alive(), "the second writer never finished"
    assert not errors
    assert results["status"] == 412
    session().expire_all()
    assert session().get(Contact, contact_id).attributes == {"plan": "pro"}
