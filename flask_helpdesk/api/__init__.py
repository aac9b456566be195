"""The JSON API (``HELPDESK_API_URL_PREFIX``, default ``/support/api/v1``): a channel like the
portal and the desk, over the same services. See docs/api.rst."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask

from . import directory, openapi, tickets, webhooks  # noqa: F401  (their routes register on bp)
from .core import bp

if TYPE_CHECKING:
    from ..state import HelpdeskState


def register(app: Flask, state: HelpdeskState) -> None:
    """Mount the API. Token calls carry no CSRF token, so the blueprint is exempt from the
    host's CSRFProtect; session calls are checked by the API itself (``auth.py``)."""

    app.register_blueprint(bp, url_prefix=state.config["HELPDESK_API_URL_PREFIX"])
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(bp)
