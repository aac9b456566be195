"""Ticket operations: list, read, open, change, merge, rate; messages and attachments.

Thin like the desk's views: parse (the schemas did), call the service, serialize. Every
write goes through the same service function the portal and the desk call.
"""

from __future__ import annotations

from types import EllipsisType

from flask import request, url_for

from ..i18n import gettext as _
from ..models import Attachment, Channel, Message, MessageKind, Priority, Ticket
from ..services import (
    Forbidden,
    attachments,
    desk,
    house_rules,
    messages,
    queues,
    ratings,
    tickets,
)
from ..services.attachments import Upload
from ..services.base import unit_of_work
from ..services.contacts import resolve_customer
from ..services.identity import Actor
from ..views.common import send_attachment
from ..workflow import agent_choices
from . import schemas as s
from .auth import current_actor
from .core import check_if_match, etag_of, known_id, operation
from .problems import BadInput

TAG = "Tickets"
NOT_FOUND = {404: s.Problem}
REFUSED = {403: s.Problem, 404: s.Problem, 422: s.Problem}


def person(actor: Actor, contact=None, agent=None) -> s.Person | None:
    """Who a ticket or message names; customers do not get staff ids or addresses."""
    staff_view = not actor.is_customer
    if agent is not None:
        return s.Person(
            kind="agent",
            id=agent.id if staff_view else None,
            name=agent.display_name,
            email=agent.email if staff_view else None,
        )
    if contact is not None:
        return s.Person(
            kind="customer",
            id=contact.id if staff_view else None,
            name=contact.display_name,
            email=contact.email,
        )
    return None


def ticket_out(actor: Actor, ticket: Ticket, stars: int | EllipsisType | None = ...) -> s.TicketOut:
    """*stars*: the rating, when the caller loaded them for a whole list (else read here)."""
    if stars is ...:
        stars = ticket.rating.stars if ticket.rating is not None else None
    return s.TicketOut(
        code=ticket.code,
        subject=ticket.subject,
        status=ticket.status,
        priority=ticket.priority.slug,  # type: ignore[arg-type]
        channel=ticket.channel.value,
        department=s.DepartmentRef(id=ticket.department.id, name=ticket.department.name),
        requester=person(actor, contact=ticket.requester),  # type: ignore[arg-type]
        assignee=person(actor, agent=ticket.assignee),
        tags=[t.name for t in ticket.tags],
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
        closed_at=ticket.closed_at,
        rating=stars,
        sla=None if actor.is_customer else sla_out(ticket),
    )


def sla_out(ticket: Ticket) -> s.SlaOut:
    return s.SlaOut(
        first_response_due_at=ticket.first_response_due_at,
        next_response_due_at=ticket.next_response_due_at,
        resolution_due_at=ticket.resolution_due_at,
        first_response_breached=ticket.first_response_breached,
        next_response_breached=ticket.next_response_breached,
        resolution_breached=ticket.resolution_breached,
    )


def _with_etag(actor: Actor, ticket: Ticket, status: int = 200):
    data = ticket_out(actor, ticket)
    return data, status, {"ETag": etag_of(data)}


@operation(
    "/tickets",
    summary="List tickets",
    tag=TAG,
    query=s.TicketListQuery,
    responses={200: s.TicketPage, 422: s.Problem},
    description="The desk queue's filters and keyset pages (customers: their own tickets). "
    "The cost of a page does not grow with its position.",
)
def list_tickets(query: s.TicketListQuery):
    actor = current_actor()
    queue_filter = queues.QueueFilter(
        statuses=list(query.status),
        department_id=query.department,
        assignee=query.assignee,
        requester_id=query.requester,
        priority=Priority[query.priority.upper()] if query.priority else None,
        tag=query.tag.strip().lower() if query.tag else None,
        created_from=query.created_from,
        created_to=query.created_to,
        updated_from=query.updated_from,
        updated_to=query.updated_to,
        unread=query.unread,
        q=query.q.strip(),
        sort=query.sort,
    )
    if query.cursor and queues.decode_cursor(query.cursor, query.sort) is None:
        problem = _("Not a cursor of this sort order.")
        raise BadInput(422, problem, [{"field": "cursor", "message": problem}])
    page = queues.queue_page(actor, queue_filter, query.cursor, query.per_page)
    stars = ratings.stars_of(page.items)  # one query, not one per ticket
    return s.TicketPage(
        items=[ticket_out(actor, t, stars.get(t.id)) for t in page.items],
        next_cursor=page.next_cursor,
        prev_cursor=page.prev_cursor,
    )


