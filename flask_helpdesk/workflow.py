"""The ticket status machine: the one table of which status follows which.

Services ask :func:`next_status` whenever something happens to a ticket; a pair missing from the
table is refused with :class:`InvalidTransition`, whatever the caller (view, API, mail, rule).
"""

from __future__ import annotations

from enum import StrEnum

from .models.enums import TicketStatus as S


class Trigger(StrEnum):
    AGENT_REPLY = "agent_reply"  # an agent posts a public reply
    CUSTOMER_REPLY = "customer_reply"  # the customer writes (web or mail), also on a closed ticket
    PROCESS = "process"  # an agent marks the ticket as being worked on
    ANSWER = "answer"  # an agent marks it answered without writing (e.g. replied by phone)
    REOPEN = "reopen"  # an agent reopens
    CLOSE = "close"  # agent, customer, or auto-close
    MARK_SPAM = "mark_spam"
    NOT_SPAM = "not_spam"


TRANSITIONS: dict[S, dict[Trigger, S]] = {
    S.OPEN: {
        Trigger.AGENT_REPLY: S.ANSWERED,
        Trigger.CUSTOMER_REPLY: S.OPEN,  # nobody answered yet: still simply open
        Trigger.PROCESS: S.PROCESSING,
        Trigger.ANSWER: S.ANSWERED,
        Trigger.CLOSE: S.CLOSED,
        Trigger.MARK_SPAM: S.SPAM,
    },
    S.ANSWERED: {
        Trigger.AGENT_REPLY: S.ANSWERED,
        Trigger.CUSTOMER_REPLY: S.CUSTOMER_REPLIED,
        Trigger.PROCESS: S.PROCESSING,
        Trigger.REOPEN: S.OPEN,
        Trigger.CLOSE: S.CLOSED,
        Trigger.MARK_SPAM: S.SPAM,
    },
    S.PROCESSING: {
        Trigger.AGENT_REPLY: S.ANSWERED,
        Trigger.CUSTOMER_REPLY: S.CUSTOMER_REPLIED,
        Trigger.ANSWER: S.ANSWERED,
        Trigger.REOPEN: S.OPEN,
        Trigger.CLOSE: S.CLOSED,
        Trigger.MARK_SPAM: S.SPAM,
    },
    S.CUSTOMER_REPLIED: {
        Trigger.AGENT_REPLY: S.ANSWERED,
        Trigger.CUSTOMER_REPLY: S.CUSTOMER_REPLIED,
        Trigger.PROCESS: S.PROCESSING,
        Trigger.ANSWER: S.ANSWERED,
        Trigger.REOPEN: S.OPEN,
        Trigger.CLOSE: S.CLOSED,
        Trigger.MARK_SPAM: S.SPAM,
    },
    S.CLOSED: {
        Trigger.AGENT_REPLY: S.ANSWERED,
        Trigger.CUSTOMER_REPLY: S.CUSTOMER_REPLIED,  # a customer reply reopens (seed 001)
        Trigger.REOPEN: S.OPEN,
        Trigger.MARK_SPAM: S.SPAM,
    },
    S.SPAM: {
        Trigger.NOT_SPAM: S.OPEN,
    },
}

# What an agent may pick in a "status" control, and the triggers that choice may mean (the first
# one the current status allows): "Open" reopens a ticket, or restores one marked as spam.
AGENT_STATUS_CHOICES: dict[S, tuple[Trigger, ...]] = {
    S.OPEN: (Trigger.REOPEN, Trigger.NOT_SPAM),
    S.PROCESSING: (Trigger.PROCESS,),
    S.ANSWERED: (Trigger.ANSWER,),
    S.CLOSED: (Trigger.CLOSE,),
    S.SPAM: (Trigger.MARK_SPAM,),
}

# Triggers a customer may cause.
CUSTOMER_TRIGGERS = frozenset({Trigger.CUSTOMER_REPLY, Trigger.CLOSE})


class InvalidTransition(ValueError):
    def __init__(self, current: S, trigger: Trigger) -> None:
        super().__init__(f"{trigger.value!r} is not allowed on a {current.value!r} ticket")
        self.current = current
        self.trigger = trigger


def can(current: S, trigger: Trigger) -> bool:
    return trigger in TRANSITIONS[current]


def next_status(current: S, trigger: Trigger) -> S:
    """The status after *trigger* happens to a ticket in *current*; raises if not allowed."""
    try:
        return TRANSITIONS[S(current)][Trigger(trigger)]
    except KeyError:
        raise InvalidTransition(S(current), Trigger(trigger)) from None


def trigger_for_agent_choice(current: S, target: S) -> Trigger:
    """The trigger meaning "an agent sets *target*"; raises if that choice is not allowed now."""
    triggers = AGENT_STATUS_CHOICES.get(S(target), ())
    for trigger in triggers:
        if can(current, trigger):
            return trigger
    raise InvalidTransition(S(current), triggers[0] if triggers else Trigger.REOPEN)


def agent_choices(current: S) -> list[S]:
    """Statuses an agent may set from *current* (for the status control)."""
    return [
        status
        for status, triggers in AGENT_STATUS_CHOICES.items()
        if status != current and any(can(current, trigger) for trigger in triggers)
    ]
