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


def save_view(actor: Actor, name: str, queue_filter: QueueFilter) -> SavedView:
    """Save *queue_filter* under *name* for the acting agent (same name: replaced)."""
    agent_id = _agent_id(actor)
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise ValidationError(_("Please name the view."), {"name": [_("1 to 80 characters.")]})
    view = session().scalar(
        select(SavedView).where(SavedView.agent_id == agent_id, SavedView.name == name)
    )
    if view is None:
        count = session().scalar(
            select(func.count()).select_from(SavedView).where(SavedView.agent_id == agent_id)
        )
        if (count or 0) >= MAX_VIEWS:
            raise ValidationError(_("You have too many saved views."), {"name": [_("Too many.")]})
        view = SavedView(agent_id=agent_id, name=name, position=count or 0)
        session().add(view)
    view.query = queue_filter.query_string()
    session().flush()
    audit.record(actor, "view.saved", view_id=view.id, name=name, query=view.query)
    commit()
    return view


def delete_view(actor: Actor, view_id: int) -> None:
    agent_id = _agent_id(actor)
    view = session().get(SavedView, view_id)
    if view is None or view.agent_id != agent_id:
        raise NotFound(_("No such view."))
    session().delete(view)
    audit.record(actor, "view.deleted", view_id=view_id, name=view.name)
    commit()
