"""Facts for reports, recorded when they happen, and the customer's rating of single replies.

A report never replays a ticket's history: every service that changes what a report counts
writes one :class:`TicketFact` row in the same transaction as the change (services/facts.py),
carrying the ticket's department, assignee, channel and priority of that moment and, for the
timed facts, the wall-clock and working seconds (the SLA clock, businesstime.py). Reports are
plain aggregates over these rows, filtered by ``at``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from .base import EnumInt, EnumText, HelpdeskModel, utcnow
from .enums import Channel, Priority


class FactKind(StrEnum):
    CREATED = "created"  # backlog +1
    FIRST_RESPONSE = "first_response"  # wall/work seconds since creation; met = within target
    REPLY = "reply"  # each public agent reply; seconds since the customer began to wait
    RESOLVED = "resolved"  # closed: backlog -1; seconds since creation; met = within target
    REOPENED = "reopened"  # a closed ticket came back: backlog +1
    SPAM = "spam"  # marked spam while in the backlog: backlog -1
    RESTORED = "restored"  # taken out of spam: backlog +1
    MOVED_OUT = "moved_out"  # transferred away while in the backlog: -1 for the old department
    MOVED_IN = "moved_in"  # ... and +1 for the new one
    BREACHED = "breached"  # the escalation sweep found a target missed (``target`` says which)
    RATED = "rated"  # a customer's rating: 1–5 stars after close, or good/bad on one reply


class TicketFact(HelpdeskModel):
    """One thing that happened to a ticket, as reports count it."""

    __tablename__ = "helpdesk_ticket_fact"
    __table_args__ = (
        # Every report filters a period of one kind; the department and agent scopes add theirs.
        Index("ix_helpdesk_ticket_fact_kind_at", "kind", "at"),
        Index("ix_helpdesk_ticket_fact_department", "department_id", "kind", "at"),
        # On SQLite these two hold only the facts with an assignee, an acting agent (migration
        # 0037): a scope compares the column, which implies it is set; a customer's new ticket
        # writes to neither (see Ticket's indexes).
        Index(
            "ix_helpdesk_ticket_fact_assignee",
            "assignee_id",
            "kind",
            "at",
            sqlite_where=text("assignee_id IS NOT NULL"),
        ),
        # An agent's own figures are theirs as assignee or as actor (permissions.visible_facts):
        # the exact percentiles of a small period read both through an index.
        Index(
            "ix_helpdesk_ticket_fact_agent",
            "agent_id",
            "kind",
            "at",
            sqlite_where=text("agent_id IS NOT NULL"),
        ),
        # The backlog before a period: the sum of the deltas up to its start.
        Index("ix_helpdesk_ticket_fact_backlog", "at", "backlog_delta"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("helpdesk_ticket.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[FactKind] = mapped_column(EnumText(FactKind))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    # The ticket as it was when this happened (no foreign keys: a report outlives a department).
    department_id: Mapped[int]
    assignee_id: Mapped[int | None]
    channel: Mapped[Channel] = mapped_column(EnumText(Channel))
    priority: Mapped[Priority] = mapped_column(EnumInt(Priority))
    # Who acted: the agent of a reply, a close or a reopen (None: customer or system).
    agent_id: Mapped[int | None]
    wall_seconds: Mapped[int | None]
    work_seconds: Mapped[int | None]
    # Within the SLA target (None: no target applied); breaches say which target.
    met: Mapped[bool | None]
    target: Mapped[str | None] = mapped_column(String(20))
    backlog_delta: Mapped[int] = mapped_column(SmallInteger, default=0)
    # Ratings: good or not (stars 4–5 are good), the stars when given, the reply rated.
    good: Mapped[bool | None]
    stars: Mapped[int | None] = mapped_column(SmallInteger)
    message_id: Mapped[int | None]


class ReplyRating(HelpdeskModel):
    """The customer's good/bad on one agent reply (seed 004), changeable until the ticket
    closes; its fact row follows every change."""

    __tablename__ = "helpdesk_reply_rating"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("helpdesk_message.id", ondelete="CASCADE"), unique=True
    )
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("helpdesk_ticket.id", ondelete="CASCADE"), index=True
    )
    good: Mapped[bool]
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


# -- the daily roll-up ------------------------------------------------------------------------
#
# One row per local day (``HELPDESK_REPORTS_TIMEZONE``), department, agent, assignee, channel
# and priority, kept by services/facts.py in the same statement-per-change as the facts, so a
# 90-day report reads a few thousand rows instead of millions of facts. Each fact also counts in
# the row of its local week (``span`` 7, ``day`` the Monday), in the same upsert: a period reads
# the weeks that lie wholly inside it and the days at its edges, a fifth of the rows of its
# days for 90 days (SQLite sums each row's 323 columns one by one: rows read are its time).
# Durations are kept as fixed log-scale histograms (one column per bucket, four buckets per
# doubling from one minute to a year): a median or 90th percentile is read from the summed
# buckets, within one bucket's width (at most 19 % of the value; services/reports.py says how
# and when it is exact).
#
# On PostgreSQL a group's row of the day and of the week is spread over up to ``HOT_SLOTS``
# rows (``slot``, the last key column: the writer's backend pid modulo the slots, like the
# department counts, models/counts.py): every creator of a department's web tickets counts
# into the same two rows, locked from the upsert to the commit. Reports sum their rows anyway;
# the ``fold-slots`` sweep (services/hot_rows.py) folds the slots of days and weeks that
# are over into slot 0, so past periods are read as one row per group again.

ROLLUP_COUNTS = (
    "created",
    "solved",  # resolved facts
    "solved_out",  # ... of which left the backlog (a close of a spam ticket leaves nothing)
    "reopened",
    "backlog",  # the sum of every fact's backlog delta
    "first_responses",
    "breaches",
    "met",  # first responses and resolutions within their target
    "with_target",  # ... among those that had one
    "good",
    "rated",
)
# The durations kept as histograms: (column prefix, fact kind, fact column).
ROLLUP_MEASURES = {
    "first_response": ("fr", "first_response", "work_seconds"),
    "first_response_wall": ("frw", "first_response", "wall_seconds"),
    "resolution": ("rs", "resolved", "work_seconds"),
    "resolution_wall": ("rsw", "resolved", "wall_seconds"),
}
# Bucket 0 holds [0, 60 s); bucket i >= 1 holds [EDGES[i - 1], EDGES[i]); the last one is open.
BUCKET_EDGES: tuple[int, ...] = tuple(round(60 * 2 ** (k / 4)) for k in range(77))
BUCKETS = len(BUCKET_EDGES) + 1


def bucket_column(prefix: str, bucket: int) -> str:
    return f"{prefix}_{bucket:02d}"


ROLLUP_KEY = ("span", "day", "department_id", "agent_id", "assignee_id", "channel", "priority")
ROLLUP_SLOT = "slot"  # not in ROLLUP_KEY: a row's group and period; the slot only spreads it
DAY, WEEK = 1, 7  # the spans: a day, or the week (Monday to Sunday) starting on ``day``

report_day = Table(
    "helpdesk_report_day",
    HelpdeskModel.metadata,
    # First in the key: a period's read is one range of weeks and up to two ranges of days.
    Column("span", SmallInteger, primary_key=True),
    Column("day", Date, primary_key=True),
    # No foreign keys, like the facts: a report outlives a department or an agent.
    Column("department_id", Integer, primary_key=True),
    # The agent who acted, else the assignee (the reports' "agent"); 0 for nobody, so that
    # the key has no NULL and an upsert always finds its row.
    Column("agent_id", Integer, primary_key=True),
    # Whose backlog the ticket is in (0: unassigned).
    Column("assignee_id", Integer, primary_key=True),
    Column("channel", String(20), primary_key=True),
    Column("priority", SmallInteger, primary_key=True),
    *[Column(name, Integer, nullable=False, server_default=text("0")) for name in ROLLUP_COUNTS],
    *[
        Column(bucket_column(prefix, b), Integer, nullable=False, server_default=text("0"))
        for prefix, _kind, _column in ROLLUP_MEASURES.values()
        for b in range(BUCKETS)
    ],
    Column(ROLLUP_SLOT, SmallInteger, primary_key=True, server_default=text("0")),
)
