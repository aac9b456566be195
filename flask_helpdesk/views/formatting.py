"""How pages write dates, times, ages and sizes: one format everywhere, in the page's language.

Persian pages get the Solar Hijri (Jalali) calendar, the one Iranians use, and Persian digits;
other languages get Babel's medium date and short time of their locale. Times are shown in the
host's Babel time zone (``BABEL_DEFAULT_TIMEZONE``, UTC unless set).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask import Flask
from flask_babel import format_decimal, format_timedelta, get_locale, get_timezone
from markupsafe import Markup

from ..i18n import gettext
from ..models import utcnow

PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
# A point between two digits is a decimal separator ("2.5 KB"); a sentence's full stop stays.
DECIMAL_POINT = re.compile(r"(?<=\d)\.(?=\d)")
DIGITS_ONLY = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


def _persian() -> bool:
    locale = get_locale()
    return locale is not None and locale.language == "fa"


def localized_digits(text: str) -> str:
    """*text* with Persian digits on a Persian page (Babel writes Latin ones for ``fa``)."""
    if not _persian():
        return text
    return DECIMAL_POINT.sub("٫", text).translate(PERSIAN_DIGITS)


def sentence_digits(text: str) -> str:
    """A sentence's numbers in Persian digits on a Persian page; its full stops stay."""
    return text.translate(DIGITS_ONLY) if _persian() else text


def _local(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(get_timezone())


def format_datetime(moment: datetime | str | None) -> str:
    """ "6 Dec 2026, 09:20" / "6 thg 12, 2026 09:20" / "۱۵ آذر ۱۴۰۵، ۰۹:۲۰" (also of an ISO
    string, as events keep their instants), in the reader's zone."""
    if not moment:
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    local = _local(moment)
    if _persian():
        import jdatetime

        jalali = jdatetime.datetime.fromgregorian(datetime=local, locale="fa_IR")
        return localized_digits(f"{jalali.day} {jalali.strftime('%B %Y')}، {local:%H:%M}")
    from babel.dates import format_date, format_time

    locale = get_locale()
    day = format_date(local, "medium", locale=locale)
    return f"{day}, {format_time(local, 'HH:mm', locale=locale)}"


def format_datetime_zone(moment: datetime | None) -> str:
    """:func:`format_datetime` and the zone it is in ("6 Dec 2026, 09:20 UTC", "..., 16:20
    +07"): for mail, read away from the page, by people who may live elsewhere."""
    if moment is None:
        return ""
    return f"{format_datetime(moment)} {localized_digits(_local(moment).strftime('%Z'))}"


def format_promise_time(moment: datetime, zone: ZoneInfo, soon: bool) -> str:
    """When a promised reply is due, for the customer: "Monday 10:00 (Europe/Berlin)", the date
    too when not within the week; Jalali with Persian digits in Persian. The zone is named:
    the customer may read it elsewhere."""
    local = moment.astimezone(zone)
    if _persian():
        import jdatetime

        jalali = jdatetime.datetime.fromgregorian(datetime=local, locale="fa_IR")
        day = (
            jalali.strftime("%A")
            if soon
            else f"{jalali.strftime('%A')} {jalali.day} {jalali.strftime('%B')}"
        )
        return f"{localized_digits(f'{day} {local:%H:%M}')} ({zone.key})"
    from babel.dates import format_datetime as babel_datetime

    pattern = "EEEE HH:mm" if soon else "EEEE d MMMM HH:mm"
    return f"{babel_datetime(local, pattern, tzinfo=zone, locale=get_locale())} ({zone.key})"


def format_day(day: date | None) -> str:
    """A calendar day (a holiday): "3 Apr 2026" / "۱۴ فروردین ۱۴۰۵" (no time zone involved)."""
    if day is None:
        return ""
    if _persian():
        import jdatetime

        jalali = jdatetime.date.fromgregorian(date=day, locale="fa_IR")
        return localized_digits(f"{jalali.day} {jalali.strftime('%B %Y')}")
    from babel.dates import format_date

    return format_date(day, "medium", locale=get_locale())


def format_ago(moment: datetime | None, now: datetime | None = None) -> str:
    """ "3 hours ago" in the page's language, for scanning a list (the exact time in a title)."""
    if moment is None:
        return ""
    now = now or utcnow()
    if moment.tzinfo is None and now.tzinfo is not None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - now
    if abs(delta.total_seconds()) < 60:
        return gettext("just now")
    return localized_digits(format_timedelta(delta, add_direction=True, threshold=0.9))


def time_tag(moment: datetime | None, relative: bool = False) -> Markup:
    """A ``<time>`` element: the formatted moment, or its age with the moment as a tooltip."""
    if moment is None:
        return Markup("")
    exact = format_datetime(moment)
    iso = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()
    if relative:
        return Markup('<time datetime="{}" title="{}">{}</time>').format(
            iso, exact, format_ago(moment)
        )
    return Markup('<time datetime="{}">{}</time>').format(iso, exact)


def filesize(size: int | None) -> str:
    """A file's size for people: "512 bytes", "12.5 KB", "3.2 MB" in the page's language
    (a 300-byte file is not "0.0 KB")."""
    size = max(int(size or 0), 0)
    if size < 1024:
        return gettext("%(size)s bytes", size=localized_digits(format_decimal(size)))
    if size < 1024 * 1024:
        return gettext("%(size)s KB", size=localized_digits(format_decimal(round(size / 1024, 1))))
    megabytes = round(size / 1024 / 1024, 1)
    return gettext("%(size)s MB", size=localized_digits(format_decimal(megabytes)))


def register(app: Flask) -> None:
    app.jinja_env.filters["helpdesk_filesize"] = filesize
    app.jinja_env.filters["helpdesk_datetime"] = format_datetime
    app.jinja_env.filters["helpdesk_datetime_zone"] = format_datetime_zone
    app.jinja_env.filters["helpdesk_ago"] = format_ago
    app.jinja_env.filters["helpdesk_digits"] = localized_digits
    app.jinja_env.globals["helpdesk_time"] = time_tag
    app.jinja_env.globals["helpdesk_date"] = format_day
