"""Blinker signals sent by the services after a change is committed.

Each is sent with the Flask app as sender and the domain objects as keyword arguments::

    from flask_helpdesk import signals

    @signals.ticket_created.connect
    def on_created(app, ticket, actor, **extra): ...
"""

from blinker import Namespace

_signals = Namespace()

ticket_created = _signals.signal("ticket-created")
ticket_replied = _signals.signal("ticket-replied")  # message=..., public replies and notes
ticket_status_changed = _signals.signal("ticket-status-changed")  # old_status=, new_status=
ticket_assigned = _signals.signal("ticket-assigned")  # assignee=, previous=
ticket_closed = _signals.signal("ticket-closed")
ticket_rated = _signals.signal("ticket-rated")  # rating=
ticket_updated = _signals.signal("ticket-updated")  # changes= (department, priority, tags, ...)
ticket_merged = _signals.signal("ticket-merged")  # into=
sla_warned = _signals.signal("sla-warned")  # target=, due_at=, event= (services/sla_sweep.py)
sla_breached = _signals.signal("sla-breached")  # target=, due_at=, event=
# Account access (grant=, ticket=, actor=); impersonation_ended also has reason=.
access_requested = _signals.signal("access-requested")
access_granted = _signals.signal("access-granted")
access_declined = _signals.signal("access-declined")
access_revoked = _signals.signal("access-revoked")
access_expired = _signals.signal("access-expired")
impersonation_started = _signals.signal("impersonation-started")
impersonation_ended = _signals.signal("impersonation-ended")
# Outgoing webhooks: an endpoint switched off after too many failures in a row (endpoint=).
webhook_disabled = _signals.signal("webhook-disabled")
