"""The webhook and the stdin pipe feed the same intake; a killed worker loses nothing."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from flask_helpdesk.models import InboundMail, InboundStatus, Message, Ticket
from flask_helpdesk.services.base import session
from tests.mail.conftest import make_mail

TOKEN = "hook-secret-0123456789"


def count(model) -> int:
    session().expire_all()
    return session().scalar(select(func.count()).select_from(model))


@pytest.fixture
def hook_app(app, support):
    app.extensions["helpdesk"].config["HELPDESK_INBOUND_MAIL_TOKEN"] = TOKEN
    return app


def post(app, body: bytes, token: str | None = TOKEN, **kwargs):
    headers = {"Content-Type": "message/rfc822"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return app.test_client().post("/support/hooks/mail", data=body, headers=headers, **kwargs)


def test_webhook_stores_and_processes_a_mail(hook_app):
    response = post(hook_app, make_mail(subject="Via provider"))
    assert response.status_code == 202
    assert response.json["duplicate"] is False
    assert session().scalar(select(Ticket.subject)) == "Via provider"


@pytest.mark.parametrize(
    ("shape", "field"),
    [("form", "body-mime"), ("form", "email"), ("file", "message"), ("json", "RawEmail")],
)
def test_webhook_takes_the_raw_mail_from_provider_fields(hook_app, shape, field):
    """Providers that post a form (Mailgun, SendGrid) or JSON (Postmark) with the raw mail."""
    raw = make_mail(subject="Đơn hàng chưa tới", body="Xin chào, đơn hàng của tôi chưa tới.")
    client = hook_app.test_client()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    if shape == "form":
        response = client.post(
            "/support/hooks/mail", data={field: raw.decode(), "sender": "x"}, headers=headers
        )
    elif shape == "file":
        data = {field: (io.BytesIO(raw), "message.eml")}
        response = client.post("/support/hooks/mail", data=data, headers=headers)
    else:
        response = client.post("/support/hooks/mail", json={field: raw.decode()}, headers=headers)
    assert response.status_code == 202, response.get_data(as_text=True)
    ticket = session().scalar(select(Ticket))
    assert ticket.subject == "Đơn hàng chưa tới"
    messages = session().scalars(select(Message).where(Message.ticket_id == ticket.id)).all()
    assert messages[0].body == "Xin chào, đơn hàng của tôi chưa tới."


def test_webhook_without_a_mail_in_the_form_is_refused(hook_app):
    response = hook_app.test_client().post(
        "/support/hooks/mail", data={"subject": "only fields"}, headers={"X-Helpdesk-Token": TOKEN}
    )
    assert response.status_code == 400
    assert count(InboundMail) == 0


def test_webhook_is_off_without_a_configured_token(app, support):
    assert post(app, make_mail()).status_code == 404
    assert count(InboundMail) == 0


def test_webhook_refuses_missing_and_wrong_tokens(hook_app):
    missing = post(hook_app, make_mail(), token=None)
    assert missing.status_code == 401
    assert "Bearer" in missing.headers["WWW-Authenticate"]
    assert post(hook_app, make_mail(), token="guess").status_code == 403
    assert count(InboundMail) == 0
    header_token = hook_app.test_client().post(
        "/support/hooks/mail", data=make_mail(), headers={"X-Helpdesk-Token": TOKEN}
    )
    assert header_token.status_code == 202


def test_webhook_refuses_oversized_mail(hook_app):
    hook_app.extensions["helpdesk"].config["HELPDESK_INBOUND_MAIL_MAX_SIZE"] = 2000
    response = post(hook_app, make_mail(body="x" * 5000))
    assert response.status_code == 413
    assert count(InboundMail) == 0


def test_webhook_is_rate_limited(hook_app):
    hook_app.extensions["helpdesk"].config["HELPDESK_INBOUND_WEBHOOK_RATE_LIMIT"] = "3/minute"
    codes = [post(hook_app, make_mail(subject=f"m{i}")).status_code for i in range(5)]
    assert codes.count(202) <= 3
    assert 429 in codes


def test_wrong_tokens_count_against_the_rate_limit(hook_app):
    """Guessing the secret costs requests: after the allowance, even the right token waits."""
    # A window of ~30 years: no boundary falls between the requests of this test.
    hook_app.extensions["helpdesk"].config["HELPDESK_INBOUND_WEBHOOK_RATE_LIMIT"] = (3, 10**9)
    guesser = {"environ_base": {"REMOTE_ADDR": "203.0.113.77"}}
    guesses = [post(hook_app, make_mail(), token=f"guess-{i}", **guesser) for i in range(3)]
    assert [r.status_code for r in guesses] == [403, 403, 403]
    assert post(hook_app, make_mail(), token="guess-4", **guesser).status_code == 429
    assert post(hook_app, make_mail(), **guesser).status_code == 429
    assert count(InboundMail) == 0
    other = post(hook_app, make_mail(), environ_base={"REMOTE_ADDR": "198.51.100.1"})
    assert other.status_code == 202  # the limit is the guesser's, not everyone's


def test_webhook_redelivery_is_a_duplicate(hook_app):
    raw = make_mail()
    post(hook_app, raw)
    again = post(hook_app, raw)
    assert again.status_code == 202
    assert again.json["duplicate"] is True
    assert count(Ticket) == 1


def test_ingest_mail_reads_stdin_and_exits_0(app, support):
    result = app.test_cli_runner().invoke(
        args=["helpdesk", "ingest-mail", "--department", "billing"],
        input=make_mail(subject="Piped"),
    )
    assert result.exit_code == 0, result.output
    ticket = session().scalar(select(Ticket))
    assert (ticket.subject, ticket.department.slug) == ("Piped", "billing")


def test_ingest_mail_refuses_oversized_mail_for_good(app, support):
    app.extensions["helpdesk"].config["HELPDESK_INBOUND_MAIL_MAX_SIZE"] = 1000
    result = app.test_cli_runner().invoke(
        args=["helpdesk", "ingest-mail"], input=make_mail(body="y" * 4000)
    )
    assert result.exit_code == 65


def _flask(*args: str) -> list[str]:
    return [sys.executable, "-m", "flask", "--app", "example_app:create_app", "helpdesk", *args]


def _env(database_url: str, **extra: str) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": database_url, **extra}
    env.pop("REDIS_URL", None)
    return env


def test_ingest_mail_exits_75_when_the_database_is_down(tmp_path):
    result = subprocess.run(
        _flask("ingest-mail"),
        input=make_mail(),
        env=_env(f"sqlite:///{tmp_path}/missing/dir/db.sqlite"),
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 75, result.stderr.decode()


def test_slow_mail_times_out_and_the_next_one_is_processed(app, support, monkeypatch):
    monkeypatch.setenv("HELPDESK_TESTING_HOOKS", "1")
    app.extensions["helpdesk"].config["HELPDESK_MAIL_PROCESS_TIMEOUT"] = 1
    from tests.mail.conftest import ingest

    slow = ingest(make_mail(subject="Slow", headers={"X-Helpdesk-Test-Sleep": "5"}))
    quick = ingest(make_mail(subject="Quick"))
    assert slow.status == InboundStatus.FAILED
    assert "longer than" in slow.reason
    assert quick.status == InboundStatus.PROCESSED


def test_a_worker_killed_mid_way_loses_nothing(app, support, database_url):
    """Kill the ingesting process after it stored the mail, while it processes: the mail is
    in the database, and the sweep turns it into exactly one ticket."""
    process = subprocess.Popen(
        _flask("ingest-mail"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(database_url, HELPDESK_TESTING_HOOKS="1"),
    )
    raw = make_mail(subject="Survives a crash", headers={"X-Helpdesk-Test-Sleep": "60"})
    process.stdin.write(raw)
    process.stdin.close()
    # The process says when it is in the middle of processing (the testing hook's pause):
    # the mail is stored and committed, its claim and whatever it posts are not.
    for line in process.stderr:
        if b"testing hook" in line:
            break
    else:
        raise AssertionError(f"the process ended: {process.wait()}")
    row = session().scalar(select(InboundMail))
    assert row is not None and row.status == InboundStatus.RECEIVED
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    session().rollback()
    assert count(Ticket) == 0

    # A sweep run later (cron, or the next fetch-mail) finishes the job, exactly once.
    app.extensions["helpdesk"].config["HELPDESK_MAIL_STALE_AFTER"] = 0
    runner = app.test_cli_runner()
    result = runner.invoke(args=["helpdesk", "process-mail", "--older-than", "0"])
    assert result.exit_code == 0, result.output
    assert "1 processed" in result.output
    assert runner.invoke(args=["helpdesk", "process-mail", "--older-than", "0"]).output == ""
    assert count(Ticket) == 1
    assert session().scalar(select(Ticket.subject)) == "Survives a crash"
