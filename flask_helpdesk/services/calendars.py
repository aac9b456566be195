"""Business calendars: opening hours, holidays (by hand, per country, from iCal), and the
:class:`~flask_helpdesk.businesstime.WorkCalendar` the arithmetic runs on.

Holidays have a source. Re-importing a source replaces what that source brought, except the rows
an admin edited or removed by hand (``Holiday.edited``): a hand edit survives every re-import.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from .. import jobs
from ..businesstime import CalendarError, WorkCalendar, normalize_windows
from ..i18n import gettext as _
from ..inputs import is_printable_name
from ..models import BusinessCalendar, CalendarWindow, Holiday, HolidaySource, utcnow
from . import audit
from .base import NotFound, ValidationError, cached_for_app, commit, session
from .identity import Actor
from .permissions import ensure

# How long a built WorkCalendar is reused; edits bump ``updated_at``, which is part of the key.
CALENDAR_CACHE_TTL = 300

WeeklyHours = Mapping[int, str | Iterable[tuple[int, int]]]


def schedule_recompute() -> None:
    """After this transaction commits, recompute open tickets' due times in the background
    (once, however many changes the transaction made)."""
    # The SLA engine builds on this module (work_calendar): it is imported where it is used,
    # not at the top, the one import cycle inside the services layer (tests/test_layers.py).
    from .sla import recompute_due_times

    pending = session().info.get(jobs.PENDING_KEY, [])
    if not any(func is recompute_due_times for func, _args, _kwargs in pending):
        jobs.enqueue(recompute_due_times)


def get_calendar(calendar_id: int | str) -> BusinessCalendar:
    try:
        calendar = session().get(BusinessCalendar, int(calendar_id))
    except (TypeError, ValueError, OverflowError):
        calendar = None
    if calendar is None:
        raise NotFound(_("Calendar not found."))
    return calendar


def list_calendars(with_details: bool = False) -> list[BusinessCalendar]:
    """Calendars by name (*with_details*: their hours and holidays loaded in two queries)."""
    query = select(BusinessCalendar).order_by(BusinessCalendar.name)
    if with_details:
        query = query.options(
            selectinload(BusinessCalendar.windows), selectinload(BusinessCalendar.holidays)
        )
    return list(session().scalars(query))


def calendar_error_message(error: CalendarError) -> str:
    """*error* in the user's language."""
    params = error.params
    if error.kind == "zone":
        return _("Unknown time zone: %(zone)s. Use an IANA name such as Europe/Berlin.", **params)
    if error.kind == "clock":
        return _("%(text)s is not a time of day (HH:MM).", **params)
    if error.kind == "window":
        return _("%(text)s is not an opening window (HH:MM-HH:MM).", **params)
    if error.kind == "inverted":
        return _("The window %(window)s ends before it starts (or crosses midnight).", **params)
    if error.kind == "overlap":
        return _("The windows %(first)s and %(second)s overlap.", **params)
    return str(error)


def _checked(name: str, timezone: str, weekly: WeeklyHours) -> tuple[str, WorkCalendar]:
    """The name and the built calendar, or ValidationError naming the field at fault (``name``,
    ``timezone``, or ``day_0`` .. ``day_6`` for Monday .. Sunday's hours)."""
    name = " ".join((name or "").split())
    if not name or len(name) > 120 or not is_printable_name(name):
        raise ValidationError(_("Please enter a name."), {"name": [_("Please enter a name.")]})
    errors: dict[str, list[str]] = {}
    try:
        WorkCalendar.build(timezone, {})
    except CalendarError as error:
        errors["timezone"] = [calendar_error_message(error)]
    for day, windows in weekly.items():
        try:
            WorkCalendar.build("UTC", {day: windows})
        except CalendarError as error:
            errors[f"day_{day}" if day in range(7) else "hours"] = [calendar_error_message(error)]
    if errors:
        first = next(iter(errors.values()))[0]
        raise ValidationError(
            _("These opening hours are not valid: %(error)s", error=first), errors
        )
    return name, WorkCalendar.build(timezone, weekly)


def _set_windows(calendar: BusinessCalendar, built: WorkCalendar) -> None:
    calendar.windows = [
        CalendarWindow(weekday=day, start_minute=start, end_minute=end)
        for day, windows in enumerate(built.weekly)
        for start, end in windows
    ]


def create_calendar(
    actor: Actor, name: str, timezone: str = "UTC", weekly: WeeklyHours | None = None
) -> BusinessCalendar:
    """A calendar with opening hours per weekday (0 = Monday), e.g. ``{0: "09:00-17:00"}``."""
    ensure(actor, "manage")
    name, built = _checked(name, timezone, weekly or {})
    if session().scalar(select(BusinessCalendar.id).where(BusinessCalendar.name == name)):
        raise ValidationError(_("That name is taken."), {"name": [_("That name is taken.")]})
    calendar = BusinessCalendar(name=name, timezone=built.zone.key)
    _set_windows(calendar, built)
    session().add(calendar)
    session().flush()
    audit.record(actor, "calendar.created", calendar_id=calendar.id, name=name)
    commit()
    return calendar


