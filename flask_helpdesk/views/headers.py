"""Headers on every response of the helpdesk's own blueprints: who may frame its pages.

The consent prompt, the desk and the admin pages change state with one click, so a page of
another site must not show them in a frame and trick a click (clickjacking). The policy is
``HELPDESK_FRAME_ANCESTORS``: ``"'self'"`` by default, a CSP source list, or None to leave
framing to the host (which then sends its own headers).
"""

from __future__ import annotations

from flask import Flask, Response, current_app, request

# What X-Frame-Options (older browsers) can say for a CSP frame-ancestors list: only these two.
LEGACY_FRAME_OPTIONS = {"'self'": "SAMEORIGIN", "'none'": "DENY"}


def _is_helpdesk_response() -> bool:
    return any(name.startswith("helpdesk") for name in request.blueprints)


def add_frame_headers(response: Response) -> Response:
    """``Content-Security-Policy: frame-ancestors …`` (+ ``X-Frame-Options``) on our pages,
    added to a policy the response has already (an attachment's sandbox), never replacing
    a ``frame-ancestors`` someone else set."""
    ancestors = current_app.extensions["helpdesk"].config["HELPDESK_FRAME_ANCESTORS"]
    if not ancestors or not _is_helpdesk_response():
        return response
    ancestors = " ".join(str(ancestors).split())  # one line: no header injection via config
    policy = response.headers.get("Content-Security-Policy", "")
    if "frame-ancestors" not in policy:
        directive = f"frame-ancestors {ancestors}"
        response.headers["Content-Security-Policy"] = (
            f"{policy.rstrip('; ')}; {directive}" if policy.strip() else directive
        )
    legacy = LEGACY_FRAME_OPTIONS.get(ancestors)
    if legacy is not None:
        response.headers.setdefault("X-Frame-Options", legacy)
    return response


def register(app: Flask) -> None:
    app.after_request(add_frame_headers)


__all__ = ["add_frame_headers", "register"]
