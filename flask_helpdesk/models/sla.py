"""Business calendars (zone, weekly windows, holidays) and the SLA policies that use them.

The arithmetic over a calendar lives in :mod:`flask_helpdesk.businesstime`; these rows are what
admins edit, turned into a :class:`~flask_helpdesk.businesstime.WorkCalendar` by
``services.calendars.work_calendar``.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, SmallInteger, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import EnumText, HelpdeskModel, utcnow
from .ticket import Ticket


class HolidaySource(StrEnum):
    MANUAL = "manual"  # typed in by an admin
    COUNTRY = "country"  # seeded from the holidays package for a country/subdivision
    ICAL = "ical"  # imported from an iCal feed or file


class BusinessCalendar(HelpdeskModel):
    """Opening hours in one IANA time zone, with holidays."""

    __tablename__ = "helpdesk_business_calendar"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # Where the holidays come from, for re-imports: a country (ISO 3166) and subdivision, and/or
    # an iCal feed URL.
    holiday_country: Mapped[str | None] = mapped_column(String(8))
    holiday_subdivision: Mapped[str | None] = mapped_column(String(16))
    ical_url: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    windows: Mapped[list[CalendarWindow]] = relationship(
        back_populates="calendar",
        cascade="all, delete-orphan",
        order_by="(CalendarWindow.weekday, CalendarWindow.start_minute)",
    )
    holidays: Mapped[list[Holiday]] = relationship(
        back_populates="calendar", cascade="all, delete-orphan", order_by="Holiday.day"
    )


class CalendarWindow(HelpdeskModel):
    """One opening window of a weekday, in minutes after local midnight (end ≤ 1440)."""

    __tablename__ = "helpdesk_calendar_window"
    __table_args__ = (
        Index("ix_helpdesk_calendar_window_calendar", "calendar_id", "weekday", "start_minute"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    calendar_id: Mapped[int] = mapped_column(
        ForeignKey("helpdesk_business_calendar.id", ondelete="CASCADE")
    )
    weekday: Mapped[int] = mapped_column(SmallInteger)  # 0 = Monday
    start_minute: Mapped[int] = mapped_column(SmallInteger)
    end_minute: Mapped[int] = mapped_column(SmallInteger)

    calendar: Mapped[BusinessCalendar] = relationship(back_populates="windows")


class Holiday(HelpdeskModel):
    """A day the calendar is closed.

    ``edited`` marks a row an admin changed or removed by hand: re-importing its source leaves it
    alone. Removing an imported holiday keeps the row with ``active`` false, so that the next
    import does not bring the day back.
    """

    __tablename__ = "helpdesk_holiday"
    __table_args__ = (UniqueConstraint("calendar_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    calendar_id: Mapped[int] = mapped_column(
        ForeignKey("helpdesk_business_calendar.id", ondelete="CASCADE")
    )
    day: Mapped[date]
    name: Mapped[str] = mapped_column(String(200), default="")
    source: Mapped[HolidaySource] = mapped_column(
        EnumText(HolidaySource), default=HolidaySource.MANUAL
    )
    edited: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)

    calendar: Mapped[BusinessCalendar] = relationship(back_populates="holidays")


class SlaPolicy(HelpdeskModel):
    """Targets for the tickets matching its conditions, in working minutes of its calendar.

    Policies are tried in ``position`` order and the first whose conditions all hold wins; the one
    default policy (at most one, enforced by a partial unique index) catches the rest. Without a
    calendar, targets count plain elapsed time. ``conditions`` is a closed schema checked by
    ``services.sla_policies``: ``department_ids``, ``priorities``, ``channels`` (lists: any of)
    and ``customer`` (contact attribute → required value).
    """

    __tablename__ = "helpdesk_sla_policy"
    __table_args__ = (
        Index("ix_helpdesk_sla_policy_position", "position", "id"),
        Index(
            "ix_helpdesk_sla_policy_one_default",
            "is_default",
            unique=True,
            sqlite_where=text("is_default"),
            postgresql_where=text("is_default"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    position: Mapped[int] = mapped_column(default=0)
    is_default: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)
    conditions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    calendar_id: Mapped[int | None] = mapped_column(
        ForeignKey("helpdesk_business_calendar.id", ondelete="RESTRICT"), index=True
    )
    # Targets in working minutes; None: no target of that kind.
    first_response_minutes: Mapped[int | None]
    next_response_minutes: Mapped[int | None]
    resolution_minutes: Mapped[int | None]
    # A ticket that arrives while the calendar is closed gets this first-response target instead,
    # counted in plain elapsed minutes (seed 002: "1 working hour, else 24 hours").
    after_hours_first_response_minutes: Mapped[int | None]
    # How long before a due time the sweep warns (working minutes).
    warn_before_minutes: Mapped[int] = mapped_column(default=30)
    # Notify agents of warnings and breaches even while the calendar is closed.
    notify_outside_hours: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    calendar: Mapped[BusinessCalendar | None] = relationship(lazy="joined")


class SlaEvent(HelpdeskModel):
    """A warning or breach raised by the escalation sweep, once per ticket, target and cycle.

    The unique key is the once-only guarantee (two sweeps at once: the second insert fails).
    ``cycle`` is 0 for the first response and the resolution, and the clock reading at which a
    next response became owed for that target. ``notify_after`` is when the agents' notification
    may go (the policy calendar's next opening); None once queued.
    """

    __tablename__ = "helpdesk_sla_event"
    __table_args__ = (
        UniqueConstraint("ticket_id", "target", "kind", "cycle"),
        Index("ix_helpdesk_sla_event_notify_after", "notify_after"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("helpdesk_ticket.id", ondelete="CASCADE"))
    target: Mapped[str] = mapped_column(String(20))  # first_response, next_response, resolution
    kind: Mapped[str] = mapped_column(String(10))  # warned, breached
    cycle: Mapped[int] = mapped_column(BigInteger, default=0)
    due_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    notify_after: Mapped[datetime | None]
    notified_at: Mapped[datetime | None]

    ticket: Mapped[Ticket] = relationship()
