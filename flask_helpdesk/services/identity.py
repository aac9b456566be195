"""Who is acting: the host's logged-in user, mirrored into the helpdesk's Contact and Agent rows.

The mirror rows are brought in step with the host user (name, email, phone) each time the user
acts, so the helpdesk never reads the host's tables. An :class:`Actor` carries the perspective
too: the same person is a *customer* in the portal and an *agent* in the desk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from flask import g, has_request_context
from sqlalchemy import String, cast, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from ..models import Agent, AgentRole, Contact
from ..state import current_helpdesk
from ..users import UserInfo
from .base import commit, session

Perspective = Literal["customer", "agent", "system"]


@dataclass
class Actor:
    perspective: Perspective
    contact: Contact | None = None
    agent: Agent | None = None
    user: Any = None
    is_admin: bool = False
    ip_address: str | None = None
    department_ids: frozenset[int] = field(default_factory=frozenset)
    # An agent looking through a view-only grant: nothing may be written on the customer's
    # behalf, not even a read marker (DESIGN §5).
    read_only: bool = False
    # The customer's side of a session in which an agent acts for them: only the customer
    # themselves may answer or revoke access requests.
    on_behalf: bool = False

    @property
    def is_customer(self) -> bool:
        return self.perspective == "customer"

    @property
    def is_agent(self) -> bool:
        return self.perspective == "agent"

    @property
    def is_system(self) -> bool:
        return self.perspective == "system"

    @property
    def name(self) -> str:
        if self.agent is not None and self.is_agent:
            return self.agent.display_name
        if self.contact is not None:
            return self.contact.display_name
        return "system"


SYSTEM = Actor(perspective="system")


def _mirrors(user: Any) -> tuple[Agent | None, Contact | None]:
    """*user*'s Agent (departments loaded) and Contact rows, either possibly missing.

    One statement for both, once per request: a page needs the one its actor is (the desk's
    agent, the portal's contact) and the host's menu asks about the other (the unread badge,
    the desk link). Only the rows are kept, for this request: whether the agent may work and
    whether the user is a host admin are decided anew on every request, by the callers.
    """
    user_id = str(user.get_id())
    cache = _request_mirrors()
    if cache is not None and user_id in cache:
        return cache[user_id]
    me = select(cast(literal(user_id), String).label("user_id")).subquery()
    agent, contact = (
        session()
        .execute(
            select(Agent, Contact)
            .select_from(me)
            .outerjoin(Agent, Agent.user_id == me.c.user_id)
            .outerjoin(Contact, Contact.user_id == me.c.user_id)
            .options(joinedload(Agent.departments))
        )
        .unique()
        .one()
    )
    if cache is not None:
        cache[user_id] = (agent, contact)
    return agent, contact


def _request_mirrors() -> dict[str, tuple[Agent | None, Contact | None]] | None:
    """This request's :func:`_mirrors` by user id; None outside a request. Kept on ``g`` and
    dropped when the request ends (:func:`forget_mirrors`): an application context may outlive
    one request (tests, scripts)."""
    if not has_request_context():
        return None
    return g.setdefault("_helpdesk_mirrors", {})


def remember_mirrors(user: Any, agent: Agent | None, contact: Contact | None) -> None:
    """What this request knows of *user*'s rows without asking again: a row it created, or
    the request guard's reading of a session as the customer (views/guard.py)."""
    cache = _request_mirrors()
    if cache is not None:
        cache[str(user.get_id())] = (agent, contact)


def forget_mirrors() -> None:
    """The end of a request: the next one asks again (roles and rows may have changed)."""
    g.pop("_helpdesk_mirrors", None)


def sync_contact(user: Any) -> Contact:
    """The Contact mirroring host *user*, created or refreshed from the user adapter.

    Only values the adapter knows overwrite the mirror: a host without a ``phone`` attribute
    does not erase a phone number the customer typed on a ticket.
    """
    user_id = str(user.get_id())
    info = current_helpdesk.user_info(user)
    agent, contact = _mirrors(user)
    if contact is None:
        contact = Contact(
            user_id=user_id,
            name=info.name,
            email=info.email,
            phone=info.phone,
            locale=info.locale,
            attributes={},
            notes="",
        )
        session().add(contact)
        try:
            commit()
        except IntegrityError:
            # The same user's first two requests raced; the other one created the row.
            contact = session().scalar(select(Contact).where(Contact.user_id == user_id))
            if contact is None:
                raise
        remember_mirrors(user, agent, contact)
        return contact
    if _refresh(contact, info, ("name", "email", "phone", "locale")):
        commit()
    return contact


def _refresh(mirror: Contact | Agent, info: UserInfo, attributes: tuple[str, ...]) -> bool:
    """Copy the adapter's known values onto *mirror*; True if anything changed."""
    changed = False
    for attribute in attributes:
        value = getattr(info, attribute)
        if value and getattr(mirror, attribute) != value:
            setattr(mirror, attribute, value)
            changed = True
    return changed


def sync_agent(user: Any, is_admin: bool) -> Agent | None:
    """The Agent mirroring *user*, if they have one or the host says they are an admin.

    The row never stores the host's verdict as a role: a host admin's first visit creates a
    row marked ``via_host_admin`` (role agent), and whether they are admin is asked of the host
    on every request (:func:`agent_actor`), so the host's decision holds both ways at once.
    """
    user_id = str(user.get_id())
    agent, contact = _mirrors(user)
    if agent is None and not is_admin:
        return None
    info = current_helpdesk.user_info(user)
    if agent is None:
        agent = Agent(
            user_id=user_id,
            name=info.name,
            email=info.email,
            phone=info.phone,
            role=AgentRole.AGENT,
            via_host_admin=True,
        )
        session().add(agent)
        commit()
        remember_mirrors(user, agent, contact)
        return agent
    if _refresh(agent, info, ("name", "email", "phone")):
        commit()
    return agent


def agent_as_actor(
    agent: Agent, user: Any = None, host_admin: bool = False, ip_address: str | None = None
) -> Actor:
    """An :class:`Actor` for *agent* (the views pass the request's address; CLI, jobs and tests
    act for an agent without a request)."""
    return Actor(
        perspective="agent",
        agent=agent,
        user=user,
        is_admin=host_admin or agent.role == AgentRole.ADMIN,
        ip_address=ip_address,
        department_ids=frozenset(d.id for d in agent.departments),
    )


def contact_as_actor(contact: Contact, ip_address: str | None = None) -> Actor:
    """An :class:`Actor` for a customer known only as a contact (mail intake, tests)."""
    return Actor(perspective="customer", contact=contact, ip_address=ip_address)


# -- read-only lookups: what template helpers may use ---------------------------------------------
# Host templates render the menu entries while the host's unit of work is open; a helper that
# synced the mirror rows would commit the host's half-done changes with them. These only read;
# the mirrors are brought in step at the helpdesk's own requests (customer_actor, agent_actor).


def known_customer(user: Any) -> Actor | None:
    """*user* as a customer if the helpdesk already mirrors them, without writing anything."""
    cached = g.get("_helpdesk_customer_actor")
    if cached is not None:
        return cached
    _agent, contact = _mirrors(user)
    return contact_as_actor(contact) if contact is not None else None


def may_open_desk(user: Any) -> bool:
    """Would :func:`agent_actor` let *user* in? Read only: an admin not mirrored yet counts."""
    if g.get("_helpdesk_agent_actor") is not None:
        return True
    agent, _contact = _mirrors(user)
    if agent is None:
        return current_helpdesk.is_admin(user)
    return agent.is_active
