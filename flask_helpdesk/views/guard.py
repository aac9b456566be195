"""Acting as a customer through the host's own Flask-Login session (DESIGN §5).

When an agent starts a session on an accepted grant, the helpdesk calls the host's
``login_user(customer)`` and keeps the way back in the (signed) Flask session: a *switch-back*
token, signed once more with itsdangerous and the app's secret, bound to the grant id, the agent's
user id and the customer's user id. Stopping checks all three before it logs the agent back in.

Hooks registered for **every** endpoint of the host (not only the helpdesk's) check on each request
that the grant is still accepted and unexpired, refuse what the grant's scope or the host does not
allow, and log the request. The customer's own sessions elsewhere are never touched.

Hosts mark endpoints an agent must never reach as the customer::

    from flask_helpdesk import never_impersonated

    @app.post("/account/password")
    @never_impersonated          # or @helpdesk.not_while_impersonating
    def change_password(): ...
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

from flask import current_app, g, has_request_context, session
from itsdangerous import BadSignature, URLSafeTimedSerializer

from .common import render

if TYPE_CHECKING:
    from ..models import AccessGrant

SESSION_KEY = "_helpdesk_acting"
SALT = "flask-helpdesk.impersonation.switch-back"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
NEVER_IMPERSONATED_ATTRIBUTE = "_helpdesk_never_impersonated"

F = TypeVar("F", bound=Callable[..., Any])


class TamperedSwitch(Exception):
    """The switch-back data is missing its signature, malformed or bound to someone else."""


@dataclass(frozen=True)
class Switch:
    """Who may come back when the session as the customer ends, and on which grant."""

    grant_id: int
    agent_user_id: str
    customer_user_id: str


@dataclass
class Acting:
    """Set on ``g`` for a request that runs as the customer on a valid grant."""

    grant: AccessGrant
    switch: Switch


def _serializer() -> URLSafeTimedSerializer:
    secret = current_app.secret_key
    if not secret:
        raise RuntimeError("acting as a customer needs the app's SECRET_KEY")
    return URLSafeTimedSerializer(secret, salt=SALT)


def _max_age() -> int:
    config = current_app.extensions["helpdesk"].config
    # A switch-back token outlives no grant: the longest grant plus an hour of slack.
    return int(config["HELPDESK_ACCESS_GRANT_MAX_DURATION"].total_seconds()) + 3600


def sign_switch(switch: Switch) -> str:
    return _serializer().dumps(
        {"g": switch.grant_id, "a": switch.agent_user_id, "c": switch.customer_user_id}
    )


def read_switch() -> Switch | None:
    """The switch-back of this session: None when not acting, :class:`TamperedSwitch` if bad."""
    token = session.get(SESSION_KEY)
    if token is None:
        return None
    try:
        data = _serializer().loads(token, max_age=_max_age())
        return Switch(int(data["g"]), str(data["a"]), str(data["c"]))
    except (BadSignature, KeyError, TypeError, ValueError):
        raise TamperedSwitch() from None


def store_switch(switch: Switch) -> None:
    session[SESSION_KEY] = sign_switch(switch)


def clear_switch() -> None:
    session.pop(SESSION_KEY, None)
    for key in ("_helpdesk_customer_actor", "_helpdesk_agent_actor", "_helpdesk_acting"):
        g.pop(key, None)


def is_impersonating() -> bool:
    """True while this session acts as a customer (also when its switch-back is not verified)."""
    return has_request_context() and SESSION_KEY in session


def current_acting() -> Acting | None:
    """The verified grant and switch-back of this request, set by the request guard."""
    return g.get("_helpdesk_acting") if has_request_context() else None


def never_impersonated(view: F) -> F:
    """Refuse *view* (403) while an agent acts as the customer, whatever the grant's scope.

    Mark what a helper must never do for someone: change a password or email, log out,
    pay out, delete the account, create API keys.
    """

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if is_impersonating():
            return refused_response("sensitive")
        return view(*args, **kwargs)

    setattr(wrapper, NEVER_IMPERSONATED_ATTRIBUTE, True)
    return wrapper  # type: ignore[return-value]


def refused_response(reason: str) -> tuple[str, int]:
    """The clear 403 page for what an agent may not do as the customer."""
    return render("helpdesk/access/refused.html", reason=reason, acting=current_acting()), 403


def endpoint_refused(endpoint: str | None) -> bool:
    """Is *endpoint* never allowed while acting (decorated, or listed in the config)?"""
    if endpoint is None:
        return False
    config = current_app.extensions["helpdesk"].config
    if endpoint in config["HELPDESK_ACCESS_REFUSED_ENDPOINTS"]:
        return True
    view = current_app.view_functions.get(endpoint)
    return bool(getattr(view, NEVER_IMPERSONATED_ATTRIBUTE, False))


__all__ = [
    "SESSION_KEY",
    "Acting",
    "Switch",
    "TamperedSwitch",
    "current_acting",
    "is_impersonating",
    "never_impersonated",
]
