"""The desk's SLA pages: the overview (policies in the order they are tried, each calendar's hours
and coming holidays) and the pages that edit calendars, holidays and policies, with their errors;
agents are refused."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from flask_helpdesk.models import AuditEvent, BusinessCalendar
from flask_helpdesk.services.base import session
from flask_helpdesk.services.calendars import add_holiday, create_calendar, weekly_hours
from flask_helpdesk.services.sla_policies import PolicyData, create_policy, ordered_policies
from tests.conftest import client_for, count_queries, make_member, post_form


def test_admin_sees_policies_in_order_and_calendars(app, admin, clock):
    office = create_calendar(
        admin, "Berlin office", "Europe/Berlin", {0: "08:00-12:00, 13:00-17:00"}
    )
    add_holiday(admin, office.id, date(2026, 4, 3), "Good Friday")
    create_policy(admin, PolicyData("Everyone", first_response_minutes=480, is_default=True))
    create_policy(
        admin,
        PolicyData(
            "Urgent",
            first_response_minutes=30,
            calendar_id=office.id,
            conditions={"priorities": ["urgent"]},
        ),
    )
    member = make_member("Ada Boss", "ada@example.com", admin=True)
    page = client_for(app, member).get("/support/desk/admin/sla").get_data(as_text=True)
    assert page.index("Urgent") < page.index("Everyone")  # the default is tried last
    assert "08:00-12:00, 13:00-17:00" in page and "Europe/Berlin" in page
    assert 'datetime="2026-04-03"' in page and "Good Friday" in page
    assert "Priorities: Urgent" in page  # conditions in words, not JSON
    assert "30 min" in page and "Round the clock" in page


def test_agents_are_refused(app, agent, agent_member):
    response = client_for(app, agent_member).get("/support/desk/admin/sla")
    assert response.status_code == 403


# -- editing: calendars, holidays, policies ----------------------------------------------------
DESK_SLA = "/support/desk/admin/sla"
WEEK = {f"day_{d}": "09:00-17:00" for d in range(5)}
ICS = b"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:founding@example.com
DTSTART;VALUE=DATE:20260612
DTEND;VALUE=DATE:20260613
SUMMARY:Founding day
RRULE:FREQ=YEARLY
END:VEVENT
END:VCALENDAR
"""


@pytest.fixture
def boss(app, admin):
    return client_for(app, make_member("Ada Boss", "ada@example.com", admin=True))


def _calendars() -> list[BusinessCalendar]:
    session().expire_all()
    return list(session().scalars(select(BusinessCalendar)))


def _audit(action: str) -> int:
    return session().scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
    )


def test_an_admin_creates_a_calendar_with_hours_per_day(boss):
    new = f"{DESK_SLA}/calendars/new"
    response = post_form(
        boss,
        new,
        data={
            "name": "Berlin",
            "timezone": "Europe/Berlin",
            **WEEK,
            "day_0": "08:00-12:00, 13:00-17:00",
        },
    )
    assert response.status_code == 302
    (calendar,) = _calendars()
    assert calendar.timezone == "Europe/Berlin"
    assert weekly_hours(calendar)[0] == ((480, 720), (780, 1020))
    assert weekly_hours(calendar)[5] == ()
    assert _audit("calendar.created") == 1
    page = boss.get(response.location).get_data(as_text=True)
    assert 'value="08:00-12:00, 13:00-17:00"' in page


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"day_0": "08:00-12:00, 11:00-13:00"},
            "day_0",
            "The windows 08:00-12:00 and 11:00-13:00 overlap.",
        ),
        ({"day_2": "17:00-09:00"}, "day_2", "The window 17:00-09:00 ends before it starts"),
        ({"day_4": "nine to five"}, "day_4", "is not an opening window (HH:MM-HH:MM)."),
        ({"day_1": "09:00-25:00"}, "day_1", "25:00 is not a time of day (HH:MM)."),
        ({"timezone": "Mars/Olympus"}, "timezone", "Unknown time zone: Mars/Olympus."),
        ({"name": "  "}, "name", "Please enter a name."),
    ],
)
def test_bad_hours_get_a_clear_error_next_to_the_day_and_nothing_is_saved(
    boss, data, field, message
):
    form = {"name": "Office", "timezone": "UTC", **WEEK, **data}
    response = post_form(boss, f"{DESK_SLA}/calendars/new", data=form)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page
    # The message stands in that field's block, and what was typed is kept.
    block = page[page.index(f'id="{field}"') :]
    assert block.index(message.split(" ")[1]) < block.index("hd-field", 10)
    assert _calendars() == []


