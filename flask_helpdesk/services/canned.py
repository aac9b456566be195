"""Canned replies: per-department and personal reply templates, and filling their placeholders.

Who may do what (checked here, whatever form or API calls):

* every agent keeps personal replies; only their owner sees, edits or deletes them;
* department replies are offered to every agent of the department (and admins), and managed
  by the department's leads and by admins;
* inserting a reply into a ticket needs a reply the agent may use *for that ticket*: their own,
  or one of the ticket's department.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import or_, select

from ..i18n import gettext as _
from ..inputs import parse_id
from ..models import AgentRole, CannedReply, Department, Ticket
from . import audit
from .base import Forbidden, NotFound, ValidationError, commit, session
from .identity import Actor
from .permissions import ensure

TITLE_MAX = 120
BODY_MAX = 20_000
PLACEHOLDERS = ("customer_name", "ticket_code", "agent_name")
# Only ``{known_name}`` is replaced; any other brace text stays as typed. No str.format: a
# template such as ``{agent_name.__class__}`` must not reach Python's attribute lookup.
PLACEHOLDER_PATTERN = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")


@dataclass
class CannedReplyData:
    """What a form or the API sends to create or edit a canned reply."""

    title: str
    body: str
    # None: personal (owned by the acting agent); otherwise the department it is shared with.
    department_id: int | str | None = None


def _agent(actor: Actor) -> None:
    if not actor.is_agent or actor.agent is None:
        raise Forbidden(_("Only support staff can do this."))


def is_lead_of(actor: Actor, department_id: int) -> bool:
    """Admins manage every department's replies; leads those of their own departments."""
    if actor.is_admin:
        return True
    return (
        actor.agent is not None
        and actor.agent.role == AgentRole.LEAD
        and department_id in actor.department_ids
    )


def can_manage(actor: Actor, reply: CannedReply) -> bool:
    if reply.owner_agent_id is not None:
        return actor.agent is not None and reply.owner_agent_id == actor.agent.id
    return reply.department_id is not None and is_lead_of(actor, reply.department_id)


def managed_departments(actor: Actor) -> list[Department]:
    """Departments whose shared replies *actor* may create (the form's choices)."""
    departments = session().scalars(
        select(Department).where(Department.is_active.is_(True)).order_by(Department.position)
    )
    return [d for d in departments if is_lead_of(actor, d.id)]


def _visible(actor: Actor):
    """Replies *actor* may read: own personal ones and their departments' (admins: all)."""
    assert actor.agent is not None
    own = CannedReply.owner_agent_id == actor.agent.id
    if actor.is_admin:
        return or_(own, CannedReply.department_id.is_not(None))
    return or_(own, CannedReply.department_id.in_(actor.department_ids))


def list_replies(actor: Actor) -> list[CannedReply]:
    """The management page: personal replies first, then department ones, by title."""
    _agent(actor)
    return list(
        session().scalars(
            select(CannedReply)
            .where(_visible(actor))
            .order_by(CannedReply.department_id.is_not(None), CannedReply.title, CannedReply.id)
        )
    )


def for_ticket(actor: Actor, ticket: Ticket) -> list[CannedReply]:
    """What the reply box offers on *ticket*: own replies and the ticket department's."""
    ensure(actor, "reply", ticket)
    _agent(actor)
    assert actor.agent is not None
    return list(
        session().scalars(
            select(CannedReply)
            .where(
                or_(
                    CannedReply.owner_agent_id == actor.agent.id,
                    CannedReply.department_id == ticket.department_id,
                )
            )
            .order_by(CannedReply.department_id.is_not(None), CannedReply.title, CannedReply.id)
        )
    )


def get_reply(actor: Actor, reply_id: int | str) -> CannedReply:
    """A reply *actor* may read; :class:`NotFound` for anything else (ids reveal nothing)."""
    _agent(actor)
    wanted = parse_id(reply_id)
    if wanted is None:
        raise NotFound(_("No such canned reply."))
    reply = session().scalar(select(CannedReply).where(CannedReply.id == wanted, _visible(actor)))
    if reply is None:
        raise NotFound(_("No such canned reply."))
    return reply


