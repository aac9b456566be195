"""``flask helpdesk calendar ...`` and ``flask helpdesk sla ...``: business calendars, holidays
and SLA policies from the command line (what the admin pages do, for scripts and cron).

Registered on the ``helpdesk`` group by :mod:`flask_helpdesk.cli`.
"""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from ..businesstime import CalendarError, format_windows
from ..models import utcnow
from ..services import ServiceError
from ..services.calendars import (
    add_holiday,
    create_calendar,
    get_calendar,
    list_calendars,
    remove_holiday,
    update_calendar,
    weekly_hours,
    work_calendar,
)
from ..services.holiday_sources import import_ical, seed_country
from ..services.identity import SYSTEM
from ..services.sla import recompute_open_tickets
from ..services.sla_policies import PolicyData, create_policy, ordered_policies
from ..services.sla_presets import install_preset

calendar_cli = AppGroup("calendar", help="Business calendars: opening hours and holidays.")
sla_cli = AppGroup("sla", help="SLA policies: targets chosen by conditions, in admin order.")

DAY_OPTIONS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _fail(error: Exception) -> click.ClickException:
    return click.ClickException(getattr(error, "message", None) or str(error))


def _hours(options: dict[str, str | None]) -> dict[int, str]:
    return {n: options[d] or "" for n, d in enumerate(DAY_OPTIONS) if options[d] is not None}


def _day_options(command):
    for day in reversed(DAY_OPTIONS):
        command = click.option(
            f"--{day}", default=None, help=f'Windows on {day}, e.g. "08:00-12:00,13:00-17:00".'
        )(command)
    return command


@calendar_cli.command("create")
@click.argument("name")
@click.option("--timezone", default="UTC", show_default=True, help="IANA zone, Europe/Berlin.")
@click.option("--weekdays", help='The same windows Monday to Friday, e.g. "09:00-17:00".')
@_day_options
def calendar_create(name: str, timezone: str, weekdays: str | None, **days: str | None) -> None:
    """Create calendar NAME with its opening hours."""

    hours = {n: weekdays for n in range(5)} if weekdays else {}
    hours.update(_hours(days))
    try:
        calendar = create_calendar(SYSTEM, name, timezone, hours)
    except ServiceError as error:
        raise _fail(error) from None
    click.echo(f"calendar #{calendar.id} {calendar.name} ({calendar.timezone})")


@calendar_cli.command("hours")
@click.argument("calendar_id", type=int)
@click.option("--timezone", help="Move the calendar to another IANA zone.")
@_day_options
def calendar_hours(calendar_id: int, timezone: str | None, **days: str | None) -> None:
    """Change CALENDAR_ID's hours (days not given keep theirs; "" closes a day)."""

    try:
        update_calendar(SYSTEM, calendar_id, timezone=timezone, weekly=_hours(days))
    except ServiceError as error:
        raise _fail(error) from None
    click.echo(f"calendar #{calendar_id} updated")


@calendar_cli.command("list")
def calendar_list() -> None:
    """Calendars with their hours and holiday counts."""

    for calendar in list_calendars():
        active = sum(1 for h in calendar.holidays if h.active)
        click.echo(f"#{calendar.id} {calendar.name} ({calendar.timezone}), {active} holiday(s)")
        for day, windows in weekly_hours(calendar).items():
            click.echo(f"  {DAY_OPTIONS[day]}: {format_windows(windows) or 'closed'}")


@calendar_cli.command("holiday")
@click.argument("calendar_id", type=int)
@click.argument("day", type=click.DateTime(["%Y-%m-%d"]))
@click.option("--name", default="", help="What the day is called.")
@click.option("--remove", is_flag=True, help="Open the calendar on DAY again.")
def calendar_holiday(calendar_id: int, day, name: str, remove: bool) -> None:
    """Close (or with --remove, reopen) CALENDAR_ID on DAY (YYYY-MM-DD); survives re-imports."""

    try:
        if remove:
            remove_holiday(SYSTEM, calendar_id, day.date())
        else:
            add_holiday(SYSTEM, calendar_id, day.date(), name)
    except ServiceError as error:
        raise _fail(error) from None
    click.echo(f"{day.date()} {'reopened' if remove else 'closed'}")


