"""An agent's own saved queue filters (the built-in ones live in ``queues.builtin_views``)."""

from __future__ import annotations

from sqlalchemy import func, select

from ..i18n import gettext as _
from ..models import SavedView
from . import audit
from .base import Forbidden, NotFound, ValidationError, commit, session
from .identity import Actor
from .queues import QueueFilter

MAX_VIEWS = 50
MAX_NAME = 80


def _agent_id(actor: Actor) -> int:
    if not actor.is_agent or actor.agent is None:
        raise Forbidden(_("Only support staff can do this."))
    return actor.agent.id


def list_views(actor: Actor) -> list[SavedView]:
    return list(
        session().scalars(
            select(SavedView)
            .where(SavedView.agent_id == _agent_id(actor))
            .order_by(SavedView.position, SavedView.id)
        )
    )


def _clean_name(name: str | None) -> str:
    name = " ".join((name or "").split())
    if not name or len(name) > MAX_NAME:
        raise ValidationError(
            _("Please name the view (at most %(count)d characters).", count=MAX_NAME),
            {"name": [_("1 to %(count)d characters.", count=MAX_NAME)]},
        )
    return name


def _own_view(agent_id: int, view_id: int) -> SavedView:
    """The agent's view *view_id*; another agent's view is NotFound (it reveals nothing)."""
    view = session().get(SavedView, view_id)
    if view is None or view.agent_id != agent_id:
        raise NotFound(_("No such view."))
    return view


def get_view(actor: Actor, view_id: int) -> SavedView:
    return _own_view(_agent_id(actor), view_id)


def save_view(actor: Actor, name: str, queue_filter: QueueFilter) -> SavedView:
    """Save *queue_filter* under *name* for the acting agent (same name: replaced)."""
    agent_id = _agent_id(actor)
    name = _clean_name(name)
    view = session().scalar(
        select(SavedView).where(SavedView.agent_id == agent_id, SavedView.name == name)
    )
    if view is None:
        count = session().scalar(
            select(func.count()).select_from(SavedView).where(SavedView.agent_id == agent_id)
        )
        if (count or 0) >= MAX_VIEWS:
            raise ValidationError(
                _("You have too many saved views; delete one first."), {"name": [_("Too many.")]}
            )
        view = SavedView(agent_id=agent_id, name=name, position=count or 0)
        session().add(view)
    view.query = queue_filter.query_string()
    session().flush()
    audit.record(actor, "view.saved", view_id=view.id, name=name, query=view.query)
    commit()
    return view


def rename_view(actor: Actor, view_id: int, name: str) -> SavedView:
    """Give the agent's view *view_id* a new name (not one another of their views has)."""
    agent_id = _agent_id(actor)
    view = _own_view(agent_id, view_id)
    name = _clean_name(name)
    clash = session().scalar(
        select(SavedView.id).where(
            SavedView.agent_id == agent_id, SavedView.name == name, SavedView.id != view.id
        )
    )
    if clash is not None:
        raise ValidationError(
            _("You already have a view called “%(name)s”.", name=name),
            {"name": [_("Already used.")]},
        )
    old = view.name
    view.name = name
    audit.record(actor, "view.renamed", view_id=view.id, old=old, name=name)
    commit()
    return view


def delete_view(actor: Actor, view_id: int) -> None:
    view = _own_view(_agent_id(actor), view_id)
    session().delete(view)
    audit.record(actor, "view.deleted", view_id=view_id, name=view.name)
    commit()
