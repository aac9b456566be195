"""Jobs that tell people about access requests: the customer (mail, and SMS when the ticket
asked for it) when support asks, the requesting agent when the customer answers or revokes.

Plain functions taking ids, enqueued by :func:`.access_requested` and :func:`.access_answered`;
they reuse the notification helpers of :mod:`.tickets` (locale, headers, failure trace).
"""

from __future__ import annotations

from flask_babel import force_locale

from ...i18n import gettext as _
from ...links import ticket_url
from ...mail.outbound import mail_locale
from ...models import AccessGrant
from ...state import current_helpdesk
from ..base import session
from .tickets import Recipient, _agent_locale, _customer, _mail, record_failure


def customer_of_access_request(grant_id: int) -> None:
    """Mail the customer that support asks for access (and SMS if the ticket asked for SMS)."""
    grant = session().get(AccessGrant, grant_id)
    if grant is None or not grant.is_pending:
        return
    ticket = grant.ticket
    recipient = _customer(ticket)
    if recipient is not None:
        _mail(
            ticket,
            "access_requested",
            recipient,
            lambda: _("Support asks for access to your account"),
            grant=grant,
            hours=round(grant.duration_seconds / 3600),
            url=ticket_url(ticket),
        )
    if not (ticket.notify_sms and ticket.phone):
        return
    with force_locale(mail_locale(ticket.locale or ticket.requester.locale)):
        text = _(
            "%(site)s: support asks for access to your account (request %(code)s). "
            "Nothing happens unless you accept: %(url)s",
            site=current_helpdesk.config["HELPDESK_SITE_NAME"],
            code=ticket.code,
            url=ticket_url(ticket),
        )
    try:
        current_helpdesk.send_sms(ticket.phone, text)
    except Exception as error:
        record_failure(ticket, "access_requested", "sms", [ticket.phone], error)
        raise


def agent_of_access_answer(grant_id: int) -> None:
    """Mail the requesting agent the customer's answer (accepted, declined, revoked)."""
    grant = session().get(AccessGrant, grant_id)
    if grant is None or not grant.agent.email:
        return
    ticket = grant.ticket
    status = grant.status
    _mail(
        ticket,
        "access_answered",
        Recipient(grant.agent.email, _agent_locale(grant.agent)),
        lambda: _("Account access: %(status)s", status=status.label),
        grant=grant,
        url=ticket_url(ticket, desk=True),
    )
