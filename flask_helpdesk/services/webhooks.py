"""Outgoing webhooks (docs/api.rst): the outbox written with each change, signed delivery per
the Standard Webhooks spec, retries with backoff, auto-disable, manual redelivery.

:func:`record_event` runs inside the service's transaction (from :func:`audit.record`): one
``INSERT ... SELECT`` adds a delivery per subscribed endpoint, whatever their number, and costs
one statement when there are none. Sending happens after commit (:func:`send_delivery`, a job
on RQ), never between two writes of a unit of work; :func:`deliver_due` is the sweep that
(re)sends whatever is due, so a lost job only delays a delivery.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import secrets
import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, cast, insert, literal, select, update
from sqlalchemy import event as orm_event

from .. import jobs, signals
from ..i18n import gettext as _
from ..models import Ticket, WebhookDelivery, WebhookEndpoint, utcnow
from ..state import current_helpdesk
from ..webhook_workflow import DeliveryEvent, DeliveryStatus, next_delivery_status
from . import audit, webhook_http
from .base import (
    Forbidden,
    NotFound,
    ValidationError,
    cached_for_app,
    commit,
    forget_cached_for_app,
    send_signal,
    session,
)
from .identity import SYSTEM, Actor
from .notifications.webhooks import admins_of_disabled_webhook

# Audit actions reported, by the event name receivers see.
EVENTS = {
    "ticket.created": "ticket.created",
    "message.reply": "message.created",
    "message.note": "note.created",
    "ticket.status_changed": "ticket.status_changed",
    "ticket.closed": "ticket.closed",
    "ticket.assigned": "ticket.assigned",
    "ticket.transferred": "ticket.updated",
    "ticket.priority_changed": "ticket.updated",
    "ticket.tagged": "ticket.updated",
    "ticket.merged": "ticket.merged",
    "ticket.rated": "ticket.rated",
    "rule.webhook": "rule.fired",  # a rule's "call webhooks" action
}
EVENT_NAMES = sorted(set(EVENTS.values()))
# Seconds before retry n (Standard Webhooks' suggested schedule): about 28 hours in all.
RETRY_DELAYS = (5, 300, 1800, 7200, 18000, 36000, 36000)
LEASE = timedelta(minutes=5)  # a claimed delivery is left alone this long by other senders
RESPONSE_KEEP = 2000


def sign(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    """The ``webhook-signature`` value: ``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body``
    keyed with the secret's base64 part (the key is the decoded secret, never its text)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    content = f"{msg_id}.{timestamp}.{body}".encode()
    return "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def _msg_id() -> str:
    return "msg_" + secrets.token_urlsafe(18)


# -- the outbox -------------------------------------------------------------------------------


# What the active endpoints subscribe to, read at most once per SUBSCRIPTIONS_TTL seconds per
# process (forgotten at once after a change, in every process when Redis is configured): most
# sites have no webhook, and every change would otherwise run an INSERT … SELECT writing nothing.
SUBSCRIPTIONS_TTL = 5
_SUBSCRIPTIONS_KEY = ("helpdesk-webhook-subscriptions",)


def _subscribed(event_name: str) -> bool:
    def compute() -> frozenset[str]:
        query = select(WebhookEndpoint.events).where(WebhookEndpoint.is_active.is_(True))
        with session().no_autoflush:
            return frozenset(name for row in session().scalars(query) for name in row.split())

    names = cached_for_app(_SUBSCRIPTIONS_KEY, SUBSCRIPTIONS_TTL, compute)
    return event_name in names or "*" in names


@orm_event.listens_for(WebhookEndpoint, "after_insert")
@orm_event.listens_for(WebhookEndpoint, "after_update")
@orm_event.listens_for(WebhookEndpoint, "after_delete")
def _subscriptions_changed(mapper, connection, target) -> None:
    forget_cached_for_app(_SUBSCRIPTIONS_KEY)


