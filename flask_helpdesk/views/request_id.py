"""``X-Request-ID`` on every response of the app, and in every log line of its request.

A well-formed id from the proxy in front (``HELPDESK_REQUEST_ID_HEADER``) is kept, so one id
follows a request from the load balancer's log to ours; anything else is replaced by a new one.
Jobs the request queues carry it to the worker (:mod:`flask_helpdesk.jobs`).
"""

from __future__ import annotations

from flask import Flask, Response, g, request

from ..logs import accept_or_make, current_request_id, install_record_factory


def register(app: Flask, header: str | None) -> None:
    if not header:
        return
    install_record_factory()

    @app.before_request
    def _take_request_id() -> None:
        g._helpdesk_request_id = current_request_id.set(accept_or_make(request.headers.get(header)))

    @app.after_request
    def _send_request_id(response: Response) -> Response:
        if "_helpdesk_request_id" not in g:  # an earlier before_request answered already
            _take_request_id()
        response.headers[header] = current_request_id.get()
        return response

    @app.teardown_request
    def _drop_request_id(_error: BaseException | None) -> None:
        token = g.pop("_helpdesk_request_id", None)
        if token is not None:
            current_request_id.reset(token)
