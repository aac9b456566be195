"""Webhook endpoints and their delivery log, for admins (``admin`` scope)."""

from __future__ import annotations

from ..models import WebhookDelivery, WebhookEndpoint
from ..services import webhooks
from . import schemas as s
from .auth import current_actor
from .core import known_id, operation

TAG = "Webhooks"
REFUSED = {403: s.Problem, 404: s.Problem}


def endpoint_out(endpoint: WebhookEndpoint) -> s.WebhookOut:
    return s.WebhookOut(
        id=endpoint.id,
        url=endpoint.url,
        events=endpoint.event_list,
        description=endpoint.description,
        is_active=endpoint.is_active,
        consecutive_failures=endpoint.consecutive_failures,
        disabled_reason=endpoint.disabled_reason,
        created_at=endpoint.created_at,
    )


def delivery_out(delivery: WebhookDelivery) -> s.DeliveryOut:
    return s.DeliveryOut.model_validate(delivery, from_attributes=True)


@operation(
    "/webhooks",
    summary="List webhook endpoints",
    tag=TAG,
    scope="admin",
    responses={200: s.WebhookList, 403: s.Problem},
)
def list_webhooks():
    return s.WebhookList(items=[endpoint_out(e) for e in webhooks.list_endpoints(current_actor())])


@operation(
    "/webhooks",
    "POST",
    summary="Add a webhook endpoint",
    tag=TAG,
    scope="admin",
    body=s.WebhookIn,
    responses={201: s.WebhookCreated, 403: s.Problem, 422: s.Problem},
    description="The answer holds the signing secret, shown this once. Events: "
    + ", ".join(webhooks.EVENT_NAMES)
    + ".",
)
def create_webhook(body: s.WebhookIn):
    endpoint = webhooks.create_endpoint(current_actor(), body.url, body.events, body.description)
    data = endpoint_out(endpoint).model_dump()
    return s.WebhookCreated(**data, secret=endpoint.secret), 201


@operation(
    "/webhooks/<int:endpoint_id>",
    "PATCH",
    summary="Switch a webhook endpoint on or off",
    tag=TAG,
    scope="admin",
    body=s.WebhookUpdate,
    responses={200: s.WebhookOut, **REFUSED, 422: s.Problem},
)
def update_webhook(endpoint_id: int, body: s.WebhookUpdate):
    actor = current_actor()
    endpoint = webhooks.get_endpoint(actor, known_id(endpoint_id))
    return endpoint_out(webhooks.set_active(actor, endpoint, body.is_active))


@operation(
    "/webhooks/<int:endpoint_id>/deliveries",
    summary="An endpoint's delivery log",
    tag=TAG,
    scope="admin",
    responses={200: s.DeliveryList, **REFUSED},
    description="Newest first: status, attempts, the receiver's status and (truncated) answer.",
)
def list_deliveries(endpoint_id: int):
    actor = current_actor()
    endpoint = webhooks.get_endpoint(actor, known_id(endpoint_id))
    return s.DeliveryList(items=[delivery_out(d) for d in webhooks.deliveries(actor, endpoint)])


@operation(
    "/webhook-deliveries/<int:delivery_id>/redeliver",
    "POST",
    summary="Send a delivery again",
    tag=TAG,
    scope="admin",
    responses={202: s.DeliveryOut, **REFUSED},
    description="Same `webhook-id` as before, so receivers can tell it is a repeat.",
)
def redeliver(delivery_id: int):
    return delivery_out(webhooks.redeliver(current_actor(), known_id(delivery_id))), 202