def record_event(action: str, ticket: Ticket | None, data: dict[str, Any]) -> None:
    """Add a delivery of *action* to every active endpoint subscribed to it, in the current
    transaction (one statement; none while no active endpoint subscribes to it, see
    :data:`SUBSCRIPTIONS_TTL`). Called by :func:`audit.record` for every change."""
    event = EVENTS.get(action)
    if event is None or ticket is None or not _subscribed(event):
        return
    payload = json.dumps(
        {
            "type": event,
            "timestamp": utcnow().isoformat(),
            "data": {
                "ticket": {
                    "code": ticket.code,
                    "subject": ticket.subject,
                    "status": ticket.status.value if ticket.status else None,
                    "department_id": ticket.department_id,
                },
                **data,
            },
        },
        separators=(",", ":"),
        default=str,
    )
    now = utcnow()
    subscribed = select(
        WebhookEndpoint.id,
        literal(_msg_id() + "_") + cast(WebhookEndpoint.id, String(12)),
        literal(event),
        literal(payload),
        literal(DeliveryStatus.PENDING.value),
        literal(0),
        literal(now, WebhookDelivery.next_attempt_at.type),
        literal(now, WebhookDelivery.created_at.type),
    ).where(
        WebhookEndpoint.is_active.is_(True),
        WebhookEndpoint.events.like(f"% {event} %") | WebhookEndpoint.events.like("% * %"),
    )
    columns = ["endpoint_id", "msg_id", "event", "payload", "status", "attempts"]
    columns += ["next_attempt_at", "created_at"]
    added = session().execute(insert(WebhookDelivery).from_select(columns, subscribed))
    # Most changes have no subscriber: queue the sender only when a delivery was written, so a
    # site without webhooks pays one INSERT per change and no job.
    if added.rowcount and current_helpdesk.dispatcher.uses_rq:
        jobs.enqueue(deliver_due)


# -- sending ----------------------------------------------------------------------------------


def _claim(delivery_id: int, now: datetime) -> bool:
    """Take a due delivery for LEASE; False if another sender has it or it is not due."""
    result = session().execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.status == DeliveryStatus.PENDING,
            WebhookDelivery.next_attempt_at <= now,
        )
        .values(next_attempt_at=now + LEASE)
    )
    commit()
    return result.rowcount == 1


def send_delivery(delivery_id: int) -> str | None:
    """Send one due delivery now; its new status, or None if it was not ours to send."""
    now = utcnow()
    if not _claim(delivery_id, now):
        return None
    delivery = session().get(WebhookDelivery, delivery_id)
    assert delivery is not None
    endpoint = delivery.endpoint
    timestamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "user-agent": "flask-helpdesk-webhooks",
        "webhook-id": delivery.msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(endpoint.secret, delivery.msg_id, timestamp, delivery.payload),
    }
    config = current_helpdesk.config
    result = webhook_http.post(
        endpoint.url,
        delivery.payload.encode(),
        headers,
        timeout=config["HELPDESK_WEBHOOK_TIMEOUT"],
        allow_private=config["HELPDESK_WEBHOOK_ALLOW_PRIVATE"],
    )
    delivery.attempts += 1
    delivery.last_attempt_at = utcnow()
    delivery.response_status = result.status
    delivery.response_body = (result.body or "")[:RESPONSE_KEEP]
    delivery.error = (result.error or "")[:500] or None
    disabled = False
    if result.ok:
        delivery.status = next_delivery_status(delivery.status, DeliveryEvent.SUCCEEDED)
        endpoint.consecutive_failures = 0
        endpoint.failing_since = None
    else:
        disabled = _failed(delivery, endpoint)
    commit()
    if disabled:
        send_signal(signals.webhook_disabled, endpoint=endpoint)
    return delivery.status


def _failed(delivery: WebhookDelivery, endpoint: WebhookEndpoint) -> bool:
    """Schedule the next try (or give up); True if the endpoint was just switched off."""
    if delivery.attempts > len(RETRY_DELAYS):
        delivery.status = next_delivery_status(delivery.status, DeliveryEvent.FAILED_FOR_GOOD)
    else:
        delivery.status = next_delivery_status(delivery.status, DeliveryEvent.FAILED_WILL_RETRY)
        delay = RETRY_DELAYS[delivery.attempts - 1]
        jitter = random.uniform(0, delay * 0.1)  # spreads retries; no secrecy needed
        delivery.next_attempt_at = utcnow() + timedelta(seconds=delay + jitter)
    endpoint.consecutive_failures += 1
    now = utcnow()
    if endpoint.failing_since is None:
        endpoint.failing_since = now
    if endpoint.is_active and _failing_long_enough(endpoint, now):
        endpoint.is_active = False
        endpoint.disabled_reason = (
            f"{endpoint.consecutive_failures} failures in a row"
            f" since {endpoint.failing_since:%Y-%m-%d %H:%M} UTC"
        )
        audit.record(SYSTEM, "webhook.disabled", endpoint_id=endpoint.id, url=endpoint.url)
        current_helpdesk.app.logger.warning(
            "helpdesk: webhook endpoint #%s (%s) disabled after %s failures in a row",
            endpoint.id,
            endpoint.url,
            endpoint.consecutive_failures,
        )
        jobs.enqueue(admins_of_disabled_webhook, endpoint.id)
        return True
    return False