@operation(
    "/tickets",
    "POST",
    summary="Open a ticket",
    tag=TAG,
    scope="write",
    body=s.TicketCreate,
    responses={201: s.TicketOut, 403: s.Problem, 404: s.Problem, 409: s.Problem, 422: s.Problem},
    description="A customer opens their own ticket; staff open one for `requester` "
    "(with `send_to_user`, the first message is from support and the customer is told). "
    "When the duplicate guard (a house rule) finds a close match among the customer's open "
    "tickets the answer is `409`, naming it in `detail` and in an error on `allow_duplicate`; "
    "send again with `allow_duplicate: true` to open the ticket anyway.",
)
def create_ticket(body: s.TicketCreate):
    actor = current_actor()
    requester = None
    if not actor.is_customer:
        if not body.requester:
            problem = _("Please choose the customer.")
            raise BadInput(422, problem, [{"field": "requester", "message": _("Required.")}])
        requester = resolve_customer(actor, body.requester)
    data = tickets.NewTicket(
        department_id=body.department_id,
        subject=body.subject,
        body=body.body,
        priority=body.priority,
        email=body.email,
        phone=body.phone,
        channel=Channel.API,
        allow_duplicate=body.allow_duplicate,
    )
    try:
        ticket = tickets.open_ticket(
            actor, data, requester=requester, send_to_user=body.send_to_user
        )
    except house_rules.DuplicateTicket as error:
        # The client learns which ticket, and the one field that lets it insist.
        message = _("Send again with allow_duplicate set to true to open it anyway.")
        raise BadInput(
            409, str(error.message), [{"field": "allow_duplicate", "message": message}]
        ) from None
    return _with_etag(actor, ticket, 201)


@operation(
    "/tickets/<code>",
    summary="Read a ticket",
    tag=TAG,
    responses={200: s.TicketOut, **NOT_FOUND},
    description="The `ETag` header is the version to send back in `If-Match`.",
)
def get_ticket(code: str):
    actor = current_actor()
    return _with_etag(actor, tickets.find_ticket(actor, code))


@operation(
    "/tickets/<code>",
    "PATCH",
    summary="Change a ticket",
    tag=TAG,
    scope="write",
    body=s.TicketUpdate,
    if_match=True,
    responses={200: s.TicketOut, **REFUSED, 412: s.Problem, 428: s.Problem},
    description="Staff change department, assignee, priority, tags and status; a customer may "
    "only close. `If-Match` is required (428 without it, 412 when the ticket changed since). "
    "Fields apply in the order listed, all or none: any refusal leaves the ticket unchanged.",
)
def update_ticket(code: str, body: s.TicketUpdate):
    actor = current_actor()
    ticket = tickets.find_ticket(actor, code, for_update=True)
    check_if_match(etag_of(ticket_out(actor, ticket)))
    sent = body.model_fields_set
    _refuse_impossible_status(actor, ticket, body)
    # One transaction for every field: a refusal of a later field (an assignee who does not
    # work in the new department) rolls back the earlier ones, so a client never sees half of
    # its change applied under a new ETag.
    with unit_of_work():
        if "department_id" in sent and body.department_id is not None:
            desk.transfer(actor, ticket, body.department_id)
        if "assignee_id" in sent:
            desk.assign(actor, ticket, body.assignee_id)
        if body.priority is not None:
            desk.set_priority(actor, ticket, body.priority)
        if body.tags is not None:
            desk.set_tags(actor, ticket, body.tags)
        if body.status is not None and body.status != ticket.status:
            if actor.is_customer:
                if body.status != "closed":
                    raise Forbidden(_("Only support staff can set the status."))
                tickets.close_ticket(actor, ticket)
            else:
                tickets.change_status(actor, ticket, body.status)
    return _with_etag(actor, tickets.find_ticket(actor, code))