@calendar_cli.command("import-holidays")
@click.argument("calendar_id", type=int)
@click.option("--country", help="ISO country code (DE, US, VN, IR) for its public holidays.")
@click.option("--subdivision", help="State or province code (BY for Bavaria).")
@click.option("--ical", "ical", help="An iCal file or https:// feed address.")
@click.option("--year", "years", type=int, multiple=True, help="Year (repeatable; default: 3).")
def calendar_import(
    calendar_id: int,
    country: str | None,
    subdivision: str | None,
    ical: str | None,
    years: tuple[int, ...],
) -> None:
    """Import holidays for a country or from iCal; hand edits are kept."""

    if not country and not ical:
        raise click.UsageError("give --country or --ical")
    try:
        if country:
            added, removed = seed_country(SYSTEM, calendar_id, country, subdivision, years or None)
            click.echo(f"{country}: {added} added, {removed} removed")
        if ical:
            if ical.lower().startswith(("http://", "https://")):
                added, removed = import_ical(SYSTEM, calendar_id, url=ical, years=years or None)
            else:
                with open(ical, "rb") as handle:
                    data = handle.read()
                added, removed = import_ical(SYSTEM, calendar_id, data=data, years=years or None)
            click.echo(f"iCal: {added} added, {removed} removed")
    except (ServiceError, OSError) as error:
        raise _fail(error) from None


@calendar_cli.command("due")
@click.argument("calendar_id", type=int)
@click.argument("minutes", type=click.IntRange(0, 10**7))
@click.option("--from", "start", help="ISO instant (default: now), e.g. 2026-03-06T16:00-05:00.")
def calendar_due(calendar_id: int, minutes: int, start: str | None) -> None:
    """When MINUTES working minutes from now (or --from) have passed on CALENDAR_ID."""
    from datetime import datetime

    try:
        calendar = get_calendar(calendar_id)
        begin = datetime.fromisoformat(start) if start else utcnow()
        due = work_calendar(calendar).add_minutes(begin, minutes)
    except (ServiceError, CalendarError, ValueError) as error:
        raise _fail(error) from None
    click.echo(due.astimezone(work_calendar(calendar).zone).isoformat())


@sla_cli.command("list")
def sla_list() -> None:
    """Policies in the order they are tried."""

    for policy in ordered_policies():
        calendar = policy.calendar.name if policy.calendar else "round the clock"
        click.echo(
            f"#{policy.id} {policy.name}{' (default)' if policy.is_default else ''}: first"
            f" {policy.first_response_minutes}, next {policy.next_response_minutes}, resolve"
            f" {policy.resolution_minutes} min; {calendar}; {json.dumps(policy.conditions)}"
        )


@sla_cli.command("create")
@click.argument("name")
@click.option("--first-response", type=int, help="Working minutes to the first reply.")
@click.option("--next-response", type=int, help="Working minutes to each later reply.")
@click.option("--resolution", type=int, help="Working minutes to resolution.")
@click.option("--after-hours-first-response", type=int, help="Plain minutes, outside hours.")
@click.option("--calendar", "calendar_id", type=int, help="Calendar id (default: always open).")
@click.option("--conditions", default="{}", help='JSON, e.g. {"priorities": ["urgent"]}.')
@click.option("--warn-before", type=int, default=30, show_default=True)
@click.option("--default", "is_default", is_flag=True, help="Catch every unmatched ticket.")
def sla_create(
    name: str,
    first_response: int | None,
    next_response: int | None,
    resolution: int | None,
    after_hours_first_response: int | None,
    calendar_id: int | None,
    conditions: str,
    warn_before: int,
    is_default: bool,
) -> None:
    """Create policy NAME, tried after the existing ones."""

    try:
        policy = create_policy(
            SYSTEM,
            PolicyData(
                name=name,
                first_response_minutes=first_response,
                next_response_minutes=next_response,
                resolution_minutes=resolution,
                after_hours_first_response_minutes=after_hours_first_response,
                calendar_id=calendar_id,
                conditions=json.loads(conditions),
                warn_before_minutes=warn_before,
                is_default=is_default,
            ),
        )
    except (ServiceError, ValueError) as error:
        raise _fail(error) from None
    click.echo(f"policy #{policy.id} {policy.name}")


@sla_cli.command("preset")
@click.argument("key", type=click.Choice(["72-hours", "business-hour"]))
@click.option("--timezone", default="UTC", show_default=True)
@click.option("--not-default", is_flag=True, help="Do not make it the default policy.")
def sla_preset(key: str, timezone: str, not_default: bool) -> None:
    """Install a seed's preset: 72-hours (seed 000) or business-hour (seed 002)."""

    try:
        policy = install_preset(SYSTEM, key, timezone, default=not not_default)
    except ServiceError as error:
        raise _fail(error) from None
    click.echo(f"policy #{policy.id} {policy.name}")


@sla_cli.command("recompute")
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=500, show_default=True)
def sla_recompute(batch_size: int) -> None:
    """Recompute the due times of every unclosed ticket now (time already used stays used)."""

    done = recompute_open_tickets(batch_size, progress=lambda n: click.echo(f"{n} ticket(s)..."))
    click.echo(f"due times recomputed for {done} ticket(s)")
