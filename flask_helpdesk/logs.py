"""The request id in log lines, and an optional JSON log format (``HELPDESK_LOG_FORMAT``).

Every log record made while a request (or a job it queued) runs carries ``record.request_id``
(``"-"`` outside one), whoever logs it: the helpdesk, the host, SQLAlchemy, RQ. A host's own
formatter may use ``%(request_id)s``; :class:`JsonFormatter` writes one JSON object per line.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

NO_REQUEST = "-"
# What a proxy's id may look like to be kept: no spaces, quotes or line breaks that could forge
# log lines or break a JSON field, and not longer than a log line needs.
WELL_FORMED = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/+=@-]{0,127}")
TEXT_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"

current_request_id: ContextVar[str] = ContextVar("helpdesk_request_id", default=NO_REQUEST)


def accept_or_make(given: str | None) -> str:
    """The proxy's id if it is well-formed, else a new random one (32 hex digits)."""
    if given and WELL_FORMED.fullmatch(given):
        return given
    return uuid.uuid4().hex


_factory_installed = False


def install_record_factory() -> None:
    """Give every log record of this process a ``request_id`` (once per process)."""
    global _factory_installed
    if _factory_installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.request_id = current_request_id.get()
        return record

    logging.setLogRecordFactory(factory)
    _factory_installed = True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, request_id,
    and the traceback as ``exception`` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", NO_REQUEST),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(log_format: str | None) -> None:
    """``"json"`` or ``"text"``: format the root logger's lines so (adding a handler on
    standard error if it has none). ``None``: the host's logging is left as it is."""
    if log_format is None:
        return
    formatter = JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
        if root.level == logging.WARNING:  # the untouched default: let INFO lines through
            root.setLevel(logging.INFO)
    for handler in root.handlers:
        handler.setFormatter(formatter)
