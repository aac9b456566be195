"""The demo host app as the load test serves it (``bench/load.py`` starts gunicorn and the RQ
workers on ``bench.load_app:app``). Everything comes from the environment the script sets:

``DATABASE_URL`` and ``REDIS_URL`` (the example app reads them), ``LOAD_MAIL_TOKEN`` (the mail
webhook's secret) and ``LOAD_QUEUE_NAME`` (the RQ queue, so a run never shares one).
"""

from __future__ import annotations

import os

from example_app import create_app


def no_dns(name: str, timeout: float) -> None:
    # Loopback only: the mail webhook's sender checks find no DNS records instead of asking
    # the network (a real deployment leaves HELPDESK_MAIL_DNS_RESOLVER unset).
    return None


app = create_app(
    {
        "MAIL_SUPPRESS_SEND": True,
        "HELPDESK_INBOUND_MAIL_TOKEN": os.environ.get("LOAD_MAIL_TOKEN"),
        # The mails come from one address (the load generator's): 20 a second is 1,200 a
        # minute, above the default per-client limit meant for the open internet.
        "HELPDESK_INBOUND_WEBHOOK_RATE_LIMIT": None,
        "HELPDESK_MAIL_DNS_RESOLVER": no_dns,
        "HELPDESK_MAIL_DEFAULT_DEPARTMENT": "other",
        "HELPDESK_QUEUE_NAME": os.environ.get("LOAD_QUEUE_NAME", "helpdesk"),
        "HELPDESK_STORAGE_PATH": os.environ.get("LOAD_STORAGE_PATH"),
    }
)
