"""Account access with consent: asking, answering, revoking and expiring grants.

Only the agent who asked may ever use a grant, only on its ticket, only as that ticket's
customer and only in its scope; only that customer may accept it. Starting and stopping a
session as the customer lives in :mod:`.impersonation`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import exists, inspect, or_, select
from sqlalchemy.orm import joinedload, selectinload

from .. import signals
from ..i18n import gettext as _
from ..models import (
    AccessGrant,
    Agent,
    GrantScope,
    GrantStatus,
    ImpersonationLog,
    Ticket,
    TicketStatus,
    utcnow,
)
from ..state import current_helpdesk
from . import audit, notifications
from .base import Conflict, Forbidden, NotFound, ValidationError, commit, send_signal, session
from .identity import SYSTEM, Actor, agent_as_actor
from .permissions import can, can_see, ensure

REASON_MAX_LENGTH = 2000


def _config(key: str) -> Any:
    return current_helpdesk.config[key]


def is_staff_user(user: Any) -> bool:
    """Is this host user an admin or a helpdesk agent? Nobody may act as them."""
    if current_helpdesk.is_admin(user):
        return True
    user_id = str(user.get_id())
    return bool(session().scalar(select(exists().where(Agent.user_id == user_id))))


def clamp_duration(duration: timedelta | None) -> timedelta:
    """The default when none is given, never more than the configured maximum."""
    if duration is None:
        duration = _config("HELPDESK_ACCESS_GRANT_DURATION")
    if duration <= timedelta(0):
        raise ValidationError(
            _("Choose how long you need access."), {"duration": [_("Must be more than zero.")]}
        )
    return min(duration, _config("HELPDESK_ACCESS_GRANT_MAX_DURATION"))


def _customer_user(ticket: Ticket) -> Any:
    contact = ticket.requester
    user = current_helpdesk.load_user(contact.user_id) if contact.user_id else None
    if user is None:
        raise ValidationError(
            _("This customer has no account on the site, so there is nothing to access.")
        )
    return user


def request_access(
    actor: Actor,
    ticket: Ticket,
    reason: str,
    scope: GrantScope | str = GrantScope.VIEW,
    duration: timedelta | None = None,
) -> AccessGrant:
    """An agent asks the ticket's customer for access to their account; nothing is granted yet."""
    ensure(actor, "view", ticket)
    if not actor.is_agent or actor.agent is None:
        raise Forbidden(_("Only support staff can ask for access."))
    if not can(actor, "request_access", ticket):
        raise Forbidden(_("Your role may not ask customers for access to their account."))
    reason = (reason or "").strip()
    errors: dict[str, list[str]] = {}
    if not reason:
        errors["reason"] = [_("Tell the customer why you need access.")]
    elif len(reason) > REASON_MAX_LENGTH:
        errors["reason"] = [_("Please keep the reason shorter.")]
    try:
        scope = GrantScope(scope)
    except ValueError:
        errors["scope"] = [_("Choose view only or act as the customer.")]
    if errors:
        raise ValidationError(_("Please correct the marked fields."), errors)
    duration = clamp_duration(duration)
    if ticket.status == TicketStatus.SPAM:
        raise ValidationError(_("This ticket is marked as spam."))
    if is_staff_user(_customer_user(ticket)):
        raise Forbidden(_("Nobody may act as an admin or an agent."))
    if _open_grant_exists(ticket, actor.agent):
        raise Conflict(_("You already asked for access on this ticket."))
    grant = AccessGrant(
        ticket_id=ticket.id,
        contact_id=ticket.requester_id,
        agent_id=actor.agent.id,
        reason=reason,
        scope=scope,
        duration_seconds=int(duration.total_seconds()),
        status=GrantStatus.REQUESTED,
        requested_at=utcnow(),
    )
    session().add(grant)
    session().flush()
    audit.record(
        actor,
        "access.requested",
        ticket,
        grant_id=grant.id,
        scope=scope,
        duration_seconds=grant.duration_seconds,
    )
    notifications.access_requested(grant)
    commit()
    send_signal(signals.access_requested, grant=grant, ticket=ticket, actor=actor)
    return grant


