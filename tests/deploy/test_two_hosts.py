"""Two web processes and two workers on one machine, as two hosts would run them: different ports,
one PostgreSQL, one Redis, the S3 server, the real SMTP test server. A ticket walks from web A
(with an attachment) through a worker (the staff notification) and the mail hook on web B (the
customer's reply) back to web A, and the attachment comes out of web B from S3.

The walk prints how long each step took (wall time, one line a step, shown by ``pytest -s``;
docs/deployment.rst keeps a run's figures). Nothing is asserted on them: the machine is shared.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from flask_helpdesk.services.agents import make_agent
from tests.conftest import DATABASE_URL_VARIABLE, REDIS_URL_VARIABLE, csrf_from, make_member
from tests.deploy.conftest import S3_KEYS, bucket_keys, free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
WAIT_SECONDS = 90  # the machine may be loaded: generous, and only the failure waits this long


class Steps:
    """Wall time of each step since the previous one, printed as it ends."""

    def __init__(self, what: str) -> None:
        load = " ".join(f"{n:.1f}" for n in os.getloadavg())
        print(f"\n{what} (wall ms; load average {load})", flush=True)
        self.began = self.last = time.perf_counter()

    def done(self, step: str) -> None:
        now = time.perf_counter()
        print(f"  {step:<58} {(now - self.last) * 1000:>8.0f} ms", flush=True)
        self.last = now

    def total(self) -> None:
        load = " ".join(f"{n:.1f}" for n in os.getloadavg())
        total = (time.perf_counter() - self.began) * 1000
        print(f"  {'total':<58} {total:>8.0f} ms  (load average {load})", flush=True)


def workers_listening(redis_url: str, queue: str) -> int:
    from redis import Redis
    from rq import Queue, Worker

    with Redis.from_url(redis_url) as connection:
        return Worker.count(queue=Queue(queue, connection=connection))


def worker_started(logs: Path, name: str) -> bool:
    return "helpdesk worker on queue" in (logs / f"worker-{name}.log").read_text()


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def eventually(what: str, check, logs: Path):
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {WAIT_SECONDS} s\n{log_tails(logs)}")
        time.sleep(0.2)


def log_tails(logs: Path) -> str:
    """What the processes said last (their files go with the test's temporary folder)."""
    tails = []
    for path in sorted(logs.glob("*.log")):
        lines = [line for line in path.read_text().splitlines() if '"DEBUG"' not in line]
        tails.append(f"--- {path.name}\n" + "\n".join(lines[-15:]))
    return "\n".join(tails)


@pytest.fixture
def two_hosts(app, departments, smtp, s3_server, s3_bucket, tmp_path) -> Iterator[dict]:
    database_url = os.environ.get(DATABASE_URL_VARIABLE, "")
    redis_url = os.environ.get(REDIS_URL_VARIABLE)
    if not database_url.startswith("postgresql"):
        pytest.skip(f"set {DATABASE_URL_VARIABLE} to a PostgreSQL URL for the two-host walk")
    if not redis_url:
        pytest.skip(f"set {REDIS_URL_VARIABLE} for the two-host walk (jobs on RQ)")
    make_agent(str(make_member("Sara", "sara@shop.example.com").id), ["billing"])
    make_member("Lan Nguyen", "lan@example.com")
    billing_id = departments["billing"].id
    app.extensions["helpdesk"].db.session.remove()  # nothing held open under the processes
    token = uuid.uuid4().hex
    queue = f"two-hosts-{uuid.uuid4().hex[:8]}"
    ports = {"a": free_port(), "b": free_port()}
    base_env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "FLASK_APP": "tests.deploy.two_hosts_app:app",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "two-hosts-one-secret",  # hosts behind one balancer share it
        "HELPDESK_EXTERNAL_URL": f"http://127.0.0.1:{ports['a']}",
        "TWO_HOSTS_SMTP_PORT": str(smtp.port),
        "TWO_HOSTS_MAIL_TOKEN": token,
        "TWO_HOSTS_QUEUE": queue,
        "TWO_HOSTS_BUCKET": s3_bucket,
        "TWO_HOSTS_S3": s3_server,
        "AWS_ACCESS_KEY_ID": S3_KEYS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": S3_KEYS["aws_secret_access_key"],
    }
    logs = tmp_path / "logs"
    logs.mkdir()
    steps = Steps("two-host walk: start-up")
    with ExitStack() as cleanup:
        for name, port in ports.items():
            env = {**base_env, "TWO_HOSTS_LOCAL_FOLDER": str(tmp_path / f"web-{name}")}
            log = cleanup.enter_context((logs / f"web-{name}.log").open("wb"))
            web = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "--workers",
                    "1",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--timeout",
                    "120",
                    "tests.deploy.two_hosts_app:app",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            cleanup.callback(stop, web)
            wait_for_port(port, web, f"web {name}", seconds=WAIT_SECONDS)
            steps.done(f"web {name.upper()}: gunicorn's port open")
        for name in ("1", "2"):
            env = {**base_env, "TWO_HOSTS_LOCAL_FOLDER": str(tmp_path / f"worker-{name}")}
            log = cleanup.enter_context((logs / f"worker-{name}.log").open("wb"))
            worker = subprocess.Popen(
                [sys.executable, "-m", "flask", "helpdesk", "worker"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            cleanup.callback(stop, worker)
        eventually("two workers' apps", lambda: all(worker_started(logs, n) for n in "12"), logs)
        steps.done("workers 1 and 2: app loaded, worker made")
        eventually("two workers", lambda: workers_listening(redis_url, queue) >= 2, logs)
        steps.done("workers 1 and 2: warmed up, waiting on the queue")
        steps.total()
        yield {
            "a": f"http://127.0.0.1:{ports['a']}",
            "b": f"http://127.0.0.1:{ports['b']}",
            "token": token,
            "logs": logs,
            "billing_id": billing_id,
        }


def test_a_ticket_walks_across_two_web_processes_and_two_workers(
    two_hosts, smtp, s3_server, s3_bucket
):
    import requests

    web_a, web_b = two_hosts["a"], two_hosts["b"]
    browser = requests.Session()  # one browser; the balancer sends it to A, then to B
    steps = Steps("two-host walk: the ticket")

    # Web A: log in, open a ticket with an attachment.
    page = browser.get(f"{web_a}/login", timeout=60)
    login = browser.post(
        f"{web_a}/login",
        data={"csrf_token": csrf_from(page.text), "email": "lan@example.com", "password": "secret"},
        timeout=60,
    )
    assert login.ok
    steps.done("web A: customer logs in (GET + POST)")
    form = browser.get(f"{web_a}/support/new", timeout=60)
    assert form.status_code == 200, form.status_code
    content = b"%PDF-1.4 receipt " + os.urandom(3000)
    created = browser.post(
        f"{web_a}/support/new",
        data={
            "csrf_token": csrf_from(form.text),
            "department_id": str(two_hosts["billing_id"]),
            "subject": "Charged twice",
            "priority": "1",
            "body": "My card was charged twice for order 1042.",
        },
        files={"attachments": ("receipt.pdf", content, "application/pdf")},
        allow_redirects=False,
        timeout=60,
    )
    assert created.status_code == 302, created.text[:500]
    ticket_path = created.headers["Location"]
    code = re.search(r"/tickets/([A-Z0-9-]+)", ticket_path).group(1)
    request_id = created.headers["X-Request-ID"]
    steps.done("web A: ticket opened with a 3 kB attachment (GET + POST)")
    assert any(key.endswith(".pdf") or "/" in key for key in bucket_keys(s3_server, s3_bucket))

    # A worker sends the staff notification through the SMTP server.
    logs = two_hosts["logs"]
    staff = eventually("staff notification", lambda: smtp.to("sara@shop.example.com"), logs)
    steps.done("worker: staff notification at the SMTP server")
    assert code in staff[0].message["Subject"]
    # The worker's log lines for that job carry the id of the request that queued it.
    worker_logs = "".join(p.read_text() for p in logs.glob("worker-*.log"))
    assert request_id in worker_logs

    # Web B: the customer's reply arrives by the mail hook. Unverified senders thread by our
    # signed Message-IDs only: the reply answers the ticket's mail, as a mail client's does.
    answered = (smtp.to("lan@example.com") or staff)[0].message["Message-ID"]
    reply = (
        "From: Lan Nguyen <lan@example.com>\r\n"
        "To: support@shop.example.com\r\n"
        f"Subject: Re: [{code}] Charged twice\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@example.com>\r\n"
        f"In-Reply-To: {answered}\r\n"
        f"References: {answered}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        "Here is the bank statement line: 2 x 49.00 EUR.\r\n"
    ).encode()
    hook = requests.post(
        f"{web_b}/support/hooks/mail",
        data=reply,
        headers={"Authorization": f"Bearer {two_hosts['token']}", "Content-Type": "message/rfc822"},
        timeout=60,
    )
    assert hook.status_code == 202, hook.text
    steps.done("web B: customer's mailed reply accepted by the hook")

    # Web A shows it once a worker filed it.
    eventually(
        "the mailed reply on web A",
        lambda: "2 x 49.00 EUR" in browser.get(f"{web_a}{ticket_path}", timeout=60).text,
        logs,
    )
    steps.done("worker files the reply; web A shows it")

    # Web B serves the attachment from S3 to the same browser, through the checked route.
    page_b = browser.get(f"{web_b}{ticket_path}", timeout=60).text
    (link,) = set(re.findall(r'href="(/support/tickets/[^"]+/files/[^"]+)"', page_b))
    download = browser.get(f"{web_b}{link}", timeout=60)
    assert download.status_code == 200
    steps.done("web B: ticket page + attachment from S3")
    assert download.content == content
    assert download.headers["Content-Disposition"].startswith("attachment")
    # And a stranger gets nothing from web B.
    assert requests.get(f"{web_b}{link}", allow_redirects=False, timeout=60).status_code in (
        302,
        401,
        403,
        404,
    )
    steps.total()
