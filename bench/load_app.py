"""The demo host app as the load test serves it (``bench/load.py`` starts gunicorn and the RQ
workers on ``bench.load_app:app``). Everything comes from the environment the script sets:

``DATABASE_URL`` and ``REDIS_URL`` (the example app reads them), ``LOAD_MAIL_TOKEN`` (the mail
webhook's secret), ``LOAD_QUEUE_NAME`` (the RQ queue, so a run never shares one) and
``LOAD_SERVER_LOG`` (where each web worker writes what each request cost it, see
:class:`ServerTimes`).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from example_app import create_app

PAGE_HEADER = "HTTP_X_LOAD_PAGE"  # the page's name in the figures (bench/locustfile.py sends it)


def no_dns(name: str, timeout: float) -> None:
    # Loopback only: the mail webhook's sender checks find no DNS records instead of asking
    # the network (a real deployment leaves HELPDESK_MAIL_DNS_RESOLVER unset).
    return None


class ServerTimes:
    """WSGI middleware: per request, the CPU time of this worker process, the wall time inside
    the worker, and the SQL statements and time spent waiting for them, one JSON line appended
    to ``LOAD_SERVER_LOG`` when the request ends.

    What Locust sees on a loaded machine is mostly the wait for a free worker and for a core;
    these figures say what each page costs the server itself (gunicorn's sync workers run one
    request at a time, so the process's CPU time over the request is that request's). One
    ``write`` of a short line per request in append mode: lines of several workers do not mix.
    """

    def __init__(self, app: Callable, path: str) -> None:
        self.app = app
        self.path = path
        self.statements = 0
        self.sql_seconds = 0.0
        self._started: list[float] = []
        event.listen(Engine, "before_cursor_execute", self._before)
        event.listen(Engine, "after_cursor_execute", self._after)

    def _before(self, *_args: Any) -> None:
        self._started.append(time.perf_counter())

    def _after(self, *_args: Any) -> None:
        self.statements += 1
        if self._started:
            self.sql_seconds += time.perf_counter() - self._started.pop()

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        cpu, wall = time.process_time(), time.perf_counter()
        self.statements, self.sql_seconds, self._started = 0, 0.0, []
        try:
            # The body is read here, inside the timed part (Flask answers with a list).
            return list(self.app(environ, start_response))
        finally:
            line = {
                "page": environ.get(PAGE_HEADER) or environ.get("PATH_INFO", ""),
                "cpu": (time.process_time() - cpu) * 1000,
                "wall": (time.perf_counter() - wall) * 1000,
                "sql": self.sql_seconds * 1000,
                "statements": self.statements,
            }
            with open(self.path, "a") as log:
                log.write(json.dumps(line) + "\n")


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
# gunicorn imports this module once, before it forks its workers (--preload): templates
# compiled here are every worker's without compiling (about 0.6 s of CPU for all of them; a
# worker's first queue page took 173 ms of CPU instead of 30, and 74 with them compiled).
for _name in app.jinja_env.list_templates(extensions=["html", "txt"]):
    app.jinja_env.get_template(_name)
if os.environ.get("LOAD_SERVER_LOG"):
    app.wsgi_app = ServerTimes(app.wsgi_app, os.environ["LOAD_SERVER_LOG"])  # type: ignore[method-assign]
