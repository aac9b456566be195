"""The webhook delivery status machine, in the shape of ``workflow.py``: one table of which
status follows which. ``services/webhooks.py`` asks :func:`next_delivery_status` for every
attempt and every manual redelivery; a pair missing from the table is refused."""

from __future__ import annotations

from enum import StrEnum


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # due now or at next_attempt_at
    DELIVERED = "delivered"  # a 2xx answer
    FAILED = "failed"  # the retry schedule ran out


class DeliveryEvent(StrEnum):
    SUCCEEDED = "succeeded"  # the receiver answered 2xx
    FAILED_WILL_RETRY = "failed_will_retry"  # any other outcome, with retries left
    FAILED_FOR_GOOD = "failed_for_good"  # any other outcome, none left
    REDELIVER = "redeliver"  # an admin sends it again (same webhook-id)


class InvalidDeliveryTransition(ValueError):
    pass


S, E = DeliveryStatus, DeliveryEvent
DELIVERY_TRANSITIONS: dict[DeliveryStatus, dict[DeliveryEvent, DeliveryStatus]] = {
    S.PENDING: {
        E.SUCCEEDED: S.DELIVERED,
        E.FAILED_WILL_RETRY: S.PENDING,
        E.FAILED_FOR_GOOD: S.FAILED,
        E.REDELIVER: S.PENDING,  # sooner: due now
    },
    S.DELIVERED: {E.REDELIVER: S.PENDING},
    S.FAILED: {E.REDELIVER: S.PENDING},
}


def next_delivery_status(status: DeliveryStatus | str, event: DeliveryEvent) -> DeliveryStatus:
    try:
        return DELIVERY_TRANSITIONS[DeliveryStatus(status)][event]
    except (KeyError, ValueError):
        raise InvalidDeliveryTransition(f"{status} + {event}") from None
