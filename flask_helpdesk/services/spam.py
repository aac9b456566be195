"""Spam learning: agents' marks train a naive Bayes filter that screens new tickets.

An agent marking a ticket spam (the status control, the bulk action) trains it as spam;
marking it "not spam" undoes that mark exactly, or, on a ticket the filter quarantined by
itself, trains it as good mail. The counts change in the transaction of the mark, and each
ticket keeps the tokens it was trained with, so a ticket trains once however often it is
marked, and undoing subtracts what was added even if the ticket changed since.

New tickets from customers (web, mail, API) are scored in the transaction that opens them
(:func:`screen`): at or above ``HELPDESK_SPAM_THRESHOLD`` they go to the Spam view, never
deleted, once the filter has seen ``HELPDESK_SPAM_MIN_TRAINING`` spam *and* good tickets;
before that it only suggests. The arithmetic is :mod:`flask_helpdesk.spamfilter`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .. import spamfilter
from ..models import HAM, SPAM, Message, MessageKind, SpamTotals, SpamTraining, Ticket
from ..models.spam import SpamToken
from ..state import current_helpdesk
from .base import cached_for_app, forget_cached_for_app, session
from .identity import Actor

TOKENS = SpamToken.__table__
TOTALS = SpamTotals.__table__
TOTALS_ID = 1
# The trained totals, read by every new ticket's screening: kept per process, forgotten at once
# by a training here, within a second by the other processes when Redis is configured (else
# this many seconds). A few trainings late, a score moves by a hair; the quarantine threshold
# (HELPDESK_SPAM_MIN_TRAINING) is reached at most that late.
TOTALS_CACHE_KEY = ("helpdesk-spam-totals",)
TOTALS_CACHE_TTL = 5.0

# Headers a receiving mail server (SpamAssassin, Rspamd, Exchange's filters) adds with its
# verdict. Only a positive verdict counts: a sender can write these headers too, and all a
# forged "Yes" achieves is quarantining the forger's own mail, while a forged "No" must not
# let anything through.
UPSTREAM_HEADERS = ("x-spam-flag", "x-spam", "x-spam-status")


@dataclass(frozen=True)
class Screening:
    """What the filter says about a new ticket."""

    score: float | None  # None: the filter has learned nothing yet
    words: list[str]  # the words that decided it, most telling first
    upstream: str | None  # the upstream header that flagged it ("X-Spam-Flag: YES")
    quarantine: bool  # goes to the Spam view now
    suggest: bool  # looks like spam, but the filter is still learning: a badge only

    def as_data(self) -> dict[str, Any]:
        """Stored on the ticket's first message, for the agent reading the ticket."""
        return {
            "score": self.score,
            "words": self.words,
            "upstream": self.upstream,
            "action": "quarantined" if self.quarantine else "suggested",
        }


def upstream_verdict(headers: list[tuple[str, str]]) -> str | None:
    """The first spam verdict among a mail's headers, as ``Name: value``; None if none."""
    for name, value in headers:
        if name.strip().lower() not in UPSTREAM_HEADERS:
            continue
        word = value.strip().split(",", 1)[0].split(None, 1)
        if word and word[0].strip().lower() in ("yes", "true"):
            return f"{name.strip()}: {value.strip()[:200]}"
    return None


# -- counts -----------------------------------------------------------------------------------


def totals() -> tuple[int, int]:
    """(spam tickets, good tickets) the filter has been trained with."""

    def read() -> tuple[int, int]:
        query = select(TOTALS.c.spam_count, TOTALS.c.ham_count).where(TOTALS.c.id == TOTALS_ID)
        row = session().execute(query).first()
        return (row[0], row[1]) if row is not None else (0, 0)

    return cached_for_app(TOTALS_CACHE_KEY, TOTALS_CACHE_TTL, read)


def _counts(tokens: list[str]) -> dict[str, tuple[int, int]]:
    if not tokens:
        return {}
    rows = session().execute(
        select(TOKENS.c.token, TOKENS.c.spam_count, TOKENS.c.ham_count).where(
            TOKENS.c.token.in_(tokens)
        )
    )
    return {token: (spam, ham) for token, spam, ham in rows}


def _insert(table):
    dialect = session().get_bind(SpamToken).dialect.name
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(table)