def test_an_admin_changes_hours_and_zone_and_due_times_follow(boss, admin, lan, open_for, clock):
    calendar = create_calendar(admin, "Office", "UTC", {d: "09:00-17:00" for d in range(5)})
    create_policy(
        admin,
        PolicyData("All", first_response_minutes=120, calendar_id=calendar.id, is_default=True),
    )
    clock.set("2026-03-02T16:00+00:00")  # Monday
    ticket = open_for(lan)
    assert ticket.first_response_due_at.replace(tzinfo=UTC) == datetime(
        2026, 3, 3, 10, 0, tzinfo=UTC
    )
    page = f"{DESK_SLA}/calendars/{calendar.id}"
    response = post_form(
        boss, page, data={"name": "Office", "timezone": "UTC", **WEEK, "day_0": "09:00-19:00"}
    )
    assert response.status_code == 302
    session().expire_all()
    assert weekly_hours(calendar)[0] == ((540, 1140),)
    assert ticket.first_response_due_at.replace(tzinfo=UTC) == datetime(
        2026, 3, 2, 18, 0, tzinfo=UTC
    )
    assert _audit("calendar.updated") == 1


def test_holidays_are_added_and_removed_by_hand(boss, admin, clock):
    calendar = create_calendar(admin, "Office", "UTC", {0: "09:00-17:00"})
    page = f"{DESK_SLA}/calendars/{calendar.id}"
    response = post_form(
        boss, page, f"{page}/holidays", data={"day": "2026-04-03", "name": "Good Friday"}
    )
    assert response.status_code == 302
    html = boss.get(page).get_data(as_text=True)
    assert "Good Friday" in html and 'data-day="2026-04-03"' in html
    response = post_form(boss, page, f"{page}/holidays/2026-04-03/remove")
    assert response.status_code == 302
    session().expire_all()
    assert [h for h in calendar.holidays if h.active] == []
    assert _audit("calendar.holiday_added") == 1 and _audit("calendar.holiday_removed") == 1
    assert post_form(boss, page, f"{page}/holidays/2026-04-03/remove").status_code == 404
    assert post_form(boss, page, f"{page}/holidays/not-a-day/remove").status_code == 404
    response = post_form(boss, page, f"{page}/holidays", data={"day": "3 April"})
    assert response.status_code == 422 and "Not a valid date value." in response.get_data(
        as_text=True
    )


def test_holidays_are_imported_from_an_ics_file_and_a_bad_file_is_refused(boss, admin, clock):
    calendar = create_calendar(admin, "Office", "UTC", {0: "09:00-17:00"})
    page = f"{DESK_SLA}/calendars/{calendar.id}"
    upload = {"ical_file": (io.BytesIO(ICS), "feed.ics")}
    response = post_form(boss, page, f"{page}/holidays/import", data=upload)
    assert response.status_code == 302
    session().expire_all()
    days = sorted(h.day for h in calendar.holidays)
    assert days == [date(2026, 6, 12), date(2027, 6, 12), date(2028, 6, 12)]  # recurring, 3 years
    assert _audit("calendar.holidays_imported") == 1
    bad = {"ical_file": (io.BytesIO(b"BEGIN:VCALENDAR\nthis is not ical"), "bad.ics")}
    response = post_form(boss, page, f"{page}/holidays/import", data=bad)
    assert response.status_code == 422
    assert "This is not a valid iCal calendar" in response.get_data(as_text=True)
    session().expire_all()
    assert len(calendar.holidays) == 3
    response = post_form(boss, page, f"{page}/holidays/import", data={})
    assert response.status_code == 422
    assert "Give a country code or choose an iCalendar file." in response.get_data(as_text=True)


def test_a_country_s_holidays_are_imported(boss, admin, clock):
    calendar = create_calendar(admin, "Berlin", "Europe/Berlin", {0: "09:00-17:00"})
    page = f"{DESK_SLA}/calendars/{calendar.id}"
    response = post_form(boss, page, f"{page}/holidays/import", data={"country": "de"})
    assert response.status_code == 302
    session().expire_all()
    assert date(2026, 4, 3) in {h.day for h in calendar.holidays}  # Good Friday
    response = post_form(boss, page, f"{page}/holidays/import", data={"country": "XX"})
    assert response.status_code == 422 and "Unknown country" in response.get_data(as_text=True)


