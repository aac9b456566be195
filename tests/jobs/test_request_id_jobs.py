"""The request id follows a request's jobs to the worker: the job carries it, and the worker's log
lines for that job show it."""

from __future__ import annotations

import logging

from flask_helpdesk.jobs import make_worker
from tests.conftest import client_for
from tests.views.test_portal_security import post_new


def test_jobs_queued_by_a_request_log_under_its_id(rq_app, departments, customer, caplog):
    client = client_for(rq_app, customer)
    response = post_new(client, departments)
    assert response.status_code == 302
    queue = rq_app.extensions["helpdesk"].dispatcher.queue
    jobs = queue.get_jobs()
    assert jobs, "creating a ticket queues its notifications"
    request_id = jobs[0].meta["request_id"]
    assert len(request_id) == 32
    assert {job.meta["request_id"] for job in jobs} == {request_id}

    with caplog.at_level(logging.DEBUG):
        make_worker(rq_app).work(burst=True, with_scheduler=False)
    during_jobs = [r for r in caplog.records if r.request_id == request_id]
    assert during_jobs, [(r.name, r.request_id, r.getMessage()) for r in caplog.records][:20]
    assert caplog.records[-1].request_id in ("-", request_id)