def _open_grant_exists(ticket: Ticket, agent: Agent) -> bool:
    """A pending request or a still valid grant of this agent on this ticket."""
    return bool(
        session().scalar(
            select(
                exists().where(
                    AccessGrant.ticket_id == ticket.id,
                    AccessGrant.agent_id == agent.id,
                    or_(
                        AccessGrant.status == GrantStatus.REQUESTED,
                        (AccessGrant.status == GrantStatus.ACCEPTED)
                        & (AccessGrant.expires_at > utcnow()),
                    ),
                )
            )
        )
    )


def find_grant(actor: Actor, grant_id: int) -> AccessGrant:
    """The grant if *actor* may see it: its customer, or staff who see its ticket. Else 404."""
    grant = session().get(AccessGrant, grant_id)
    if grant is None:
        raise NotFound(_("Access request not found."))
    if actor.is_customer:
        if actor.contact is None or grant.contact_id != actor.contact.id:
            raise NotFound(_("Access request not found."))
    elif not can_see(actor, grant.ticket):
        raise NotFound(_("Access request not found."))
    return grant


def ticket_grants(actor: Actor, ticket: Ticket) -> list[AccessGrant]:
    """The access requests on *ticket*, newest first (a customer sees only their own).

    The ticket pages load the ticket with its requests joined (``tickets.page_loads``): then
    they are read from it, without a statement of their own.
    """
    ensure(actor, "view", ticket)
    if "access_grants" not in inspect(ticket).unloaded:
        mine = actor.contact.id if actor.contact else -1
        grants = [g for g in ticket.access_grants if not actor.is_customer or g.contact_id == mine]
        return sorted(grants, key=lambda grant: (grant.requested_at, grant.id), reverse=True)
    query = (
        select(AccessGrant)
        .where(AccessGrant.ticket_id == ticket.id)
        .options(joinedload(AccessGrant.agent))
        .order_by(AccessGrant.requested_at.desc(), AccessGrant.id.desc())
    )
    if actor.is_customer:
        query = query.where(AccessGrant.contact_id == (actor.contact.id if actor.contact else -1))
    return list(session().scalars(query))


def open_for_customer(actor: Actor) -> list[AccessGrant]:
    """Requests waiting for this customer's answer and access support has right now, across
    their tickets: the portal's first page shows both, so revoking is one click away."""
    if not actor.is_customer or actor.contact is None:
        return []
    return list(
        session().scalars(
            select(AccessGrant)
            .where(
                AccessGrant.contact_id == actor.contact.id,
                or_(
                    AccessGrant.status == GrantStatus.REQUESTED,
                    (AccessGrant.status == GrantStatus.ACCEPTED)
                    & (AccessGrant.expires_at > utcnow()),
                ),
            )
            .options(selectinload(AccessGrant.agent), selectinload(AccessGrant.ticket))
            .order_by(AccessGrant.requested_at.desc())
        )
    )


def _own_grant(actor: Actor, grant: AccessGrant) -> None:
    """Only the grant's own customer, acting for themselves, may answer or revoke it."""
    if not actor.is_customer or actor.contact is None or grant.contact_id != actor.contact.id:
        raise NotFound(_("Access request not found."))
    if actor.on_behalf:
        raise Forbidden(_("Only the customer can answer this, not someone acting for them."))


def accept(actor: Actor, grant: AccessGrant) -> AccessGrant:
    """The customer says yes: the clock of the grant starts now."""
    _own_grant(actor, grant)
    if grant.status != GrantStatus.REQUESTED:
        raise Conflict(_("This request was already answered."))
    now = utcnow()
    grant.status = GrantStatus.ACCEPTED
    grant.decided_at = now
    grant.expires_at = now + grant.duration
    return _finish(actor, grant, "access.granted", signals.access_granted)


def decline(actor: Actor, grant: AccessGrant) -> AccessGrant:
    _own_grant(actor, grant)
    if grant.status != GrantStatus.REQUESTED:
        raise Conflict(_("This request was already answered."))
    grant.status = GrantStatus.DECLINED
    grant.decided_at = utcnow()
    return _finish(actor, grant, "access.declined", signals.access_declined)


