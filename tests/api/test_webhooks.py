"""Outgoing webhooks against a real HTTP receiver on loopback: signed per Standard Webhooks,
written with the change, retried with the same id, never redirected, guarded against SSRF."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select
from standardwebhooks import Webhook

from flask_helpdesk import signals
from flask_helpdesk.models import WebhookDelivery, WebhookEndpoint, utcnow
from flask_helpdesk.services import ValidationError, tickets, webhooks
from flask_helpdesk.services.base import session
from flask_helpdesk.services.identity import SYSTEM
from tests.api.conftest import open_as
from tests.conftest import count_queries


class Receiver:
    """A tiny HTTP server: records what it gets, answers as told (status, delay, redirect)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.status = 204
        self.delay = 0.0
        self.location: str | None = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append((self.path, dict(self.headers), body))
                time.sleep(receiver.delay)
                self.send_response(receiver.status)
                if receiver.location:
                    self.send_header("Location", receiver.location)
                answer = b"x" * 5000 if receiver.status >= 500 else b"ok"
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver(app):
    app.extensions["helpdesk"].config["HELPDESK_WEBHOOK_ALLOW_PRIVATE"] = True
    server = Receiver()
    yield server
    server.server.shutdown()
    server.server.server_close()


def delivery() -> WebhookDelivery:
    session().expire_all()
    return session().scalar(select(WebhookDelivery).order_by(WebhookDelivery.id.desc()))