def _failing_long_enough(endpoint: WebhookEndpoint, now: datetime) -> bool:
    """Both limits reached: ``HELPDESK_WEBHOOK_DISABLE_AFTER`` failed attempts in a row and
    ``HELPDESK_WEBHOOK_DISABLE_AFTER_HOURS`` since the first of them. The count alone would
    switch a healthy receiver off for a burst of events during a one-minute deploy; the time
    alone would let one slow retry schedule decide."""
    config = current_helpdesk.config
    limit = config["HELPDESK_WEBHOOK_DISABLE_AFTER"]
    if not limit or endpoint.consecutive_failures < limit:
        return False
    hours = config["HELPDESK_WEBHOOK_DISABLE_AFTER_HOURS"] or 0
    return now - (endpoint.failing_since or now) >= timedelta(hours=hours)


def due_deliveries(limit: int = 100) -> list[int]:
    now = utcnow()
    return list(
        session().scalars(
            select(WebhookDelivery.id)
            .join(WebhookEndpoint)
            .where(
                WebhookDelivery.status == DeliveryStatus.PENDING,
                WebhookDelivery.next_attempt_at <= now,
                WebhookEndpoint.is_active.is_(True),
            )
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(limit)
        )
    )


def deliver_due(limit: int = 100) -> int:
    """Send up to *limit* due deliveries (the sweep: cron or the worker); how many were sent."""
    return sum(1 for i in due_deliveries(limit) if send_delivery(i) is not None)


# -- managing endpoints -----------------------------------------------------------------------


def _admin(actor: Actor) -> None:
    if not (actor.is_system or (actor.is_agent and actor.is_admin)):
        raise Forbidden(_("Only admins can manage webhooks."))


def create_endpoint(
    actor: Actor, url: str, events: list[str] | None = None, description: str = ""
) -> WebhookEndpoint:
    _admin(actor)
    url = (url or "").strip()
    if not url.startswith(("https://", "http://")) or len(url) > 2000:
        raise ValidationError(_("Not a valid URL."), {"url": [_("Not a valid URL.")]})
    wanted = sorted(set(events or ["*"]))
    unknown = [e for e in wanted if e != "*" and e not in EVENT_NAMES]
    if unknown:
        raise ValidationError(_("Unknown event."), {"events": unknown})
    endpoint = WebhookEndpoint(
        url=url,
        events=" " + " ".join(wanted) + " ",
        secret=new_secret(),
        description=(description or "")[:200],
        is_active=True,
        consecutive_failures=0,
    )
    session().add(endpoint)
    session().flush()
    audit.record(actor, "webhook.created", endpoint_id=endpoint.id, url=url)
    commit()
    return endpoint


def list_endpoints(actor: Actor) -> list[WebhookEndpoint]:
    _admin(actor)
    return list(session().scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)))


def get_endpoint(actor: Actor, endpoint_id: int) -> WebhookEndpoint:
    _admin(actor)
    endpoint = session().get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise NotFound(_("No such webhook."))
    return endpoint


def set_active(actor: Actor, endpoint: WebhookEndpoint, active: bool) -> WebhookEndpoint:
    """Switch an endpoint on or off; on again starts its failure count afresh."""
    _admin(actor)
    endpoint.is_active = active
    if active:
        endpoint.consecutive_failures = 0
        endpoint.failing_since = None
        endpoint.disabled_reason = None
    audit.record(
        actor, "webhook.activated" if active else "webhook.deactivated", endpoint_id=endpoint.id
    )
    commit()
    return endpoint


def deliveries(actor: Actor, endpoint: WebhookEndpoint, limit: int = 50) -> list[WebhookDelivery]:
    """The delivery log of *endpoint*, newest first."""
    _admin(actor)
    return list(
        session().scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint.id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
        )
    )


def redeliver(actor: Actor, delivery_id: int) -> WebhookDelivery:
    """Send a delivery again (same ``webhook-id``) at the next sweep or job."""
    _admin(actor)
    delivery = session().get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise NotFound(_("No such delivery."))
    delivery.status = next_delivery_status(delivery.status, DeliveryEvent.REDELIVER)
    delivery.next_attempt_at = utcnow()
    audit.record(actor, "webhook.redelivered", delivery_id=delivery.id)
    if current_helpdesk.dispatcher.uses_rq:
        jobs.enqueue(deliver_due)
    commit()
    return delivery
