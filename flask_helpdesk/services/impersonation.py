"""Starting, checking and stopping a session as the customer on an accepted grant.

The switch is the host's own Flask-Login: ``login_user(customer)`` on start and
``login_user(agent)`` on stop, with a signed switch-back (:mod:`flask_helpdesk.views.guard`) in
between.
Every way out that cannot be verified logs everybody out instead of restoring anyone.
"""

from __future__ import annotations

from typing import Any

from flask_login import current_user, login_user, logout_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from .. import signals
from ..i18n import gettext as _
from ..models import AccessGrant, Agent
from ..state import current_helpdesk
from ..views.guard import (
    Acting,
    Switch,
    TamperedSwitch,
    clear_switch,
    is_impersonating,
    read_switch,
    store_switch,
)
from . import audit
from .base import Conflict, Forbidden, ValidationError, commit, send_signal, session
from .consent import actor_for_grant_agent, expire_if_due, is_staff_user
from .identity import SYSTEM, Actor
from .permissions import ensure


class ImpersonationEnded(Exception):
    """The session as the customer ended before this request ran (``reason`` says why)."""

    def __init__(self, reason: str, grant: AccessGrant | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.grant = grant


def _logged_in_user() -> Any | None:
    if current_user and getattr(current_user, "is_authenticated", False):
        return current_user._get_current_object()
    return None


def start_impersonation(actor: Actor, grant: AccessGrant) -> Any:
    """Log the requesting agent in as the grant's customer; returns the customer's host user."""
    if not actor.is_agent or actor.agent is None:
        raise Forbidden(_("Only support staff can act for a customer."))
    ensure(actor, "view", grant.ticket)
    if grant.agent_id != actor.agent.id:
        raise Forbidden(_("Only the agent who asked for this access can use it."))
    if is_impersonating():
        raise Conflict(_("Stop the current session as a customer first."))
    if expire_if_due(grant) or not grant.is_usable():
        raise Conflict(_("This access is not valid (%(status)s).", status=grant.status.label))
    if grant.contact_id != grant.ticket.requester_id:
        raise Forbidden(_("This access belongs to another customer."))
    contact = grant.contact
    customer = current_helpdesk.load_user(contact.user_id) if contact.user_id else None
    if customer is None or not getattr(customer, "is_active", True):
        raise ValidationError(_("The customer's account cannot be used."))
    if is_staff_user(customer):
        raise Forbidden(_("Nobody may act as an admin or an agent."))
    agent_user = actor.user
    if agent_user is None or str(agent_user.get_id()) != actor.agent.user_id:
        raise Forbidden(_("Log in as yourself to use this access."))
    switch = Switch(grant.id, actor.agent.user_id, str(customer.get_id()))
    audit.record(actor, "access.impersonation_started", grant.ticket, grant_id=grant.id)
    commit()
    # fresh=False: hosts guarding with @fresh_login_required ask for the customer's password.
    login_user(customer, fresh=False)
    store_switch(switch)
    send_signal(signals.impersonation_started, grant=grant, ticket=grant.ticket, actor=actor)
    return customer


def _bound(grant: AccessGrant | None, switch: Switch) -> bool:
    """Does the switch-back belong to this grant's agent and customer?"""
    return (
        grant is not None
        and grant.agent.user_id == switch.agent_user_id
        and grant.contact.user_id == switch.customer_user_id
    )


def _ended(grant: AccessGrant, reason: str) -> None:
    actor = actor_for_grant_agent(grant)
    audit.record(
        actor, "access.impersonation_ended", grant.ticket, grant_id=grant.id, reason=reason
    )
    commit()
    send_signal(
        signals.impersonation_ended, grant=grant, ticket=grant.ticket, actor=actor, reason=reason
    )


def _end_unverified(grant_id: int | None) -> None:
    """A switch-back that does not verify: log out, restore nobody, keep a trace."""
    logout_user()
    clear_switch()
    audit.record(SYSTEM, "access.impersonation_refused", grant_id=grant_id)
    commit()


def _load_switch() -> tuple[Switch, AccessGrant, bool] | None:
    """The verified switch-back, its grant and whether the customer has an agent row now;
    None when not acting; ends a forged one."""
    try:
        switch = read_switch()
    except TamperedSwitch:
        _end_unverified(None)
        raise ImpersonationEnded("tampered") from None
    if switch is None:
        return None
    # One query for what every request while acting checks (the binding, whether the customer
    # became an agent since) and the banner shows.
    customer_is_agent = (
        select(Agent.id).where(Agent.user_id == switch.customer_user_id).exists().correlate(None)
    )
    row = (
        session()
        .execute(
            select(AccessGrant, customer_is_agent)
            .where(AccessGrant.id == switch.grant_id)
            .options(joinedload(AccessGrant.agent), joinedload(AccessGrant.contact))
        )
        .first()
    )
    grant = row[0] if row is not None else None
    if grant is None or not _bound(grant, switch):
        _end_unverified(switch.grant_id)
        raise ImpersonationEnded("tampered")
    return switch, grant, bool(row[1])


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
        _ended(grant, "session_changed")
        return None
    agent_user = current_helpdesk.load_user(switch.agent_user_id)
    agent = session().get(Agent, grant.agent_id)
    if agent_user is None or agent is None or not _agent_may_work(agent, agent_user):
        logout_user()
        clear_switch()
        _ended(grant, "agent_unavailable")
        return None
    login_user(agent_user, fresh=False)
    clear_switch()
    _ended(grant, reason)
    return agent_user


def _agent_may_work(agent: Agent, agent_user: Any | None = None) -> bool:
    """Is the grant's agent still staff? The host is asked only for a row that exists because
    the host said admin (the only case where its answer decides)."""
    if not agent.is_active:
        return False
    if not agent.via_host_admin:
        return True
    if agent_user is None:
        agent_user = current_helpdesk.load_user(agent.user_id)
    return agent_user is not None and agent.may_work(current_helpdesk.is_admin(agent_user))


def verify_acting() -> Acting | None:
    """Check this request's session as a customer: None when not acting, :class:`Acting` when
    the grant is still good; otherwise end the session and raise :class:`ImpersonationEnded`.

    Roles are checked again on every request (DESIGN §5): an agent deactivated meanwhile is
    logged out; a customer who became staff (host admin or agent row) ends the session, since
    acting as them would hand the agent their staff rights.
    """
    loaded = _load_switch()
    if loaded is None:
        return None
    switch, grant, customer_is_agent = loaded
    user = _logged_in_user()
    if user is None or str(user.get_id()) != switch.customer_user_id:
        clear_switch()
        _ended(grant, "session_changed")
        raise ImpersonationEnded("session_changed", grant)
    if not _agent_may_work(grant.agent):
        logout_user()
        clear_switch()
        _ended(grant, "agent_inactive")
        raise ImpersonationEnded("agent_inactive", grant)
    if customer_is_agent or current_helpdesk.is_admin(user):
        stop_impersonation("customer_staff")
        raise ImpersonationEnded("customer_staff", grant)
    if not grant.is_usable():
        expire_if_due(grant)
        reason = grant.status.value  # "expired" or "revoked"
        stop_impersonation(reason)
        raise ImpersonationEnded(reason, grant)
    return Acting(grant, switch)