def update_calendar(
    actor: Actor,
    calendar_id: int | str,
    name: str | None = None,
    timezone: str | None = None,
    weekly: WeeklyHours | None = None,
) -> BusinessCalendar:
    """Rename, move to another zone or change the hours (given days replace, others stay)."""
    ensure(actor, "manage")
    calendar = get_calendar(calendar_id)
    current = {w: [] for w in range(7)}
    for window in calendar.windows:
        current[window.weekday].append((window.start_minute, window.end_minute))
    hours = {**current, **(weekly or {})}
    new_name, built = _checked(name or calendar.name, timezone or calendar.timezone, hours)
    calendar.name, calendar.timezone = new_name, built.zone.key
    _set_windows(calendar, built)
    calendar.updated_at = utcnow()
    audit.record(actor, "calendar.updated", calendar_id=calendar.id, name=new_name)
    schedule_recompute()
    commit()
    return calendar


def weekly_hours(calendar: BusinessCalendar) -> dict[int, tuple[tuple[int, int], ...]]:
    by_day: dict[int, list[tuple[int, int]]] = {day: [] for day in range(7)}
    for window in calendar.windows:
        by_day[window.weekday].append((window.start_minute, window.end_minute))
    return {day: normalize_windows(windows) for day, windows in by_day.items()}


def work_calendar(calendar: BusinessCalendar | None) -> WorkCalendar:
    """The arithmetic's view of *calendar* (round the clock for None), reused while unchanged."""
    if calendar is None:
        return _ALWAYS_OPEN

    def build() -> WorkCalendar:
        days = session().scalars(
            select(Holiday.day).where(Holiday.calendar_id == calendar.id, Holiday.active)
        )
        return WorkCalendar.build(calendar.timezone, weekly_hours(calendar), holidays=days)

    key = ("helpdesk-calendar", calendar.id, calendar.updated_at)
    return cached_for_app(key, CALENDAR_CACHE_TTL, build)


_ALWAYS_OPEN = WorkCalendar.always_open()


# -- holidays ---------------------------------------------------------------------------------


def _holiday(calendar: BusinessCalendar, day: date) -> Holiday | None:
    return session().scalar(
        select(Holiday).where(Holiday.calendar_id == calendar.id, Holiday.day == day)
    )


def add_holiday(actor: Actor, calendar_id: int | str, day: date, name: str = "") -> Holiday:
    """Close the calendar on *day* by hand (also revives or renames an imported holiday)."""
    ensure(actor, "manage")
    calendar = get_calendar(calendar_id)
    name = " ".join((name or "").split())[:200]
    holiday = _holiday(calendar, day)
    if holiday is None:
        holiday = Holiday(calendar_id=calendar.id, day=day, source=HolidaySource.MANUAL)
        session().add(holiday)
    holiday.name = name or holiday.name or ""
    holiday.active = True
    holiday.edited = holiday.source != HolidaySource.MANUAL
    calendar.updated_at = utcnow()
    audit.record(actor, "calendar.holiday_added", calendar_id=calendar.id, day=day.isoformat())
    schedule_recompute()
    commit()
    return holiday


def remove_holiday(actor: Actor, calendar_id: int | str, day: date) -> None:
    """Open the calendar again on *day*. An imported day is kept as removed, so that the next
    import of its source does not bring it back."""
    ensure(actor, "manage")
    calendar = get_calendar(calendar_id)
    holiday = _holiday(calendar, day)
    if holiday is None:
        raise NotFound(_("Holiday not found."))
    if holiday.source == HolidaySource.MANUAL:
        session().delete(holiday)
    else:
        holiday.active, holiday.edited = False, True
    calendar.updated_at = utcnow()
    audit.record(actor, "calendar.holiday_removed", calendar_id=calendar.id, day=day.isoformat())
    schedule_recompute()
    commit()


def merge_imported(
    calendar: BusinessCalendar, source: HolidaySource, days: Mapping[date, str]
) -> tuple[int, int]:
    """Make *source*'s holidays on *calendar* equal to *days*, sparing hand-edited rows and rows
    of other sources; returns (added, removed). No commit."""
    rows = {
        holiday.day: holiday
        for holiday in session().scalars(select(Holiday).where(Holiday.calendar_id == calendar.id))
    }
    added = removed = 0
    for day, row in rows.items():
        if row.source == source and not row.edited and day not in days:
            session().delete(row)
            removed += 1
    for day, name in sorted(days.items()):
        row = rows.get(day)
        if row is None:
            session().add(Holiday(calendar_id=calendar.id, day=day, name=name[:200], source=source))
            added += 1
        elif row.source == source and not row.edited:
            row.name = name[:200]
    calendar.updated_at = utcnow()
    if added or removed:
        schedule_recompute()
    return added, removed
