"""Business calendars in the database: hours, holidays by hand, per country and from iCal;
hand edits survive re-imports; the arithmetic sees what admins saved."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from flask_helpdesk.models import Holiday, HolidaySource
from flask_helpdesk.services import ServiceError
from flask_helpdesk.services.base import Forbidden, ValidationError, session
from flask_helpdesk.services.calendars import (
    add_holiday,
    create_calendar,
    remove_holiday,
    update_calendar,
    work_calendar,
)
from flask_helpdesk.services.holiday_sources import ical_holidays, import_ical, seed_country

WEEKDAYS = {day: "09:00-17:00" for day in range(5)}


def _holidays(calendar) -> dict[date, tuple[str, bool]]:
    session().expire_all()
    rows = session().query(Holiday).filter_by(calendar_id=calendar.id).all()
    return {row.day: (row.source.value, row.active) for row in rows}


def test_a_saved_calendar_computes_the_issues_berlin_easter_case(admin):
    calendar = create_calendar(admin, "Berlin office", "Europe/Berlin", WEEKDAYS)
    seed_country(admin, calendar.id, "DE", years=[2026])
    due = work_calendar(calendar).add_minutes(datetime(2026, 4, 2, 14, 0, tzinfo=UTC), 120)
    assert due.isoformat() == "2026-04-07T08:00:00+00:00"  # 10:00 in Berlin


def test_subdivision_holidays_come_with_the_country(admin):
    calendar = create_calendar(admin, "Munich", "Europe/Berlin", WEEKDAYS)
    seed_country(admin, calendar.id, "de", "by", years=[2026])
    # Epiphany is a holiday in Bavaria, not in Berlin.
    assert date(2026, 1, 6) in _holidays(calendar)
    assert calendar.holiday_country == "DE" and calendar.holiday_subdivision == "BY"


def test_unknown_country_is_a_clear_error(admin):
    calendar = create_calendar(admin, "Nowhere", "UTC", WEEKDAYS)
    with pytest.raises(ValidationError, match="Unknown country"):
        seed_country(admin, calendar.id, "XX", years=[2026])


def test_hand_edits_survive_a_reimport(admin):
    calendar = create_calendar(admin, "Berlin office", "Europe/Berlin", WEEKDAYS)
    seed_country(admin, calendar.id, "DE", years=[2026])
    # The office works on Whit Monday, closes on Christmas Eve, and renames Good Friday.
    remove_holiday(admin, calendar.id, date(2026, 5, 25))
    add_holiday(admin, calendar.id, date(2026, 12, 24), "Christmas Eve")
    add_holiday(admin, calendar.id, date(2026, 4, 3), "Karfreitag")
    added, removed = seed_country(admin, calendar.id, "DE", years=[2026])
    assert (added, removed) == (0, 0)
    days = _holidays(calendar)
    assert days[date(2026, 5, 25)] == ("country", False)
    assert days[date(2026, 12, 24)] == ("manual", True)
    assert session().query(Holiday).filter_by(day=date(2026, 4, 3)).one().name == "Karfreitag"
    whit_monday = datetime(2026, 5, 25, 9, 0, tzinfo=UTC)
    assert work_calendar(calendar).is_open(whit_monday)


def test_a_reimport_drops_what_the_source_no_longer_has(admin):
    calendar = create_calendar(admin, "Feed", "UTC", WEEKDAYS)
    import_ical(admin, calendar.id, data=_ics(_event("20260101", "New Year")), years=[2026])
    import_ical(admin, calendar.id, data=_ics(_event("20260102", "Bridge day")), years=[2026])
    assert _holidays(calendar) == {date(2026, 1, 2): ("ical", True)}


def _event(day: str, summary: str, extra: str = "") -> str:
    return (
        f"BEGIN:VEVENT\r\nUID:{day}-{summary}@test\r\nDTSTAMP:20260101T000000Z\r\n"
        f"DTSTART;VALUE=DATE:{day}\r\nSUMMARY:{summary}\r\n{extra}END:VEVENT\r\n"
    )


def _ics(*events: str) -> bytes:
    body = "".join(events)
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//\r\n{body}END:VCALENDAR\r\n".encode()


def test_ical_expands_recurring_events_and_skips_what_is_not_a_day_off():
    data = _ics(
        _event("20200501", "Labour Day", "RRULE:FREQ=YEARLY\r\n"),
        _event("20260510", "Mother's Day", "DESCRIPTION:Observance\r\n"),
        _event("20261224", "Holidays", "DTEND;VALUE=DATE:20261227\r\n"),
        _event("20260901", "Term", "DTEND;VALUE=DATE:20261220\r\n"),  # months long: not a holiday
        "BEGIN:VEVENT\r\nUID:m@test\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260302T100000Z\r\n"
        "DTEND:20260302T110000Z\r\nSUMMARY:Team meeting\r\nEND:VEVENT\r\n",
    )
    found = ical_holidays(data, years=[2026, 2027])
    assert found == {
        date(2026, 5, 1): "Labour Day",
        date(2027, 5, 1): "Labour Day",
        date(2026, 12, 24): "Holidays",
        date(2026, 12, 25): "Holidays",
        date(2026, 12, 26): "Holidays",
    }


@pytest.mark.parametrize(
    "data", [b"", b"not a calendar", b"BEGIN:VCALENDAR\r\n\x00\xff", b"BEGIN:VEVENT\r\n" * 1000]
)
def test_broken_ical_is_refused_and_changes_nothing(admin, data):
    calendar = create_calendar(admin, "Feed", "UTC", WEEKDAYS)
    add_holiday(admin, calendar.id, date(2026, 1, 1), "New Year")
    with pytest.raises(ValidationError):
        import_ical(admin, calendar.id, data=data, years=[2026])
    assert _holidays(calendar) == {date(2026, 1, 1): ("manual", True)}


def test_feed_addresses_must_be_http():
    from flask_helpdesk.services.holiday_sources import fetch_ical

    with pytest.raises(ValidationError):
        fetch_ical("file:///etc/passwd")


def test_invalid_hours_and_zones_are_refused(admin):
    with pytest.raises(ValidationError):
        create_calendar(admin, "Bad", "UTC", {0: "17:00-09:00"})
    with pytest.raises(ValidationError):
        create_calendar(admin, "Bad", "Nowhere/City", WEEKDAYS)
    with pytest.raises(ValidationError):
        create_calendar(admin, "\x00 ", "UTC", WEEKDAYS)


def test_changing_hours_changes_the_arithmetic_at_once(admin):
    calendar = create_calendar(admin, "Office", "UTC", WEEKDAYS)
    monday = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)
    assert work_calendar(calendar).add_minutes(monday, 60).hour == 10
    update_calendar(admin, calendar.id, weekly={0: "11:00-12:00"})
    assert work_calendar(calendar).add_minutes(monday, 60).hour == 12


def test_only_admins_manage_calendars(agent, admin):
    with pytest.raises(Forbidden):
        create_calendar(agent, "Mine", "UTC", WEEKDAYS)
    calendar = create_calendar(admin, "Office", "UTC", WEEKDAYS)
    with pytest.raises(ServiceError):
        add_holiday(agent, calendar.id, date(2026, 1, 1))
    assert HolidaySource.MANUAL.value == "manual"