def _add(tokens: list[str], label: str, sign: int) -> None:
    """Count one ticket's *tokens* in (*sign* 1) or out (-1) of *label*'s side."""
    column = "spam_count" if label == SPAM else "ham_count"
    other = "ham_count" if label == SPAM else "spam_count"
    # Sorted: two trainings at once lock the rows they share in the same order (no deadlock).
    tokens = sorted(set(tokens))
    if sign > 0 and tokens:
        insert = _insert(TOKENS).values([{"token": t, column: 1, other: 0} for t in tokens])
        session().execute(
            insert.on_conflict_do_update(
                index_elements=[TOKENS.c.token], set_={column: TOKENS.c[column] + 1}
            )
        )
    elif tokens:
        session().execute(
            update(TOKENS).where(TOKENS.c.token.in_(tokens)).values({column: TOKENS.c[column] - 1})
        )
        # A token nothing counts any more is gone, as if it had never been learned.
        session().execute(
            delete(TOKENS).where(
                TOKENS.c.token.in_(tokens), TOKENS.c.spam_count <= 0, TOKENS.c.ham_count <= 0
            )
        )
    insert = _insert(TOTALS).values({"id": TOTALS_ID, column: max(sign, 0), other: 0})
    session().execute(
        insert.on_conflict_do_update(
            index_elements=[TOTALS.c.id], set_={column: TOTALS.c[column] + sign}
        )
    )
    forget_cached_for_app(TOTALS_CACHE_KEY)


def ticket_tokens(ticket: Ticket) -> list[str]:
    """The tokens of *ticket*: subject, first message and the sender's domain."""
    first = session().scalar(
        select(Message.body)
        .where(Message.ticket_id == ticket.id, Message.kind == MessageKind.REPLY)
        .order_by(Message.created_at, Message.id)
        .limit(1)
    )
    return spamfilter.tokenize(ticket.subject, first or "", _domain(ticket))


def _domain(ticket: Ticket) -> str | None:
    return spamfilter.sender_domain(ticket.email or ticket.requester.email)


# -- learning from marks ----------------------------------------------------------------------


def marked_spam(actor: Actor, ticket: Ticket) -> None:
    """An agent marked *ticket* spam: train it as spam (once, however often it is marked)."""
    training = session().get(SpamTraining, ticket.id)
    if training is not None and training.label == SPAM:
        return
    if training is None:
        tokens = ticket_tokens(ticket)
        training = SpamTraining(ticket_id=ticket.id, label=SPAM, tokens=tokens)
        session().add(training)
    else:  # confirmed good earlier: that is taken back, and restored if this mark is undone
        _add(training.tokens, training.label, -1)
        training.previous, training.label = training.label, SPAM
    training.agent_id = actor.agent.id if actor.agent is not None else None
    _add(training.tokens, SPAM, 1)


def marked_not_spam(actor: Actor, ticket: Ticket) -> None:
    """An agent took *ticket* out of spam.

    If an agent's mark put it there, the mark is undone: the counts are exactly what they were
    before it. If the filter put it there by itself, the agent corrected it: it trains as good.
    """
    training = session().get(SpamTraining, ticket.id)
    if training is not None and training.label == SPAM:
        _add(training.tokens, SPAM, -1)
        if training.previous is None:
            session().delete(training)
            return
        training.label, training.previous = training.previous, None
        _add(training.tokens, training.label, 1)
        return
    if training is not None:  # already trained as good
        return
    tokens = ticket_tokens(ticket)
    agent_id = actor.agent.id if actor.agent is not None else None
    session().add(SpamTraining(ticket_id=ticket.id, label=HAM, tokens=tokens, agent_id=agent_id))
    _add(tokens, HAM, 1)


# -- screening new tickets --------------------------------------------------------------------


def screen(ticket: Ticket, body: str, upstream: str | None = None) -> Screening | None:
    """Score a new ticket; None when it does not look like spam (or the filter is off)."""
    config = current_helpdesk.config
    if not config["HELPDESK_SPAM_FILTER"]:
        return None
    if not config["HELPDESK_SPAM_TRUST_UPSTREAM"]:
        upstream = None
    spam_docs, ham_docs = totals()
    verdict = None
    if spam_docs and ham_docs:
        tokens = spamfilter.tokenize(ticket.subject, body, _domain(ticket))
        verdict = spamfilter.score(tokens, _counts(tokens), spam_docs, ham_docs)
    looks_spam = verdict is not None and verdict.score >= config["HELPDESK_SPAM_THRESHOLD"]
    if not looks_spam and upstream is None:
        return None
    minimum = config["HELPDESK_SPAM_MIN_TRAINING"]
    ready = spam_docs >= minimum and ham_docs >= minimum
    return Screening(
        score=verdict.score if verdict is not None else None,
        words=verdict.deciding_words() if verdict is not None and looks_spam else [],
        upstream=upstream,
        quarantine=upstream is not None or ready,
        suggest=upstream is None and not ready,
    )


def learning_state() -> dict[str, Any]:
    """What the Spam view says about the filter: trained counts and whether it quarantines."""
    spam_docs, ham_docs = totals()
    minimum = current_helpdesk.config["HELPDESK_SPAM_MIN_TRAINING"]
    return {
        "spam": spam_docs,
        "ham": ham_docs,
        "minimum": minimum,
        "enabled": bool(current_helpdesk.config["HELPDESK_SPAM_FILTER"]),
        "ready": spam_docs >= minimum and ham_docs >= minimum,
    }
