"""Acting as a customer on an accepted grant: the checks and the records, without the web.

Who may start, whether a session may go on, and the audit trail and signals of its start and
end live here. Logging users in and out and keeping the switch-back in the Flask session is the
web's part (:mod:`flask_helpdesk.views.guard`), which calls these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from .. import signals
from ..i18n import gettext as _
from ..models import AccessGrant, Agent
from ..state import current_helpdesk
from . import audit
from .base import Conflict, Forbidden, ValidationError, commit, send_signal, session
from .consent import actor_for_grant_agent, expire_if_due, is_staff_user
from .identity import SYSTEM, Actor
from .permissions import ensure


@dataclass(frozen=True)
class Switch:
    """Who may come back when the session as the customer ends, and on which grant."""

    grant_id: int
    agent_user_id: str
    customer_user_id: str


@dataclass
class Acting:
    """A request that runs as the customer on a valid grant (set on ``g`` by the guard)."""

    grant: AccessGrant
    switch: Switch


class ImpersonationEnded(Exception):
    """The session as the customer ended before this request ran (``reason`` says why)."""

    def __init__(self, reason: str, grant: AccessGrant | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.grant = grant


def begin(actor: Actor, grant: AccessGrant, already_acting: bool = False) -> tuple[Any, Switch]:
    """Check that *actor* may act as the grant's customer now and record the start.

    Returns the customer's host user and the switch-back to keep; the caller logs them in.
    """
    if not actor.is_agent or actor.agent is None:
        raise Forbidden(_("Only support staff can act for a customer."))
    ensure(actor, "view", grant.ticket)
    if grant.agent_id != actor.agent.id:
        raise Forbidden(_("Only the agent who asked for this access can use it."))
    if already_acting:
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
    send_signal(signals.impersonation_started, grant=grant, ticket=grant.ticket, actor=actor)
    return customer, switch


def _bound(grant: AccessGrant | None, switch: Switch) -> bool:
    """Does the switch-back belong to this grant's agent and customer?"""
    return (
        grant is not None
        and grant.agent.user_id == switch.agent_user_id
        and grant.contact.user_id == switch.customer_user_id
    )


def record_ended(grant: AccessGrant, reason: str) -> None:
    actor = actor_for_grant_agent(grant)
    audit.record(
        actor, "access.impersonation_ended", grant.ticket, grant_id=grant.id, reason=reason
    )
    commit()
    send_signal(
        signals.impersonation_ended, grant=grant, ticket=grant.ticket, actor=actor, reason=reason
    )


def record_refused(grant_id: int | None) -> None:
    """Keep a trace of a switch-back that did not verify (the caller logs everybody out)."""
    audit.record(SYSTEM, "access.impersonation_refused", grant_id=grant_id)
    commit()


def load_grant(switch: Switch) -> tuple[AccessGrant, bool]:
    """The grant of a signed switch-back and whether its customer has an agent row now;
    :class:`ImpersonationEnded` ("tampered", recorded) when it is not bound to them."""
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
        record_refused(switch.grant_id)
        raise ImpersonationEnded("tampered")
    return grant, bool(row[1])


def agent_may_work(agent: Agent | None, agent_user: Any | None = None) -> bool:
    """Is the grant's agent still staff? The host is asked only for a row that exists because
    the host said admin (the only case where its answer decides)."""
    if agent is None or not agent.is_active:
        return False
    if not agent.via_host_admin:
        return True
    if agent_user is None:
        agent_user = current_helpdesk.load_user(agent.user_id)
    return agent_user is not None and agent.may_work(current_helpdesk.is_admin(agent_user))


def end_reason(grant: AccessGrant, customer_user: Any, customer_is_agent: bool) -> str | None:
    """Why a session as the customer must end now (None: it goes on).

    Roles are checked again on every request (DESIGN §5): a deactivated agent, a customer who
    became staff (host admin or agent row: acting as them would hand the agent their staff
    rights), a grant that expired or was revoked.
    """
    if not agent_may_work(grant.agent):
        return "agent_inactive"
    if customer_is_agent or current_helpdesk.is_admin(customer_user):
        return "customer_staff"
    if not grant.is_usable():
        expire_if_due(grant)
        return grant.status.value  # "expired" or "revoked"
    return None
