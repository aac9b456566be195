"""The delivery status table, pair by pair (the shape of tests/test_workflow.py)."""

from __future__ import annotations

import pytest

from flask_helpdesk.webhook_workflow import (
    DeliveryEvent as E,
)
from flask_helpdesk.webhook_workflow import (
    DeliveryStatus as S,
)
from flask_helpdesk.webhook_workflow import (
    InvalidDeliveryTransition,
    next_delivery_status,
)

ALLOWED = {
    (S.PENDING, E.SUCCEEDED): S.DELIVERED,
    (S.PENDING, E.FAILED_WILL_RETRY): S.PENDING,
    (S.PENDING, E.FAILED_FOR_GOOD): S.FAILED,
    (S.PENDING, E.REDELIVER): S.PENDING,
    (S.DELIVERED, E.REDELIVER): S.PENDING,
    (S.FAILED, E.REDELIVER): S.PENDING,
}


@pytest.mark.parametrize(("status", "event"), [(s, e) for s in S for e in E])
def test_every_pair_is_in_the_table_or_refused(status, event):
    if (status, event) in ALLOWED:
        assert next_delivery_status(status, event) == ALLOWED[(status, event)]
    else:
        # A delivered or failed delivery is never sent by a sweep: only a redelivery revives it.
        with pytest.raises(InvalidDeliveryTransition):
            next_delivery_status(status, event)
