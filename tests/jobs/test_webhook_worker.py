"""Webhooks on the RQ path (real Redis): the change queues a job after commit; the request that
made the change never waits for the receiver; the worker sends the delivery."""

from __future__ import annotations

import pytest

from flask_helpdesk.jobs import make_worker
from flask_helpdesk.services import webhooks
from flask_helpdesk.services.identity import SYSTEM, contact_as_actor, sync_contact
from flask_helpdesk.services.tickets import NewTicket, open_ticket
from tests.api.test_webhooks import Receiver


@pytest.fixture
def app(rq_app):
    """Every fixture here (departments, customer) works on the RQ-backed app."""
    return rq_app


def test_the_worker_sends_what_the_change_queued(rq_app, departments, customer):
    rq_app.extensions["helpdesk"].config["HELPDESK_WEBHOOK_ALLOW_PRIVATE"] = True
    receiver = Receiver()
    receiver.delay = 2.0  # a slow receiver must not slow the change
    try:
        webhooks.create_endpoint(SYSTEM, receiver.url, ["ticket.created"])
        lan = contact_as_actor(sync_contact(customer))
        queue = rq_app.extensions["helpdesk"].dispatcher.queue
        queue.empty()
        open_ticket(lan, NewTicket(departments["billing"].id, "Refund", "Please"))
        names = [job.func_name for job in queue.get_jobs()]
        assert "flask_helpdesk.services.webhooks.deliver_due" in names
        assert receiver.requests == []  # queued, not sent while the change was made

        rq_app.extensions["helpdesk"].db.session.remove()
        make_worker(rq_app).work(burst=True, with_scheduler=False)

        [(_path, headers, _body)] = receiver.requests
        assert headers["webhook-id"].startswith("msg_")
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
