"""RFC 9457 problem details: the one shape of every API error."""

from __future__ import annotations

from flask import Response, current_app
from werkzeug.http import HTTP_STATUS_CODES

from .schemas import Problem

PROBLEM_TYPE = "application/problem+json"


class BadInput(Exception):
    """Input refused before any service ran: 400 (unreadable) or 422 (invalid)."""

    def __init__(self, status: int, detail: str, errors: list[dict[str, str]] | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors or []


def problem(
    status: int,
    detail: str = "",
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = Problem(
        title=HTTP_STATUS_CODES.get(status, "Error"),
        status=status,
        detail=detail,
        errors=errors or [],  # type: ignore[arg-type]
    )
    response = current_app.response_class(
        body.model_dump_json(), status=status, mimetype=PROBLEM_TYPE
    )
    response.headers.update(headers or {})
    return response
