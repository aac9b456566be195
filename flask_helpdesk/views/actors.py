"""Who is asking: the request's logged-in user (Flask-Login) as an :class:`Actor`.

The views build the actor of a request here, from ``current_user``, the request's address and
the guard's verdict on a session as the customer; services only ever receive actors
(:mod:`flask_helpdesk.services.identity`), so they run the same from jobs, commands and tests.
"""

from __future__ import annotations

from typing import Any

from flask import g, has_request_context, request
from flask_login import current_user

from ..models import GrantScope
from ..services.base import Forbidden
from ..services.identity import Actor, agent_as_actor, sync_agent, sync_contact
from ..state import current_helpdesk
from .guard import is_impersonating


def request_ip() -> str | None:
    return request.remote_addr if has_request_context() else None


def current_host_user() -> Any | None:
    """The host's logged-in user (Flask-Login), or None for an anonymous visitor."""
    return _current_user()


def _current_user() -> Any | None:
    if current_user and getattr(current_user, "is_authenticated", False):
        return current_user._get_current_object()
    return None


def customer_actor() -> Actor | None:
    """The logged-in user acting as a customer (portal, customer API), or None if anonymous."""
    cached = g.get("_helpdesk_customer_actor")
    if cached is not None:
        return cached
    user = _current_user()
    if user is None:
        return None
    # The request guard (views/guard.py) puts the verified session as the customer on ``g``.
    acting = g.get("_helpdesk_acting")
    read_only = acting is not None and acting.grant.scope == GrantScope.VIEW
    actor = Actor(
        perspective="customer",
        # The guard checked the grant's contact is this user's: no mirror refresh, no write.
        contact=acting.grant.contact if read_only else sync_contact(user),
        user=user,
        is_admin=current_helpdesk.is_admin(user),
        ip_address=request_ip(),
        on_behalf=is_impersonating(),
        read_only=read_only,
    )
    g._helpdesk_customer_actor = actor
    return actor


def agent_actor() -> Actor:
    """The logged-in user acting as an agent; :class:`Forbidden` for anyone who is not staff."""
    cached = g.get("_helpdesk_agent_actor")
    if cached is not None:
        return cached
    user = _current_user()
    if user is None:
        raise Forbidden("not logged in")
    is_admin = current_helpdesk.is_admin(user)
    agent = sync_agent(user, is_admin)
    if agent is None or not agent.may_work(is_admin):
        raise Forbidden("not a helpdesk agent")
    actor = agent_as_actor(agent, user=user, host_admin=is_admin, ip_address=request_ip())
    g._helpdesk_agent_actor = actor
    return actor
