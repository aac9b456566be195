"""The contact form's mails to a visitor who is not logged in: the link that confirms their
address, and the note that their request was opened (which their replies thread back to)."""

from __future__ import annotations

from flask_babel import force_locale

from ... import jobs
from ...i18n import gettext as _
from ...links import external_url, ticket_url
from ...mail.outbound import AUTOMATIC_HEADERS, render_mail, send_mail
from ...models import ContactRequest, Ticket
from ...state import current_helpdesk
from ..base import session
from ..contact_tokens import confirmation_token
from .tickets import Recipient, _mail


def visitor_confirmation(request_id: int) -> None:
    """Mail the confirmation link of a contact-form request (none once it is confirmed)."""
    request = session().get(ContactRequest, request_id)
    if request is None or request.confirmed_at is not None or request.ticket_id is not None:
        return
    token = confirmation_token(request)
    prefix = current_helpdesk.config["HELPDESK_URL_PREFIX"]
    url = external_url(
        "helpdesk.contact_confirm", f"{prefix}/help/contact/confirm/{token}", token=token
    )
    max_age = current_helpdesk.config["HELPDESK_CONTACT_FORM_LINK_MAX_AGE"]
    hours = max(1, round(max_age.total_seconds() / 3600))
    rendered = render_mail(
        "contact_confirm", locale=request.language, request=request, url=url, hours=hours
    )
    with force_locale(rendered.locale):
        subject = _("Please confirm your request: %(subject)s", subject=request.subject)
    done_key = f"mail:contact-confirm:{request.id}"
    if jobs.already_done(done_key):
        return
    send_mail(
        [request.email],
        subject,
        rendered.text,
        rendered.html,
        headers={"Content-Language": rendered.locale.replace("_", "-"), **AUTOMATIC_HEADERS},
    )
    jobs.mark_done(done_key)


def visitor_of_opened_request(ticket_id: int) -> None:
    """Tell the visitor their request is open, in a mail of the ticket's thread: answering it
    adds to the ticket, as for anyone who wrote to support by mail."""
    ticket = session().get(Ticket, ticket_id)
    if ticket is None:
        return
    address = ticket.email or ticket.requester.email
    if not address:
        return
    _mail(
        ticket,
        "contact_opened",
        Recipient(address, ticket.locale or ticket.requester.locale),
        lambda: ticket.subject,
        member=ticket.requester.user_id is not None,
        url=ticket_url(ticket),
    )
