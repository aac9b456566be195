"""Notifications, in one place: who hears about what, and the jobs that tell them.

Services call the functions here inside their unit of work; each only enqueues a job, which
runs after commit through the one dispatcher (inline or RQ). The jobs themselves (plain
functions taking ids) are in :mod:`.tickets` and :mod:`.consent`.

- a customer opens a ticket or replies → the staff (assignee, else the department's agents,
  else ``HELPDESK_NOTIFY_EMAILS``);
- support replies publicly (or opens a ticket "sent to the user") → the customer by mail, and
  by SMS when the ticket asked for it;
- support closes a ticket → the customer (not when the customer closed it themselves);
- support asks for access to the customer's account → the customer (mail, and SMS when asked);
  the customer answers or revokes → the agent who asked.

Internal notes never notify the customer: callers do not pass them here, and the jobs check
the message kind again.
"""

from __future__ import annotations

from ... import jobs
from ...models import AccessGrant, ContactRequest, Message, MessageKind, Ticket
from . import consent, contact_forms, tickets


def _customer_of_reply(ticket: Ticket, message: Message) -> None:
    jobs.enqueue(tickets.customer_of_reply, message.id)
    # A job of its own: a failing SMS gateway must not re-send the mail when it is retried.
    if ticket.notify_sms and ticket.phone:
        jobs.enqueue(tickets.customer_sms_of_reply, message.id)


def ticket_created(ticket: Ticket, message: Message, from_support: bool = False) -> None:
    if from_support:
        _customer_of_reply(ticket, message)
    else:
        # Opened by an agent on the customer's behalf: the other agents hear of it, the agent
        # who typed it does not.
        jobs.enqueue(
            tickets.staff_of_customer_activity,
            message.id,
            exclude_agent_id=ticket.creator_agent_id,
            new_ticket=True,
        )


def message_posted(ticket: Ticket, message: Message) -> None:
    if message.kind != MessageKind.REPLY:
        return
    if message.author_agent_id is not None or (message.data or {}).get("automatic"):
        _customer_of_reply(ticket, message)  # an agent's reply, or a rule's automatic one
    else:
        jobs.enqueue(tickets.staff_of_customer_activity, message.id, new_ticket=False)


def wrong_language(ticket: Ticket) -> None:
    """The house rule closed *ticket* for its language: the customer is told why."""
    jobs.enqueue(tickets.customer_of_wrong_language, ticket.id)


def mail_refused(sender: str, limit: int, period: str) -> None:
    """The abuse guard kept a mail without opening a ticket: its sender is told why."""
    jobs.enqueue(tickets.sender_of_refused_mail, sender, limit, period)


def contact_link(request: ContactRequest) -> None:
    """A visitor sent the help center's contact form: mail them the confirmation link."""
    jobs.enqueue(contact_forms.visitor_confirmation, request.id)


def contact_opened(ticket: Ticket) -> None:
    """A contact-form request became *ticket*: the visitor learns its code, by mail."""
    jobs.enqueue(contact_forms.visitor_of_opened_request, ticket.id)


def ticket_closed(ticket: Ticket, closed_by_customer: bool, reason: str = "") -> None:
    if not closed_by_customer:
        jobs.enqueue(tickets.customer_of_close, ticket.id, reason=reason)


def access_requested(grant: AccessGrant) -> None:
    jobs.enqueue(consent.customer_of_access_request, grant.id)


def access_answered(grant: AccessGrant) -> None:
    jobs.enqueue(consent.agent_of_access_answer, grant.id)


def rule_notice(
    ticket: Ticket, rule_name: str, agent_ids: list[int], department_id: int | None, text: str
) -> None:
    jobs.enqueue(tickets.staff_of_rule, ticket.id, rule_name, agent_ids, department_id, text)
