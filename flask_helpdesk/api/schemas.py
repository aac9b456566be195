"""The API's request and response shapes: one pydantic model each, the single source of the
request validation and of the OpenAPI document (``openapi.py``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..models import TicketStatus

MAX_ID = 2**31 - 1  # ids are INTEGER columns: larger values are refused, never sent to SQL
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
PriorityName = Literal["low", "normal", "high", "urgent"]
Scope = Literal["read", "write", "admin"]


class Input(BaseModel):
    """Request bodies: unknown fields are refused, so a misspelt field is not silently lost."""

    model_config = ConfigDict(extra="forbid")


# -- errors ---------------------------------------------------------------------------------


class FieldError(BaseModel):
    field: str = Field(description="Dotted path of the offending field ('' for the body).")
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details (``application/problem+json``)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str = ""
    errors: list[FieldError] = Field(default_factory=list)


# -- tickets ----------------------------------------------------------------------------------


class DepartmentRef(BaseModel):
    id: int
    name: str


class Person(BaseModel):
    kind: Literal["customer", "agent", "system"]
    id: int | None = Field(None, description="Contact or agent id (not shown to customers).")
    name: str
    email: str | None = None


class SlaOut(BaseModel):
    """Due instants while support owes something (None while the clock is paused or stopped)."""

    first_response_due_at: datetime | None = None
    next_response_due_at: datetime | None = None
    resolution_due_at: datetime | None = None
    first_response_breached: bool = False
    next_response_breached: bool = False
    resolution_breached: bool = False


class TicketOut(BaseModel):
    code: str
    subject: str
    status: TicketStatus
    priority: PriorityName
    channel: str
    department: DepartmentRef
    requester: Person
    assignee: Person | None = None
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None = None
    rating: int | None = Field(None, description="Stars of the customer's rating, if rated.")
    sla: SlaOut | None = Field(None, description="Staff only: the SLA's due times.")


class TicketPage(BaseModel):
    items: list[TicketOut]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page.")
    prev_cursor: str | None = None


class TicketListQuery(Input):
    """The desk queue's filters (services/queues.py), validated instead of ignored."""

    status: list[TicketStatus] = Field(default_factory=list)
    department: Id | None = None
    assignee: Annotated[str, Field(pattern=r"^(anyone|me|unassigned|[1-9][0-9]{0,9})$")] = "anyone"
    requester: Id | None = None
    priority: PriorityName | None = None
    tag: Annotated[str, Field(max_length=64)] | None = None
    created_from: date | None = None
    created_to: date | None = None
    updated_from: date | None = None
    updated_to: date | None = None
    unread: bool = False
    q: Annotated[str, Field(max_length=200)] = ""
    sort: Literal["updated", "created", "priority"] = "updated"
    cursor: Annotated[str, Field(max_length=400)] | None = None
    per_page: Annotated[int, Field(ge=1, le=100)] = 25


class TicketCreate(Input):
    department_id: Id
    subject: Annotated[str, Field(min_length=1, max_length=1000)]
    body: Annotated[str, Field(min_length=1, max_length=1_000_000)]
    priority: PriorityName = "normal"
    email: Annotated[str, Field(max_length=254)] | None = None
    phone: Annotated[str, Field(max_length=40)] | None = None
    requester: Annotated[str, Field(max_length=300)] | None = Field(
        None,
        description="Staff only: the customer, as `contact:<id>` or `user:<host user id>`.",
    )
    send_to_user: bool = Field(
        False, description="Staff only: the first message is from support and is mailed."
    )
    allow_duplicate: bool = Field(
        False,
        description="Open the ticket even when it closely matches one of the customer's open "
        "tickets (the duplicate guard, a house rule, answers `409` naming that ticket first).",
    )


class TicketUpdate(Input):
    """Fields to change; applied in this order: department, assignee, priority, tags, status."""

    department_id: Id | None = None
    assignee_id: Id | None = Field(
        None, description="An agent id; `null` unassigns (only when the field is sent)."
    )
    priority: PriorityName | None = None
    tags: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=50)] | None = None
    status: TicketStatus | None = None


