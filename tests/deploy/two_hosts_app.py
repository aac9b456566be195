"""The demo host app as tests/deploy/test_two_hosts.py serves it from gunicorn and runs its RQ
workers: everything from the environment the test sets (``DATABASE_URL`` and ``REDIS_URL`` are
the example app's own; ``TWO_HOSTS_*`` are this test's)."""

from __future__ import annotations

import os

from example_app import create_app


def no_dns(name: str, timeout: float) -> None:
    return None  # loopback only: the mail hook's sender checks ask no DNS server


env = os.environ.get
app = create_app(
    {
        "MAIL_SUPPRESS_SEND": False,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": int(env("TWO_HOSTS_SMTP_PORT", "25")),
        "MAIL_DEFAULT_SENDER": "support@shop.example.com",
        "HELPDESK_INBOUND_MAIL_TOKEN": env("TWO_HOSTS_MAIL_TOKEN"),
        "HELPDESK_MAIL_DNS_RESOLVER": no_dns,
        "HELPDESK_QUEUE_NAME": env("TWO_HOSTS_QUEUE", "helpdesk"),
        "HELPDESK_STORAGE_BACKEND": "s3",
        "HELPDESK_S3_BUCKET": env("TWO_HOSTS_BUCKET"),
        "HELPDESK_S3_ENDPOINT_URL": env("TWO_HOSTS_S3"),
        "HELPDESK_S3_REGION": "us-east-1",
        "HELPDESK_LOG_FORMAT": "json",
        # Each process's own folder, so a file read from the wrong place would be missing.
        "HELPDESK_STORAGE_PATH": env("TWO_HOSTS_LOCAL_FOLDER"),
    }
)
