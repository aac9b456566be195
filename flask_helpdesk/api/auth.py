"""Who calls the API: a bearer token (personal or service), or the host's logged-in session
for same-origin calls, which must then carry the CSRF token like any form (``X-CSRFToken``).

Each caller is rate-limited (``HELPDESK_API_RATE_LIMIT``, per token or per user): ``429`` with
``Retry-After``. What the caller may then see and do is decided by the services, exactly as in
the portal and the desk.
"""

from __future__ import annotations

from flask import abort, current_app, g, request
from flask_wtf.csrf import ValidationError as CSRFValidationError
from flask_wtf.csrf import validate_csrf

from ..i18n import gettext as _
from ..ratelimit import FixedWindow
from ..services import Forbidden
from ..services.api_tokens import SCOPES, has_scope, token_actor
from ..services.api_tokens import authenticate as token_login
from ..services.identity import Actor
from ..services.mail_posting import parse_rate
from ..state import current_helpdesk
from ..views.actors import agent_actor, customer_actor
from .problems import problem

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_window = FixedWindow("api-rate")


def current_actor() -> Actor:
    """The caller of this request (:func:`authenticate` ran first)."""
    return g._helpdesk_api_actor


def authenticate() -> None:
    if g.get("_helpdesk_api_actor") is not None:
        return
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _sep, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            _unauthorized(_("Use Authorization: Bearer <token>."))
        row = token_login(token.strip())
        if row is None:
            _unauthorized(_("The token is unknown, expired or revoked."))
        g._helpdesk_api_actor = token_actor(row)
        g._helpdesk_api_scopes = row.scope_set
        _rate_limit(f"t{row.prefix}")
        return
    actor = _session_actor()
    if actor is None:
        _unauthorized(_("Log in, or send a bearer token."))
    if request.method not in SAFE_METHODS:
        _check_csrf()
    g._helpdesk_api_actor = actor
    g._helpdesk_api_scopes = frozenset(SCOPES)  # the services decide what the user may do
    _rate_limit(f"u{actor.user.get_id() if actor.user is not None else '-'}")


def _session_actor() -> Actor | None:
    """The logged-in user: as an agent if they are active staff (unless the request says
    ``X-Helpdesk-As: customer``), else as a customer."""
    if request.headers.get("X-Helpdesk-As", "").lower() != "customer":
        try:
            return agent_actor()
        except Forbidden:
            pass
    return customer_actor()


def _check_csrf() -> None:
    config = current_app.config
    if not config.get("WTF_CSRF_ENABLED", True):
        return
    # The header (JavaScript), or the form field of a multipart upload from a page.
    token = request.form.get(config.get("WTF_CSRF_FIELD_NAME", "csrf_token"))
    for name in config.get("WTF_CSRF_HEADERS", ("X-CSRFToken", "X-CSRF-Token")):
        token = token or request.headers.get(name)
    try:
        validate_csrf(token)
    except CSRFValidationError:
        abort(problem(403, _("Session calls need the CSRF token in the X-CSRFToken header.")))


def require_scope(scope: str) -> None:
    if not has_scope(g._helpdesk_api_scopes, scope):
        abort(problem(403, _("This token lacks the scope “%(scope)s”.", scope=scope)))


def _rate_limit(key: str) -> None:
    rate = parse_rate(current_helpdesk.config["HELPDESK_API_RATE_LIMIT"])
    if rate is None:
        return
    count, seconds = rate
    hits, left = _window.hit(key, seconds)
    if hits > count:
        abort(
            problem(
                429, _("Too many requests; try again later."), headers={"Retry-After": str(left)}
            )
        )


def _unauthorized(detail: str) -> None:
    abort(problem(401, detail, headers={"WWW-Authenticate": 'Bearer realm="helpdesk-api"'}))