def test_an_admin_creates_edits_orders_and_deletes_policies(boss, admin, departments, clock):
    calendar = create_calendar(admin, "Office", "UTC", {0: "09:00-17:00"})
    create_policy(admin, PolicyData("Everyone", first_response_minutes=480, is_default=True))
    new = f"{DESK_SLA}/policies/new"
    form = {
        "name": "Gold urgent",
        "calendar_id": str(calendar.id),
        "first_response_minutes": "30",
        "resolution_minutes": "480",
        "warn_before_minutes": "10",
        "priorities": ["urgent", "high"],
        "channels": ["email"],
        "departments": [str(departments["account"].id)],
        "customer": "plan=gold",
        "is_active": "y",
    }
    assert post_form(boss, new, data=form).status_code == 302
    assert post_form(boss, new, data={**form, "name": "Silver", "customer": ""}).status_code == 302
    gold, silver = ordered_policies()[:2]
    assert gold.name == "Gold urgent" and gold.calendar_id == calendar.id
    assert gold.conditions == {
        "channels": ["email"],
        "customer": {"plan": "gold"},
        "department_ids": [departments["account"].id],
        "priorities": ["high", "urgent"],
    }
    page = boss.get(f"{DESK_SLA}/policies/{gold.id}").get_data(as_text=True)
    assert "plan=gold" in page and 'selected value="urgent"' in page
    post_form(boss, DESK_SLA, f"{DESK_SLA}/policies/{silver.id}/move", data={"direction": "up"})
    session().expire_all()
    assert [p.name for p in ordered_policies()] == ["Silver", "Gold urgent", "Everyone"]
    edit = f"{DESK_SLA}/policies/{gold.id}"
    response = post_form(boss, edit, data={**form, "is_active": ""})
    assert response.status_code == 302
    session().expire_all()
    assert [p.name for p in ordered_policies()] == ["Silver", "Everyone"]
    assert "Inactive" in boss.get(DESK_SLA).get_data(as_text=True)
    post_form(boss, edit, f"{edit}/delete")
    session().expire_all()
    assert [p.name for p in ordered_policies(active_only=False)] == ["Silver", "Everyone"]
    assert _audit("sla_policy.created") == 3 and _audit("sla_policy.deleted") == 1
    assert _audit("sla_policy.reordered") == 1 and _audit("sla_policy.updated") == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"first_response_minutes": "0"}, "Enter between 1 minute and one year."),
        ({"resolution_minutes": "99999999"}, "Enter between 1 minute and one year."),
        ({"customer": "gold"}, "Write each attribute as name=value: gold"),
        ({"priorities": ["whenever"]}, "These conditions are not valid."),
        ({"calendar_id": "999"}, "Calendar not found."),
        ({"name": "Everyone"}, "That name is taken."),
    ],
)
def test_bad_policies_are_refused_with_a_clear_error(boss, admin, data, message):
    create_policy(admin, PolicyData("Everyone", first_response_minutes=480, is_default=True))
    form = {"name": "New", "first_response_minutes": "60", "is_active": "y", **data}
    response = post_form(boss, f"{DESK_SLA}/policies/new", data=form)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert len(ordered_policies(active_only=False)) == 1


def test_agents_cannot_reach_the_edit_pages(app, admin, agent, agent_member):
    calendar = create_calendar(admin, "Office", "UTC", {0: "09:00-17:00"})
    policy = create_policy(admin, PolicyData("All", first_response_minutes=60, is_default=True))
    client = client_for(app, agent_member)
    for url in (
        f"{DESK_SLA}/calendars/new",
        f"{DESK_SLA}/calendars/{calendar.id}",
        f"{DESK_SLA}/policies/new",
        f"{DESK_SLA}/policies/{policy.id}",
    ):
        assert client.get(url).status_code == 403, url


def test_the_overview_s_queries_do_not_grow_with_policies_and_calendars(app, boss, admin):
    def count() -> int:
        boss.get(DESK_SLA)
        with count_queries(app) as statements:
            assert boss.get(DESK_SLA).status_code == 200
        return len(statements)

    def add(n: int) -> None:
        calendar = create_calendar(admin, f"Office {n}", "UTC", {0: "09:00-17:00"})
        add_holiday(admin, calendar.id, date(2099, 1, 1 + n), "Day")
        create_policy(
            admin, PolicyData(f"P{n}", first_response_minutes=60, calendar_id=calendar.id)
        )

    add(0)
    one = count()
    for n in range(1, 5):
        add(n)
    assert count() == one


def test_the_pages_speak_persian(boss, admin):
    calendar = create_calendar(admin, "Office", "Asia/Tehran", {5: "08:00-16:00"})
    add_holiday(admin, calendar.id, date(2099, 3, 21), "Nowruz")
    page = boss.get(f"{DESK_SLA}/calendars/{calendar.id}?lang=fa").get_data(as_text=True)
    assert 'dir="rtl"' in page and "تعطیلات" in page
    assert "۲ فروردین ۱۴۷۸" in page  # 21 March 2099 in the Jalali calendar, Persian digits