def editable_reply(actor: Actor, reply_id: int | str) -> CannedReply:
    reply = get_reply(actor, reply_id)
    if not can_manage(actor, reply):
        raise Forbidden(_("Only the department's leads and admins can change this reply."))
    return reply


def _clean(data: CannedReplyData) -> tuple[str, str]:
    title = " ".join((data.title or "").split())
    body = (data.body or "").strip()
    errors: dict[str, list[str]] = {}
    if not title:
        errors["title"] = [_("Please enter a title.")]
    elif len(title) > TITLE_MAX:
        errors["title"] = [_("The title is too long.")]
    if not body:
        errors["body"] = [_("Please enter the text of the reply.")]
    elif len(body) > BODY_MAX:
        errors["body"] = [_("The message is too long.")]
    if errors:
        raise ValidationError(_("Please correct the errors below."), errors)
    return title, body


def _department(actor: Actor, value: int | str | None) -> int | None:
    """The department id to share with, refused unless *actor* leads it (forged ids too)."""
    if value in (None, "", "personal"):
        return None
    department_id = parse_id(value)
    department = session().get(Department, department_id) if department_id else None
    if department is None or not department.is_active or not is_lead_of(actor, department.id):
        raise ValidationError(
            _("You cannot share replies with this department."),
            {"department_id": [_("Not a department you lead.")]},
        )
    return department.id


def create_reply(actor: Actor, data: CannedReplyData) -> CannedReply:
    _agent(actor)
    assert actor.agent is not None
    title, body = _clean(data)
    department_id = _department(actor, data.department_id)
    reply = CannedReply(
        title=title,
        body=body,
        department_id=department_id,
        owner_agent_id=None if department_id else actor.agent.id,
    )
    session().add(reply)
    session().flush()
    audit.record(
        actor, "canned_reply.created", reply_id=reply.id, department_id=department_id, title=title
    )
    commit()
    return reply


def update_reply(actor: Actor, reply_id: int | str, data: CannedReplyData) -> CannedReply:
    """Change title and text. Where a reply is shared does not change (delete and recreate)."""
    reply = editable_reply(actor, reply_id)
    title, body = _clean(data)
    if (title, body) == (reply.title, reply.body):
        return reply
    audit.record(actor, "canned_reply.updated", reply_id=reply.id, old_title=reply.title)
    reply.title, reply.body = title, body
    commit()
    return reply


def delete_reply(actor: Actor, reply_id: int | str) -> None:
    reply = editable_reply(actor, reply_id)
    audit.record(
        actor,
        "canned_reply.deleted",
        reply_id=reply.id,
        department_id=reply.department_id,
        title=reply.title,
    )
    session().delete(reply)
    commit()


def render_reply(actor: Actor, reply_id: int | str, ticket: Ticket) -> str:
    """The text of reply *reply_id* for *ticket*, placeholders filled in.

    The result is plain text for the reply box (templates escape it; the posted reply is
    sanitized like any other), so a customer named ``<script>`` stays text.
    """
    reply = get_reply(actor, reply_id)
    if reply.owner_agent_id is None and reply.department_id != ticket.department_id:
        raise NotFound(_("No such canned reply."))
    ensure(actor, "reply", ticket)
    return fill_placeholders(reply.body, ticket, actor)


def fill_placeholders(
    text: str, ticket: Ticket, actor: Actor, agent_name: str | None = None
) -> str:
    """*text* with its placeholders filled; *agent_name* overrides the actor's (a rule's reply
    signs with the department's name, not "system")."""
    values = {
        "customer_name": ticket.requester.display_name if ticket.requester else "",
        "ticket_code": ticket.code,
        "agent_name": agent_name if agent_name is not None else actor.name,
    }
    return PLACEHOLDER_PATTERN.sub(lambda match: values[match.group(1)], text)