def test_signature_matches_the_standard_webhooks_example():
    signature = webhooks.sign(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        '{"test": 2432232314}',
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_outbox_row_is_one_insert_in_the_changes_transaction(app, departments, lan):
    for _ in range(3):
        webhooks.create_endpoint(SYSTEM, "https://example.com/a", ["ticket.created"])
    webhooks.create_endpoint(SYSTEM, "https://example.com/b", ["message.created"])
    with count_queries(app) as statements:
        open_as(lan, departments["account"])
    inserts = [s for s in statements if "INSERT INTO helpdesk_webhook_delivery" in s]
    assert len(inserts) == 1
    assert session().scalar(select(func.count()).select_from(WebhookDelivery)) == 3
    # A refused change writes no delivery.
    with pytest.raises(ValidationError):
        open_as(lan, departments["account"], subject="")
    assert session().scalar(select(func.count()).select_from(WebhookDelivery)) == 3


def test_delivery_is_signed_so_the_receiver_can_verify_it(app, departments, lan, receiver):
    endpoint = webhooks.create_endpoint(SYSTEM, receiver.url)
    ticket = open_as(lan, departments["account"], "Printer on fire")
    assert webhooks.deliver_due() == 1
    assert delivery().status == "delivered" and delivery().response_status == 204
    _path, headers, body = receiver.requests[0]
    payload = Webhook(endpoint.secret).verify(body, headers)
    assert payload["type"] == "ticket.created"
    assert payload["data"]["ticket"]["code"] == ticket.code
    with pytest.raises(Exception, match=r"(?i)signature"):
        Webhook(endpoint.secret).verify(body + b" ", headers)


def test_a_failure_is_retried_later_with_the_same_id(app, departments, lan, receiver):
    webhooks.create_endpoint(SYSTEM, receiver.url)
    open_as(lan, departments["account"])
    receiver.status = 500
    before = utcnow()
    webhooks.deliver_due()
    failed = delivery()
    assert failed.status == "pending" and failed.attempts == 1
    assert failed.response_status == 500 and len(failed.response_body) == 2000
    wait = (failed.next_attempt_at - before).total_seconds()
    assert 5 <= wait <= 5 * 1.1 + 5
    assert webhooks.deliver_due() == 0  # not due yet
    failed.next_attempt_at = utcnow() - timedelta(seconds=1)
    session().commit()
    receiver.status = 200
    assert webhooks.deliver_due() == 1
    assert delivery().status == "delivered"
    ids = {headers["webhook-id"] for _p, headers, _b in receiver.requests}
    assert len(receiver.requests) == 2 and len(ids) == 1


def test_a_slow_receiver_times_out_and_is_retried(app, departments, lan, receiver):
    app.extensions["helpdesk"].config["HELPDESK_WEBHOOK_TIMEOUT"] = 0.3
    webhooks.create_endpoint(SYSTEM, receiver.url)
    open_as(lan, departments["account"])
    receiver.delay = 1.5
    webhooks.deliver_due()
    slow = delivery()
    assert slow.status == "pending" and slow.attempts == 1
    assert "timed out" in slow.error.lower() or "timeout" in slow.error.lower()


def test_redirects_are_not_followed(app, departments, lan, receiver):
    webhooks.create_endpoint(SYSTEM, receiver.url)
    open_as(lan, departments["account"])
    receiver.status, receiver.location = 302, receiver.url.replace("/hook", "/elsewhere")
    webhooks.deliver_due()
    assert delivery().status == "pending" and delivery().response_status == 302
    assert [p for p, _h, _b in receiver.requests] == ["/hook"]


def test_loopback_and_private_receivers_are_refused_by_default(app, departments, lan, receiver):
    app.extensions["helpdesk"].config["HELPDESK_WEBHOOK_ALLOW_PRIVATE"] = False
    webhooks.create_endpoint(SYSTEM, receiver.url)
    webhooks.create_endpoint(SYSTEM, "http://169.254.169.254/latest/meta-data")
    webhooks.create_endpoint(SYSTEM, "http://[::ffff:10.0.0.1]/x")
    open_as(lan, departments["account"])
    webhooks.deliver_due()
    rows = session().scalars(select(WebhookDelivery)).all()
    assert len(rows) == 3 and all("non-public" in r.error for r in rows)
    assert receiver.requests == []


def test_an_endpoint_failing_n_times_in_a_row_is_switched_off(
    app, departments, lan, receiver, admin
):
    app.extensions["helpdesk"].config["HELPDESK_WEBHOOK_DISABLE_AFTER"] = 3
    app.extensions["helpdesk"].config["HELPDESK_WEBHOOK_DISABLE_AFTER_HOURS"] = 0
    endpoint = webhooks.create_endpoint(SYSTEM, receiver.url)
    receiver.status = 503
    heard = []
    with (
        signals.webhook_disabled.connected_to(lambda sender, endpoint: heard.append(endpoint)),
        app.extensions["mail"].record_messages() as outbox,
    ):
        for _ in range(3):
            open_as(lan, departments["account"])
            webhooks.deliver_due()
    session().expire_all()
    endpoint = session().get(WebhookEndpoint, endpoint.id)
    assert not endpoint.is_active and endpoint.consecutive_failures == 3
    assert [e.id for e in heard] == [endpoint.id]
    [notice] = [m for m in outbox if m.recipients == ["admin@example.com"]]
    assert receiver.url in notice.body and "switched off" in notice.subject
    open_as(lan, departments["account"])
    assert session().scalar(select(func.count()).select_from(WebhookDelivery)) == 3


def test_a_burst_during_a_short_outage_does_not_switch_the_endpoint_off(
    app, departments, lan, receiver
):
    """Many failed attempts within minutes (a deploy while events pour in) keep the endpoint
    on; only a run that is also a day long switches it off, and one success ends a run."""
    config = app.extensions["helpdesk"].config
    config["HELPDESK_WEBHOOK_DISABLE_AFTER"] = 3
    config["HELPDESK_WEBHOOK_DISABLE_AFTER_HOURS"] = 24
    endpoint_id = webhooks.create_endpoint(SYSTEM, receiver.url).id
    receiver.status = 503
    for _ in range(5):
        open_as(lan, departments["account"])
        webhooks.deliver_due()

    def stored() -> WebhookEndpoint:
        session().expire_all()
        return session().get(WebhookEndpoint, endpoint_id)

    assert stored().is_active and stored().consecutive_failures == 5
    assert stored().failing_since is not None
    receiver.status = 200  # back up: the run ends
    open_as(lan, departments["account"])
    webhooks.deliver_due()
    assert stored().consecutive_failures == 0 and stored().failing_since is None
    receiver.status = 503  # down again, and this time for more than a day
    for _ in range(3):
        open_as(lan, departments["account"])
        webhooks.deliver_due()
    assert stored().is_active
    endpoint = stored()
    endpoint.failing_since -= timedelta(hours=25)
    session().commit()
    open_as(lan, departments["account"])
    webhooks.deliver_due()
    endpoint = stored()
    assert not endpoint.is_active and "failures in a row since" in endpoint.disabled_reason


def test_gives_up_after_the_retry_schedule(app, departments, lan, receiver):
    webhooks.create_endpoint(SYSTEM, receiver.url)
    open_as(lan, departments["account"])
    receiver.status = 500
    row = delivery()
    row.attempts = len(webhooks.RETRY_DELAYS)
    session().commit()
    webhooks.deliver_due()
    assert delivery().status == "failed"
    assert sum(webhooks.RETRY_DELAYS) >= 24 * 3600  # about a day of retries


def test_two_senders_never_send_the_same_delivery_twice(app, departments, lan, receiver):
    webhooks.create_endpoint(SYSTEM, receiver.url)
    open_as(lan, departments["account"])
    row_id = delivery().id
    assert webhooks.send_delivery(row_id) == "delivered"
    assert webhooks.send_delivery(row_id) is None
    assert len(receiver.requests) == 1


def test_manual_redelivery_through_the_api_keeps_the_id(app, departments, lan, receiver, admin_api):
    created = admin_api.post("/webhooks", json={"url": receiver.url, "events": ["ticket.closed"]})
    assert created.status_code == 201 and created.json["secret"].startswith("whsec_")
    ticket = open_as(lan, departments["account"])
    tickets.close_ticket(lan, ticket)
    webhooks.deliver_due()
    log = admin_api.get(f"/webhooks/{created.json['id']}/deliveries").json["items"]
    assert [d["status"] for d in log] == ["delivered"]
    again = admin_api.post(f"/webhook-deliveries/{log[0]['id']}/redeliver")
    assert again.status_code == 202 and again.json["status"] == "pending"
    webhooks.deliver_due()
    ids = [headers["webhook-id"] for _p, headers, _b in receiver.requests]
    assert len(ids) == 2 and ids[0] == ids[1]
    assert json.loads(receiver.requests[0][2])["type"] == "ticket.closed"


def test_only_admins_manage_webhooks(app, agent_api):
    assert agent_api.get("/webhooks").status_code == 403
    assert agent_api.post("/webhooks", json={"url": "https://example.com/x"}).status_code == 403
