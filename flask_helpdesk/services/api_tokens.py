"""API tokens: create (the secret is shown once), authenticate, revoke.

A token reads ``hd_<prefix>_<secret>``: the prefix is stored in clear to tell tokens apart, the
whole token only as its SHA-256 (it is 256 random bits; a slow hash would protect nothing more).
A personal token acts as its agent, with exactly the agent's permissions; a service token is a
host system acting with admin visibility. Scopes limit what either may do through the API:
``read`` < ``write`` < ``admin``, each including the ones before it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from ..i18n import gettext as _
from ..models import Agent, ApiToken, utcnow
from . import audit
from .agents import find_user, staff_by_user_id
from .base import Forbidden, NotFound, ValidationError, commit, session
from .identity import Actor, agent_as_actor

SCOPES = ("read", "write", "admin")
KINDS = ("personal", "service")
TOKEN_START = "hd_"
# last_used_at is written at most this often per token: not one UPDATE per API call.
LAST_USED_PRECISION = timedelta(minutes=5)
MAX_LIFETIME = timedelta(days=366 * 5)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def has_scope(token_scopes: frozenset[str], wanted: str) -> bool:
    """A token with a higher scope may do what a lower one may."""
    rank = SCOPES.index(wanted)
    return any(s in token_scopes for s in SCOPES[rank:])


def _may_grant(actor: Actor, kind: str, scope: str, agent: Agent | None) -> bool:
    if actor.is_system:
        return True
    if not actor.is_agent or actor.agent is None:
        return False
    if kind == "service" or scope == "admin":
        return actor.is_admin
    return agent is not None and (agent.id == actor.agent.id or actor.is_admin)


def create_token(
    actor: Actor,
    name: str,
    scope: str = "read",
    kind: str = "personal",
    agent: Agent | None = None,
    expires_in: timedelta | None = None,
) -> tuple[ApiToken, str]:
    """A new token and its secret, which is never stored and cannot be shown again.

    A personal token belongs to *agent* (default: the acting agent); only admins create
    service tokens or give a token the ``admin`` scope."""
    name = " ".join((name or "").split())
    errors: dict[str, list[str]] = {}
    if not name or len(name) > 120:
        errors["name"] = [_("Please give the token a name.")]
    if scope not in SCOPES:
        errors["scope"] = [_("Unknown scope.")]
    if kind not in KINDS:
        errors["kind"] = [_("Unknown token kind.")]
    if expires_in is not None and not timedelta(0) < expires_in <= MAX_LIFETIME:
        errors["expires_in"] = [_("Not a valid lifetime.")]
    if errors:
        raise ValidationError(_("Please correct the errors below."), errors)
    if kind == "personal" and agent is None:
        agent = actor.agent if actor.is_agent else None
        if agent is None:
            raise ValidationError(_("Please choose the agent."), {"agent": [_("Required.")]})
    if kind == "service":
        agent = None
    if not _may_grant(actor, kind, scope, agent):
        raise Forbidden(_("Only admins can create this token."))
    prefix = secrets.token_hex(4)
    token = f"{TOKEN_START}{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiToken(
        name=name,
        kind=kind,
        prefix=prefix,
        secret_hash=hash_token(token),
        scopes=scope,
        agent_id=agent.id if agent is not None else None,
        created_by_agent_id=actor.agent.id if actor.is_agent and actor.agent else None,
        created_at=utcnow(),
        expires_at=utcnow() + expires_in if expires_in is not None else None,
    )
    session().add(row)
    session().flush()
    audit.record(actor, "api_token.created", token_id=row.id, kind=kind, scope=scope)
    commit()
    return row, token


def authenticate(token: str, now: datetime | None = None) -> ApiToken | None:
    """The live token *token* is, its agent and their departments loaded; None otherwise.

    One SELECT by hash (plus one for the agent's departments). ``last_used_at`` is written
    only when older than :data:`LAST_USED_PRECISION`."""
    if not token.startswith(TOKEN_START) or len(token) > 200:
        return None
    digest = hash_token(token)
    row = session().scalar(
        select(ApiToken)
        .where(ApiToken.secret_hash == digest)
        .options(joinedload(ApiToken.agent).selectinload(Agent.departments))
    )
    # The lookup is by hash; comparing again in constant time costs nothing.
    if row is None or not hmac.compare_digest(row.secret_hash, digest):
        return None
    now = now or utcnow()
    if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        return None
    if row.kind == "personal" and (row.agent is None or not row.agent.is_active):
        return None
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_PRECISION:
        row.last_used_at = now
        commit()
    return row


def token_actor(row: ApiToken) -> Actor:
    """Who acts when *row* is used: its agent, or a host system with admin visibility."""
    if row.kind == "personal" and row.agent is not None:
        return agent_as_actor(row.agent)
    return Actor(perspective="agent", is_admin=True)


def list_tokens(actor: Actor) -> list[ApiToken]:
    """Tokens *actor* may see: their own personal ones; admins every token."""
    if not actor.is_system and not (actor.is_agent and actor.agent is not None):
        raise Forbidden(_("Only support staff can do this."))
    query = select(ApiToken).options(selectinload(ApiToken.agent)).order_by(ApiToken.id)
    if not (actor.is_admin or actor.is_system):
        query = query.where(ApiToken.agent_id == actor.agent.id)  # type: ignore[union-attr]
    return list(session().scalars(query))


def revoke_token(actor: Actor, token_id: int) -> ApiToken:
    """Revoke a token (its owner or an admin); the next request with it is refused."""
    visible = {t.id: t for t in list_tokens(actor)}
    row = visible.get(token_id)
    if row is None:
        raise NotFound(_("No such token."))
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.record(actor, "api_token.revoked", token_id=row.id)
        commit()
    return row


def agent_for_user(reference: str) -> Agent:
    """The active agent behind a host user id or email (``flask helpdesk create-api-token``)."""

    user = find_user(reference)
    agent = staff_by_user_id([str(user.get_id())]).get(str(user.get_id()))
    if agent is None:
        raise NotFound(_("This user is not an active agent."), {"agent": [_("Not an agent.")]})
    return agent


def revoke_by_prefix(actor: Actor, prefix: str) -> ApiToken:
    """Revoke the token whose visible prefix is *prefix* (``hd_<prefix>_…``)."""
    prefix = prefix.removeprefix(TOKEN_START).split("_", 1)[0]
    token_id = session().scalar(select(ApiToken.id).where(ApiToken.prefix == prefix[:16]))
    if token_id is None:
        raise NotFound(_("No such token."))
    return revoke_token(actor, token_id)
