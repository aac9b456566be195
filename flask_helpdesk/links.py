"""Absolute links for mail and SMS, also where there is no request (an RQ worker).

The base is ``HELPDESK_EXTERNAL_URL`` when set (the address customers use, behind any proxy),
else Flask's ``SERVER_NAME`` with ``APPLICATION_ROOT`` and ``PREFERRED_URL_SCHEME``, else the
current request's own host. Prefer setting one of the first two: the request's Host header is
chosen by the client, and links in mail should not be.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import current_app, has_request_context, request
from werkzeug.routing import BuildError

from .models import Ticket

logger = logging.getLogger("flask_helpdesk.links")

DESK_TICKET_ENDPOINT = "helpdesk_desk.ticket"
PORTAL_TICKET_ENDPOINT = "helpdesk.ticket"


def base_url() -> tuple[str, str, str] | None:
    """``(scheme, host[:port], script_root)`` that links start with, or None if unknown."""
    configured = current_app.extensions["helpdesk"].config["HELPDESK_EXTERNAL_URL"]
    if configured:
        parts = urlsplit(configured if "//" in configured else f"https://{configured}")
        return parts.scheme or "https", parts.netloc, parts.path.rstrip("/")
    server_name = current_app.config.get("SERVER_NAME")
    if server_name:
        root = (current_app.config.get("APPLICATION_ROOT") or "/").rstrip("/")
        return current_app.config.get("PREFERRED_URL_SCHEME") or "http", server_name, root
    if has_request_context():
        return request.scheme, request.host, request.script_root.rstrip("/")
    return None


def external_url(endpoint: str, fallback_path: str | None = None, **values: object) -> str:
    """The absolute URL of *endpoint*.

    When the endpoint is not registered (a blueprint the host left out), *fallback_path* is
    appended to the base instead. Without any base (misconfigured worker) the link is
    relative and a warning is logged, rather than failing the whole notification.
    """
    base = base_url()
    path = fallback_path or "/"
    if endpoint in current_app.view_functions:
        try:
            if base is None:
                path = current_app.url_map.bind("localhost").build(endpoint, values)
            else:
                scheme, host, root = base
                adapter = current_app.url_map.bind(host, script_name=root or "/", url_scheme=scheme)
                return adapter.build(endpoint, values, force_external=True)
        except BuildError:
            logger.warning("helpdesk: cannot build %s%r; using %s", endpoint, values, path)
    if base is None:
        logger.warning(
            "helpdesk: no HELPDESK_EXTERNAL_URL or SERVER_NAME; a link in mail is relative: %s",
            path,
        )
        return path
    scheme, host, root = base
    return f"{scheme}://{host}{root}{path}"


def ticket_url(ticket: Ticket, desk: bool = False) -> str:
    """Where the customer (or, with *desk*, an agent) reads and answers *ticket*."""
    config = current_app.extensions["helpdesk"].config
    if desk:
        fallback = f"{config['HELPDESK_DESK_URL_PREFIX']}/tickets/{ticket.code}"
        return external_url(DESK_TICKET_ENDPOINT, fallback, code=ticket.code)
    fallback = f"{config['HELPDESK_URL_PREFIX']}/tickets/{ticket.code}"
    return external_url(PORTAL_TICKET_ENDPOINT, fallback, code=ticket.code)
