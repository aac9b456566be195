"""The notification of an SLA warning or breach: mail to the assignee, else the department's
agents, in their language. Queued by the escalation sweep (services/sla_sweep.py) once the
policy's calendar allows it; runs as a job."""

from __future__ import annotations

from ..i18n import gettext as _
from ..links import ticket_url
from ..models import SlaEvent
from .base import session
from .notifications.tickets import _mail, _staff_recipients

TARGET_SUBJECTS = {
    ("first_response", "warned"): lambda s: _("First response due soon: %(subject)s", subject=s),
    ("next_response", "warned"): lambda s: _("Reply due soon: %(subject)s", subject=s),
    ("resolution", "warned"): lambda s: _("Resolution due soon: %(subject)s", subject=s),
    ("first_response", "breached"): lambda s: _("First response overdue: %(subject)s", subject=s),
    ("next_response", "breached"): lambda s: _("Reply overdue: %(subject)s", subject=s),
    ("resolution", "breached"): lambda s: _("Resolution overdue: %(subject)s", subject=s),
}


def staff_of_sla_event(event_id: int) -> None:
    """Job: mail each staff recipient about one warning or breach (each their own message)."""
    event = session().get(SlaEvent, event_id)
    if event is None:
        return
    ticket = event.ticket
    subject_for = TARGET_SUBJECTS[(event.target, event.kind)]
    url = ticket_url(ticket, desk=True)
    failures: list[Exception] = []
    for recipient in _staff_recipients(ticket, None, None):
        try:
            _mail(
                ticket,
                "sla_event",
                recipient,
                lambda: subject_for(ticket.subject),
                event=event,
                url=url,
            )
        except Exception as error:  # recorded by _mail; the others still get theirs
            failures.append(error)
    if failures:
        raise failures[0]