def revoke(actor: Actor, grant: AccessGrant) -> AccessGrant:
    """The customer withdraws an accepted grant (or a pending one); effective on the next request.

    The requesting agent may also give access back early.
    """
    by_agent = actor.is_agent and actor.agent is not None and grant.agent_id == actor.agent.id
    if not by_agent:
        _own_grant(actor, grant)
        if grant.status == GrantStatus.REQUESTED:
            return decline(actor, grant)
    if grant.status != GrantStatus.REQUESTED and not grant.is_usable():
        raise Conflict(_("This access has already ended."))
    now = utcnow()
    grant.status = GrantStatus.REVOKED
    grant.revoked_at = now
    grant.decided_at = grant.decided_at or now
    return _finish(actor, grant, "access.revoked", signals.access_revoked)


def expire_if_due(grant: AccessGrant) -> bool:
    """Mark an accepted grant past its expiry as expired (audit + signal). True if it did."""
    if grant.status != GrantStatus.ACCEPTED or grant.is_usable():
        return False
    grant.status = GrantStatus.EXPIRED
    _finish(SYSTEM, grant, "access.expired", signals.access_expired, notify=False)
    return True


def expire_due_grants(batch: int = 500) -> int:
    """Mark every accepted grant past its expiry as expired, with its audit event and signal.

    The request guard already refuses an expired grant on the very next request; this sweep
    (``flask helpdesk access-sweep``, run from cron or the scheduler) makes the expiry an event
    even when nobody uses the grant again. Returns how many grants expired.
    """
    count = 0
    while True:
        due = list(
            session().scalars(
                select(AccessGrant)
                .where(
                    AccessGrant.status == GrantStatus.ACCEPTED,
                    AccessGrant.expires_at <= utcnow(),
                )
                .order_by(AccessGrant.id)
                .limit(batch)
            )
        )
        count += sum(expire_if_due(grant) for grant in due)
        if len(due) < batch:
            return count


def _finish(
    actor: Actor, grant: AccessGrant, action: str, signal: Any, notify: bool = True
) -> AccessGrant:
    audit.record(actor, action, grant.ticket, grant_id=grant.id, status=grant.status)
    if notify:
        notifications.access_answered(grant)
    commit()
    send_signal(signal, grant=grant, ticket=grant.ticket, actor=actor)
    return grant


def record_request(
    grant_id: int, method: str, path: str, status_code: int, endpoint: str | None
) -> ImpersonationLog:
    """Log one request made while acting as the customer (path only: no query-string secrets)."""
    entry = ImpersonationLog(
        grant_id=grant_id,
        created_at=utcnow(),
        method=method[:10],
        path=path[:2048],
        status_code=status_code,
        endpoint=(endpoint or "")[:255] or None,
    )
    session().add(entry)
    commit()
    return entry


def ticket_log(
    actor: Actor,
    ticket: Ticket,
    limit: int = 200,
    grants: list[AccessGrant] | None = None,
) -> list[ImpersonationLog]:
    """What was done as the customer on this ticket's grants, newest first.

    *grants*, the ticket's grants as :func:`ticket_grants` gave them, spare the query when none
    was ever accepted (``expires_at`` is set on accepting): only an accepted grant opens a
    session, and only a session writes the log. The ticket pages pass them.
    """
    ensure(actor, "view", ticket)
    if grants is not None and all(grant.expires_at is None for grant in grants):
        return []
    query = (
        select(ImpersonationLog)
        .join(AccessGrant, AccessGrant.id == ImpersonationLog.grant_id)
        .where(AccessGrant.ticket_id == ticket.id)
        .order_by(ImpersonationLog.created_at.desc(), ImpersonationLog.id.desc())
        .limit(limit)
    )
    if actor.is_customer:
        query = query.where(AccessGrant.contact_id == (actor.contact.id if actor.contact else -1))
    return list(session().scalars(query))


def actor_for_grant_agent(grant: AccessGrant) -> Actor:
    """The requesting agent as an actor (audit rows of a session run while logged in as another)."""
    return agent_as_actor(grant.agent)
