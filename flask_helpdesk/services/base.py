"""What every service shares: the errors it raises and the way it commits."""

from __future__ import annotations

from typing import Any

from flask import current_app

from ..jobs import discard_pending, dispatch_pending


class ServiceError(Exception):
    """Base of the errors services raise; views turn them into pages, the API into JSON."""

    status_code = 400

    def __init__(self, message: str = "", field_errors: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.message = message
        self.field_errors = field_errors or {}


class NotFound(ServiceError):
    """Also raised for what exists but the actor may not see: no hint that it exists."""

    status_code = 404


class Forbidden(ServiceError):
    status_code = 403


class ValidationError(ServiceError):
    status_code = 422


class Conflict(ServiceError):
    status_code = 409


def session():
    return current_app.extensions["helpdesk"].db.session


def commit() -> None:
    """Commit the unit of work, then hand its follow-up jobs to the dispatcher."""
    try:
        session().commit()
    except BaseException:
        rollback()
        raise
    dispatch_pending()


def rollback() -> None:
    session().rollback()
    discard_pending()


def send_signal(signal: Any, **kwargs: Any) -> None:
    signal.send(current_app._get_current_object(), **kwargs)
