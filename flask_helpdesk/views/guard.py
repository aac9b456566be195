"""Acting as a customer through the host's own Flask-Login session (DESIGN §5).

When an agent starts a session on an accepted grant, the helpdesk calls the host's
``login_user(customer)`` and keeps the way back in the (signed) Flask session: a *switch-back*
token, signed once more with itsdangerous and the app's secret, bound to the grant id, the agent's
user id and the customer's user id. Stopping checks all three before it logs the agent back in.

Hooks registered for **every** endpoint of the host (not only the helpdesk's) check on each request
that the grant is still accepted and unexpired, refuse what the grant's scope or the host does not
allow, and log the request. The customer's own sessions elsewhere are never touched.

This module is the web side: the Flask session, Flask-Login and the 403 page. Who may act, whether
a session may go on and the audit trail are :mod:`flask_helpdesk.services.impersonation`.

Hosts mark endpoints an agent must never reach as the customer::

    from flask_helpdesk import never_impersonated

    @app.post("/account/password")
    @never_impersonated          # or @helpdesk.not_while_impersonating
    def change_password(): ...
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

from flask import current_app, g, has_request_context, session
from flask_login import current_user, login_user, logout_user
from itsdangerous import BadSignature, URLSafeTimedSerializer

from ..services import impersonation
from ..services.identity import remember_mirrors
from ..services.impersonation import Acting, ImpersonationEnded, Switch
from ..state import current_helpdesk
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


# -- switching users: the web side of services.impersonation ----------------------------------


def _logged_in_user() -> Any | None:
    if current_user and getattr(current_user, "is_authenticated", False):
        return current_user._get_current_object()
    return None


def start_impersonation(actor: Any, grant: AccessGrant) -> Any:
    """Log the requesting agent in as the grant's customer; returns the customer's host user."""
    customer, switch = impersonation.begin(actor, grant, already_acting=is_impersonating())
    # fresh=False: hosts guarding with @fresh_login_required ask for the customer's password.
    login_user(customer, fresh=False)
    store_switch(switch)
    return customer


def _end_unverified() -> None:
    """A switch-back that does not verify: log out, restore nobody."""
    logout_user()
    clear_switch()


def _load_switch() -> tuple[Switch, AccessGrant, bool] | None:
    """The verified switch-back, its grant and whether the customer has an agent row now;
    None when not acting; ends a forged one."""
    try:
        switch = read_switch()
    except TamperedSwitch:
        _end_unverified()
        impersonation.record_refused(None)
        raise ImpersonationEnded("tampered") from None
    if switch is None:
        return None
    try:
        grant, customer_is_agent = impersonation.load_grant(switch)
    except ImpersonationEnded:
        _end_unverified()
        raise
    return switch, grant, customer_is_agent


def stop_impersonation(reason: str = "stopped") -> Any | None:
    """Log the agent back in; returns the agent's user, or None if nobody could be restored."""
    try:
        loaded = _load_switch()
    except ImpersonationEnded:
        return None
    if loaded is None:
        return None
    switch, grant = loaded[:2]
    user = _logged_in_user()
    if user is None or str(user.get_id()) != switch.customer_user_id:
        # The session moved on (logout, another login): forget the way back, restore no one.
        clear_switch()
        impersonation.record_ended(grant, "session_changed")
        return None
    agent_user = current_helpdesk.load_user(switch.agent_user_id)
    if agent_user is None or not impersonation.agent_may_work(grant.agent, agent_user):
        logout_user()
        clear_switch()
        impersonation.record_ended(grant, "agent_unavailable")
        return None
    login_user(agent_user, fresh=False)
    clear_switch()
    impersonation.record_ended(grant, reason)
    return agent_user


def verify_acting() -> Acting | None:
    """Check this request's session as a customer: None when not acting, :class:`Acting` when
    the grant is still good; otherwise end the session and raise :class:`ImpersonationEnded`
    (an agent deactivated meanwhile is logged out, see :func:`impersonation.end_reason`)."""
    loaded = _load_switch()
    if loaded is None:
        return None
    switch, grant, customer_is_agent = loaded
    user = _logged_in_user()
    if user is None or str(user.get_id()) != switch.customer_user_id:
        clear_switch()
        impersonation.record_ended(grant, "session_changed")
        raise ImpersonationEnded("session_changed", grant)
    reason = impersonation.end_reason(grant, user, customer_is_agent)
    if reason == "agent_inactive":
        logout_user()
        clear_switch()
        impersonation.record_ended(grant, reason)
        raise ImpersonationEnded(reason, grant)
    if reason is not None:
        stop_impersonation(reason)
        raise ImpersonationEnded(reason, grant)
    # The customer has no agent row (checked just now) and the grant's contact is theirs
    # (bound): the menu's desk link and unread badge need not ask again.
    remember_mirrors(user, None, grant.contact)
    return Acting(grant, switch)


__all__ = [
    "SESSION_KEY",
    "Acting",
    "Switch",
    "TamperedSwitch",
    "current_acting",
    "is_impersonating",
    "never_impersonated",
]
