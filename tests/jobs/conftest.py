"""Fixtures for background work: a real SMTP server (aiosmtpd) that keeps what it receives,
apps wired to it (inline jobs, or RQ on the real Redis), and a recording SMS sender."""

from __future__ import annotations

import email
import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from flask import Flask

from tests.conftest import REDIS_URL_VARIABLE, clean_tables, helpdesk, make_test_app

EXTERNAL_URL = "https://shop.example.com/app"


@dataclass
class Delivered:
    """One message as the SMTP server received it."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes = b""  # the bytes as they arrived

    def part(self, content_type: str) -> str:
        body = self.message.get_body(preferencelist=(content_type.split("/")[1],))
        assert body is not None and body.get_content_type() == content_type, content_type
        return body.get_content()

    @property
    def text(self) -> str:
        return self.part("text/plain")

    @property
    def html(self) -> str:
        return self.part("text/html")


@dataclass
class SmtpServer:
    """Keeps every message it accepts; answers ``reject_with`` (e.g. a 451) when set."""

    host: str = "127.0.0.1"
    port: int = 0
    messages: list[Delivered] = field(default_factory=list)
    reject_with: str | None = None

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.reject_with:
            return self.reject_with
        message = email.message_from_bytes(envelope.original_content, policy=policy.default)
        self.messages.append(
            Delivered(
                envelope.mail_from, list(envelope.rcpt_tos), message, envelope.original_content
            )
        )
        return "250 OK"

    def to(self, address: str) -> list[Delivered]:
        return [m for m in self.messages if address in m.rcpt_tos]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(port=free_port())
    controller = Controller(server, hostname=server.host, port=server.port)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


def mail_config(smtp: SmtpServer) -> dict:
    return {
        "MAIL_SERVER": smtp.host,
        "MAIL_PORT": smtp.port,
        "MAIL_USE_TLS": False,
        "MAIL_USE_SSL": False,
        "MAIL_SUPPRESS_SEND": False,
        "MAIL_DEFAULT_SENDER": "support@shop.example.com",
        "HELPDESK_EXTERNAL_URL": EXTERNAL_URL,
    }


@pytest.fixture
def sms_sent() -> Iterator[list[tuple[str, str]]]:
    """The SMS gateway is the edge of the world: a recording sender stands in for it."""
    sent: list[tuple[str, str]] = []
    previous = helpdesk._sms_sender
    helpdesk.sms_sender(lambda phone, text: sent.append((phone, text)))
    try:
        yield sent
    finally:
        helpdesk._sms_sender = previous


@pytest.fixture
def app(_schema, database_url: str, tmp_path, smtp: SmtpServer) -> Iterator[Flask]:
    """The demo host with Flask-Mail talking to the test SMTP server; jobs inline."""
    app = make_test_app(database_url, tmp_path, **mail_config(smtp))
    with app.app_context():
        try:
            yield app
        finally:
            clean_tables(app)


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get(REDIS_URL_VARIABLE)
    if not url:
        pytest.skip(f"set {REDIS_URL_VARIABLE} to run the RQ tests against a real Redis")
    return url


@pytest.fixture
def rq_app(
    _schema, database_url: str, tmp_path, smtp: SmtpServer, redis_url: str
) -> Iterator[Flask]:
    """Jobs go to RQ on the real Redis, on a queue of this test's own (tests run in parallel
    sessions on one Redis). Retries: 2, one second apart."""
    queue_name = f"helpdesk-test-{uuid.uuid4().hex[:12]}"
    app = make_test_app(
        database_url,
        tmp_path,
        HELPDESK_REDIS_URL=redis_url,
        HELPDESK_QUEUE_NAME=queue_name,
        HELPDESK_JOB_RETRIES=2,
        HELPDESK_JOB_RETRY_INTERVALS=(1,),
        **mail_config(smtp),
    )
    with app.app_context():
        queue = app.extensions["helpdesk"].dispatcher.queue
        try:
            yield app
        finally:
            clean_tables(app)
            queue.empty()
            for registry in (
                queue.failed_job_registry,
                queue.finished_job_registry,
                queue.scheduled_job_registry,
                queue.started_job_registry,
            ):
                for job_id in registry.get_job_ids():
                    registry.remove(job_id, delete_job=True)
            queue.delete(delete_jobs=True)
            # The helpdesk's own keys (the drains' of jobs.JobDispatcher, the scheduler's sweep
            # locks) and RQ's set of the queue's workers are named after the queue: this test's.
            leftovers = [f"rq:workers:{queue_name}"]
            for pattern in (
                f"helpdesk:drain:{queue_name}:*",
                f"helpdesk:sweep-lock:{queue_name}:*",
            ):
                leftovers.extend(queue.connection.scan_iter(pattern))
            queue.connection.delete(*leftovers)