def _refuse_impossible_status(actor: Actor, ticket: Ticket, body: s.TicketUpdate) -> None:
    """A status the state machine refuses is refused before any other field is applied, so
    the commonest mistake leaves the ticket untouched (other refusals may come later)."""
    if body.status is None or body.status == ticket.status or actor.is_customer:
        return
    if body.status not in agent_choices(ticket.status):
        problem = _("This ticket cannot be changed that way now.")
        raise BadInput(422, problem, [{"field": "status", "message": problem}])


@operation(
    "/tickets/<code>/merge",
    "POST",
    summary="Merge a ticket into another",
    tag=TAG,
    scope="write",
    body=s.MergeIn,
    responses={200: s.TicketOut, **REFUSED},
    description="Messages and files move to `into`; this ticket closes. Returns the target.",
)
def merge_ticket(code: str, body: s.MergeIn):
    actor = current_actor()
    target = desk.merge(actor, tickets.find_ticket(actor, code), body.into)
    return _with_etag(actor, target)


@operation(
    "/tickets/<code>/rating",
    "POST",
    summary="Rate a closed ticket",
    tag=TAG,
    scope="write",
    body=s.RatingIn,
    responses={201: s.RatingOut, **REFUSED},
    description="The customer's 1-5 stars, once, after close.",
)
def rate_ticket(code: str, body: s.RatingIn):
    actor = current_actor()
    rating = tickets.rate_ticket(actor, tickets.find_ticket(actor, code), body.stars, body.comment)
    return s.RatingOut(
        stars=rating.stars, comment=rating.comment, created_at=rating.created_at
    ), 201


# -- messages and attachments -----------------------------------------------------------------


def attachment_out(ticket: Ticket, attachment: Attachment) -> s.AttachmentOut:
    return s.AttachmentOut(
        id=attachment.id,
        filename=attachment.filename,
        content_type=attachment.content_type,
        size=attachment.size,
        url=url_for(
            "helpdesk_api.download_attachment", code=ticket.code, attachment_id=attachment.id
        ),
    )


def message_out(actor: Actor, ticket: Ticket, message: Message) -> s.MessageOut:
    return s.MessageOut(
        id=message.id,
        kind=message.kind.value,  # type: ignore[arg-type]
        channel=message.channel.value,
        body=message.body,
        author=person(actor, contact=message.author_contact, agent=message.author_agent),
        data=message.data if message.kind == MessageKind.EVENT else {},
        attachments=[attachment_out(ticket, a) for a in message.attachments],
        created_at=message.created_at,
    )


@operation(
    "/tickets/<code>/messages",
    summary="Read a ticket's thread",
    tag=TAG,
    responses={200: s.MessageList, **NOT_FOUND},
    description="Replies, events and (for staff) internal notes, oldest first.",
)
def list_messages(code: str):
    actor = current_actor()
    ticket = tickets.find_ticket(actor, code)
    thread = messages.thread(actor, ticket)
    return s.MessageList(items=[message_out(actor, ticket, m) for m in thread])


@operation(
    "/tickets/<code>/messages",
    "POST",
    summary="Reply, or add an internal note",
    tag=TAG,
    scope="write",
    body=s.MessageIn,
    form=s.MessageForm,
    responses={201: s.MessageOut, **REFUSED, 413: s.Problem},
    description="JSON, or `multipart/form-data` with files in `attachments`.",
)
def post_message(code: str, body: s.MessageIn):
    actor = current_actor()
    ticket = tickets.find_ticket(actor, code)
    uploads = [
        Upload(f.filename or "", f.stream)
        for f in request.files.getlist("attachments")
        if f.filename
    ]
    message = messages.post_message(actor, ticket, body.body, uploads, internal=body.internal)
    return message_out(actor, ticket, message), 201


@operation(
    "/tickets/<code>/attachments/<int:attachment_id>",
    summary="Download an attachment",
    tag=TAG,
    responses={200: "application/octet-stream", **NOT_FOUND},
)
def download_attachment(code: str, attachment_id: int):
    actor = current_actor()
    ticket = tickets.find_ticket(actor, code)
    return send_attachment(attachments.find_attachment(actor, ticket, known_id(attachment_id)))
