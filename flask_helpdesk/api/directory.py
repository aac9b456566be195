"""Who and where: departments, agents, canned replies, contacts. Read mostly; a contact's
custom attributes can be written (hosts sync what they know of a customer)."""

from __future__ import annotations

from ..i18n import gettext as _
from ..models import Contact
from ..services import canned, contacts, departments, queues
from ..services.base import Forbidden
from . import schemas as s
from .auth import current_actor
from .core import check_if_match, etag_of, known_id, operation

TAG = "Directory"


def _staff_only() -> None:
    if current_actor().is_customer:
        raise Forbidden(_("Only support staff can do this."))


@operation(
    "/departments",
    summary="List departments",
    tag=TAG,
    responses={200: s.DepartmentList},
    description="The active departments, in the order customers see them.",
)
def list_departments():
    return s.DepartmentList(
        items=[
            s.DepartmentOut(id=d.id, slug=d.slug, name=d.name, description=d.description)
            for d in departments.active_departments()
        ]
    )


@operation(
    "/agents",
    summary="List agents",
    tag=TAG,
    responses={200: s.AgentList, 403: s.Problem},
    description="Active agents sharing a department with the caller (admins: all).",
)
def list_agents():
    _staff_only()
    return s.AgentList(
        items=[
            s.AgentOut(
                id=a.id,
                name=a.display_name,
                email=a.email,
                role=a.role.value,
                availability=a.availability.value,
                is_active=a.is_active,
            )
            for a in queues.agents_for_filter(current_actor())
        ]
    )


@operation(
    "/canned-replies",
    summary="List canned replies",
    tag=TAG,
    responses={200: s.CannedReplyList, 403: s.Problem},
    description="The caller's own replies and their departments' (with placeholders unfilled).",
)
def list_canned_replies():
    actor = current_actor()
    _staff_only()
    if actor.agent is None:  # a service token is no agent: it has no personal replies
        raise Forbidden(_("Only support staff can do this."))
    return s.CannedReplyList(
        items=[
            s.CannedReplyOut(id=r.id, title=r.title, body=r.body, department_id=r.department_id)
            for r in canned.list_replies(actor)
        ]
    )


def contact_out(contact: Contact) -> s.ContactOut:
    return s.ContactOut(
        id=contact.id,
        name=contact.name,
        email=contact.email,
        phone=contact.phone,
        locale=contact.locale,
        attributes=dict(contact.attributes or {}),
        created_at=contact.created_at,
    )


@operation(
    "/contacts",
    summary="Search contacts",
    tag=TAG,
    query=s.ContactSearchQuery,
    responses={200: s.ContactList, 403: s.Problem, 422: s.Problem},
    description="Customers whose name, email or phone contains `q` (staff only).",
)
def search_contacts(query: s.ContactSearchQuery):
    found = contacts.search_contacts(current_actor(), query.q, query.limit)
    return s.ContactList(items=[contact_out(c) for c in found])


@operation(
    "/contacts/<int:contact_id>",
    summary="Read a contact",
    tag=TAG,
    responses={200: s.ContactOut, 403: s.Problem, 404: s.Problem},
)
def get_contact(contact_id: int):
    data = contact_out(contacts.get_contact(current_actor(), known_id(contact_id)))
    return data, 200, {"ETag": etag_of(data)}


@operation(
    "/contacts/<int:contact_id>",
    "PATCH",
    summary="Update a contact's attributes",
    tag=TAG,
    scope="write",
    body=s.ContactUpdate,
    if_match=True,
    responses={
        200: s.ContactOut,
        403: s.Problem,
        404: s.Problem,
        412: s.Problem,
        422: s.Problem,
        428: s.Problem,
    },
    description="Merge `attributes` (a `null` value removes a key). `If-Match` is required.",
)
def update_contact(contact_id: int, body: s.ContactUpdate):
    actor = current_actor()
    # Locked before the ETag check so two clients holding the same version cannot both pass
    # it and the second silently drop the first one's attributes.
    contact = contacts.get_contact(actor, known_id(contact_id), for_update=True)
    check_if_match(etag_of(contact_out(contact)))
    contact = contacts.update_attributes(actor, contact, body.attributes)
    data = contact_out(contact)
    return data, 200, {"ETag": etag_of(data)}
