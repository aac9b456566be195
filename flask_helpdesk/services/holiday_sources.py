"""Holidays from outside: a country's (the ``holidays`` package) and iCal feeds or files
(``icalendar`` + ``recurring-ical-events``, recurring events expanded). Both need the
``calendars`` extra: ``pip install flask-helpdesk[calendars]``.

Only whole-day events count as holidays: a feed's timed events (a meeting, "clocks change at
02:00") and events marked as observances (Mother's Day in public-holiday feeds) close nothing.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from ..i18n import gettext as _
from ..models import BusinessCalendar, HolidaySource, utcnow
from . import audit
from .base import ValidationError, commit
from .calendars import get_calendar, merge_imported
from .identity import Actor
from .permissions import ensure

ICAL_MAX_BYTES = 5 * 1024 * 1024
ICAL_TIMEOUT = 20  # seconds
# A multi-day event longer than this is not a holiday (a feed's "summer term", say).
MAX_HOLIDAY_DAYS = 16
OBSERVANCE_MARKERS = ("observance",)


def _years(years: Iterable[int] | None) -> list[int]:
    if years is None:
        this_year = utcnow().year
        return [this_year, this_year + 1, this_year + 2]
    chosen = sorted(set(years))
    if not chosen or chosen[0] < 1900 or chosen[-1] > 2200 or len(chosen) > 50:
        raise ValidationError(_("Choose years between 1900 and 2200."))
    return chosen


def _missing_extra() -> ValidationError:
    return ValidationError(
        _("Holiday import needs the calendars extra: pip install flask-helpdesk[calendars]")
    )


def seed_country(
    actor: Actor,
    calendar_id: int | str,
    country: str,
    subdivision: str | None = None,
    years: Iterable[int] | None = None,
) -> tuple[int, int]:
    """Import a country's (and subdivision's) public holidays; returns (added, removed)."""
    ensure(actor, "manage")
    calendar = get_calendar(calendar_id)
    try:
        import holidays
    except ImportError:
        raise _missing_extra() from None
    country, subdivision = country.strip().upper(), (subdivision or "").strip().upper() or None
    try:
        found = holidays.country_holidays(country, subdiv=subdivision, years=_years(years))
    except NotImplementedError as error:
        message = _("Unknown country or subdivision: %(error)s", error=str(error))
        raise ValidationError(message, {"country": [message]}) from None
    calendar.holiday_country, calendar.holiday_subdivision = country, subdivision
    added, removed = merge_imported(calendar, HolidaySource.COUNTRY, dict(found.items()))
    audit.record(
        actor,
        "calendar.holidays_imported",
        calendar_id=calendar.id,
        source=f"country:{country}{'-' + subdivision if subdivision else ''}",
        added=added,
        removed=removed,
    )
    commit()
    return added, removed


def fetch_ical(url: str) -> bytes:
    """Download a feed (http/https only, size and time bounded)."""
    if not url.lower().startswith(("https://", "http://")):
        raise ValidationError(_("The feed address must start with https://"), {"url": [url]})
    try:
        with urllib.request.urlopen(url, timeout=ICAL_TIMEOUT) as response:
            data = response.read(ICAL_MAX_BYTES + 1)
    except (OSError, ValueError) as error:
        raise ValidationError(
            _("The feed could not be read: %(error)s", error=str(error))
        ) from None
    if len(data) > ICAL_MAX_BYTES:
        raise ValidationError(_("The feed is too large."))
    return data


def ical_holidays(data: bytes, years: Iterable[int] | None = None) -> dict[date, str]:
    """Whole-day, non-observance events of an iCal document within *years*, by day."""
    try:
        import icalendar
        import recurring_ical_events
    except ImportError:
        raise _missing_extra() from None
    chosen = _years(years)
    try:
        document = icalendar.Calendar.from_ical(data)
        events = recurring_ical_events.of(document).between(
            date(chosen[0], 1, 1), date(chosen[-1] + 1, 1, 1)
        )
    except Exception as error:  # the parsers raise many kinds on bad input
        raise ValidationError(
            _("This is not a valid iCal calendar: %(error)s", error=str(error))
        ) from None
    found: dict[date, str] = {}
    for event in events:
        start = event.get("DTSTART")
        if start is None or isinstance(start.dt, datetime):
            continue
        words = f"{event.get('DESCRIPTION', '')} {event.get('CATEGORIES', '')}".lower()
        if any(marker in words for marker in OBSERVANCE_MARKERS):
            continue
        end = event.get("DTEND")
        last = end.dt if end is not None and not isinstance(end.dt, datetime) else None
        days = max(1, (last - start.dt).days) if last else 1
        if days > MAX_HOLIDAY_DAYS:
            continue
        name = str(event.get("SUMMARY", "")).strip()
        for offset in range(days):
            day = start.dt + timedelta(days=offset)
            if chosen[0] <= day.year <= chosen[-1]:
                found.setdefault(day, name)
    return found


def import_ical(
    actor: Actor,
    calendar_id: int | str,
    data: bytes | None = None,
    url: str | None = None,
    years: Iterable[int] | None = None,
) -> tuple[int, int]:
    """Import holidays from an iCal document (*data*) or feed (*url*, remembered for
    re-imports); returns (added, removed)."""
    ensure(actor, "manage")
    calendar: BusinessCalendar = get_calendar(calendar_id)
    if data is None:
        url = url or calendar.ical_url
        if not url:
            raise ValidationError(_("Give an iCal file or feed address."))
        data = fetch_ical(url)
        calendar.ical_url = url
    added, removed = merge_imported(calendar, HolidaySource.ICAL, ical_holidays(data, years=years))
    audit.record(
        actor,
        "calendar.holidays_imported",
        calendar_id=calendar.id,
        source="ical",
        added=added,
        removed=removed,
    )
    commit()
    return added, removed