class MergeIn(Input):
    into: Annotated[str, Field(min_length=1, max_length=40, description="Target ticket code.")]


class RatingIn(Input):
    stars: Annotated[int, Field(ge=1, le=5)]
    comment: Annotated[str, Field(max_length=2000)] = ""


class RatingOut(BaseModel):
    stars: int
    comment: str
    created_at: datetime


# -- messages ---------------------------------------------------------------------------------


class AttachmentOut(BaseModel):
    id: int
    filename: str
    content_type: str
    size: int
    url: str


class MessageOut(BaseModel):
    id: int
    kind: Literal["reply", "note", "event"]
    channel: str
    body: str
    author: Person | None = None
    data: dict[str, Any] = Field(default_factory=dict, description="Event details.")
    attachments: list[AttachmentOut] = Field(default_factory=list)
    created_at: datetime


class MessageList(BaseModel):
    items: list[MessageOut]


class MessageIn(Input):
    body: Annotated[str, Field(max_length=1_000_000)] = ""
    internal: bool = Field(False, description="Staff only: an internal note.")


class MessageForm(BaseModel):
    """``multipart/form-data``: the same fields, plus files."""

    body: str = ""
    internal: bool = False
    attachments: list[bytes] = Field(
        default_factory=list, json_schema_extra={"items": {"type": "string", "format": "binary"}}
    )


# -- directory --------------------------------------------------------------------------------


class DepartmentOut(BaseModel):
    id: int
    slug: str
    name: str
    description: str


class DepartmentList(BaseModel):
    items: list[DepartmentOut]


class AgentOut(BaseModel):
    id: int
    name: str
    email: str | None
    role: str
    availability: str
    is_active: bool


class AgentList(BaseModel):
    items: list[AgentOut]


class CannedReplyOut(BaseModel):
    id: int
    title: str
    body: str
    department_id: int | None


class CannedReplyList(BaseModel):
    items: list[CannedReplyOut]


class ContactOut(BaseModel):
    id: int
    name: str
    email: str | None
    phone: str | None
    locale: str | None
    attributes: dict[str, Any]
    created_at: datetime


class ContactList(BaseModel):
    items: list[ContactOut]


class ContactSearchQuery(Input):
    q: Annotated[str, Field(min_length=2, max_length=200)]
    limit: Annotated[int, Field(ge=1, le=50)] = 20


AttributeValue = str | int | float | bool | None


class ContactUpdate(Input):
    attributes: Annotated[
        dict[Annotated[str, Field(min_length=1, max_length=64)], AttributeValue],
        Field(max_length=100),
    ] = Field(description="Merged into the contact's attributes; `null` removes a key.")


class EmptyQuery(Input):
    pass


# -- webhooks ---------------------------------------------------------------------------------


class WebhookIn(Input):
    url: Annotated[str, Field(min_length=8, max_length=2000)]
    events: Annotated[list[Annotated[str, Field(max_length=60)]], Field(max_length=30)] = Field(
        default_factory=lambda: ["*"], description="Event names, or `*` for all."
    )
    description: Annotated[str, Field(max_length=200)] = ""


class WebhookUpdate(Input):
    is_active: bool


class WebhookOut(BaseModel):
    id: int
    url: str
    events: list[str]
    description: str
    is_active: bool
    consecutive_failures: int
    disabled_reason: str | None
    created_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(description="The signing secret (`whsec_...`); shown at creation only.")


class WebhookList(BaseModel):
    items: list[WebhookOut]


class DeliveryOut(BaseModel):
    id: int
    msg_id: str
    event: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: datetime
    last_attempt_at: datetime | None
    response_status: int | None
    response_body: str | None
    error: str | None
    created_at: datetime


class DeliveryList(BaseModel):
    items: list[DeliveryOut]
