"""Who hears about what. Services call these inside their unit of work; each only enqueues jobs,
which run after commit through the one dispatcher (inline or RQ). What the jobs do is in
:mod:`.notify`.

- a customer opens a ticket or replies → the staff (assignee, else the department's agents,
  else ``HELPDESK_NOTIFY_EMAILS``);
- support replies publicly (or opens a ticket "sent to the user") → the customer by mail, and
  by SMS when the ticket asked for it;
- support closes a ticket → the customer (not when the customer closed it themselves).

Internal notes never notify the customer: callers do not pass them here, and the jobs check
the message kind again.
"""

from __future__ import annotations

from .. import jobs
from ..models import Message, MessageKind, Ticket


def _customer_of_reply(ticket: Ticket, message: Message) -> None:
    jobs.enqueue(jobs.notify_customer_of_reply, message.id)
    # A job of its own: a failing SMS gateway must not re-send the mail when it is retried.
    if ticket.notify_sms and ticket.phone:
        jobs.enqueue(jobs.sms_customer_of_reply, message.id)


def ticket_created(ticket: Ticket, message: Message, from_support: bool = False) -> None:
    if from_support:
        _customer_of_reply(ticket, message)
    else:
        # Opened by an agent on the customer's behalf: the other agents hear of it, the agent
        # who typed it does not.
        jobs.enqueue(
            jobs.notify_staff_of_customer_activity,
            message.id,
            exclude_agent_id=ticket.creator_agent_id,
        )


def message_posted(ticket: Ticket, message: Message) -> None:
    if message.kind != MessageKind.REPLY:
        return
    if message.author_agent_id is not None:
        _customer_of_reply(ticket, message)
    else:
        jobs.enqueue(jobs.notify_staff_of_customer_activity, message.id)


def ticket_closed(ticket: Ticket, closed_by_customer: bool) -> None:
    if not closed_by_customer:
        jobs.enqueue(jobs.notify_customer_of_close, ticket.id)
