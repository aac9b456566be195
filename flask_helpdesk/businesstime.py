"""Working-time arithmetic over a business calendar: the one module SLA, auto-close and time
rules use to say "N working minutes after" and "how many working minutes between".

A :class:`WorkCalendar` is an IANA time zone, opening windows per weekday in local wall-clock time
(several per day: a lunch break pauses the clock) and holiday dates (closed all day). Working time
is real elapsed time inside the windows, so a window that a daylight-saving change shortens or
lengthens counts what a clock on the wall would really show passing. Instants go in and come out as
aware datetimes (naive ones are read as UTC, the helpdesk's storage convention); results are UTC.

The arithmetic walks day by day over whole windows, never minute by minute, and gives up with
:class:`NoWorkingTime` instead of looping when a calendar has no open hours within
:data:`MAX_SEARCH_DAYS`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MINUTES_PER_DAY = 24 * 60
# How far ahead (in days) a search for open hours goes before the calendar is declared closed,
# and the longest span an addition may reach: ten years is far beyond any service target.
MAX_SEARCH_DAYS = 3660

Window = tuple[int, int]  # minutes after local midnight: start < end <= 1440


class CalendarError(ValueError):
    """A calendar that cannot be built (unknown zone, overlapping or inverted windows).

    ``kind`` (``zone``, ``clock``, ``window``, ``inverted``, ``overlap``, ``weekday``) and
    ``params`` let a caller word the error in the user's language."""

    def __init__(self, message: str, kind: str = "", **params: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.params = params


class NoWorkingTime(CalendarError):
    """The calendar has no opening hours where some were needed."""


_CLOCK = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")


def parse_clock(text: str) -> int:
    """``"08:30"`` → 510 minutes after midnight; ``"24:00"`` is the end of the day."""
    match = _CLOCK.match(text)
    if not match:
        raise CalendarError(f"{text!r} is not a time of day (HH:MM)", "clock", text=text.strip())
    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise CalendarError(f"{text!r} is not a time of day (HH:MM)", "clock", text=text.strip())
    return hours * 60 + minutes


def format_clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_windows(text: str) -> tuple[Window, ...]:
    """``"08:00-12:00, 13:00-17:00"`` → ``((480, 720), (780, 1020))``; empty text is closed."""
    windows = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        start, dash, end = part.partition("-")
        if not dash:
            raise CalendarError(
                f"{part!r} is not an opening window (HH:MM-HH:MM)", "window", text=part
            )
        windows.append((parse_clock(start), parse_clock(end)))
    return normalize_windows(windows)


def format_windows(windows: Sequence[Window]) -> str:
    return ", ".join(f"{format_clock(s)}-{format_clock(e)}" for s, e in windows)


def normalize_windows(windows: Iterable[Sequence[int]]) -> tuple[Window, ...]:
    """Sorted, validated windows of one day; touching windows are joined, overlaps refused."""
    result: list[Window] = []
    for start, end in sorted((int(s), int(e)) for s, e in windows):
        if not 0 <= start < end <= MINUTES_PER_DAY:
            window = f"{format_clock(start)}-{format_clock(end)}"
            raise CalendarError(
                f"opening window {window} must start before it ends, within one day",
                "inverted",
                window=window,
            )
        if result and start < result[-1][1]:
            first, second = format_windows([result[-1]]), format_windows([(start, end)])
            raise CalendarError(
                f"opening windows {first} and {second} overlap",
                "overlap",
                first=first,
                second=second,
            )
        if result and start == result[-1][1]:
            result[-1] = (result[-1][0], end)
        else:
            result.append((start, end))
    return tuple(result)


def _aware(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        return instant.replace(tzinfo=UTC)
    return instant


@dataclass(frozen=True)
class WorkCalendar:
    """Opening hours in a time zone. ``weekly[0]`` is Monday's windows, ``weekly[6]`` Sunday's."""

    zone: ZoneInfo
    weekly: tuple[tuple[Window, ...], ...]
    holidays: frozenset[date] = frozenset()
    _days: dict[date, tuple[tuple[datetime, datetime], ...]] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )

    @classmethod
    def build(
        cls,
        zone: str | ZoneInfo,
        weekly: Mapping[int, Iterable[Sequence[int]] | str] | Sequence[Iterable[Sequence[int]]],
        holidays: Iterable[date] = (),
    ) -> WorkCalendar:
        """Validate and build a calendar; *weekly* maps weekday (0 = Monday) to windows,
        given as minute pairs or as text (``"08:00-17:00"``); missing days are closed."""
        if isinstance(zone, str):
            try:
                zone = ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError):
                raise CalendarError(f"unknown time zone {zone!r}", "zone", zone=zone) from None
        by_day = dict(weekly) if isinstance(weekly, Mapping) else dict(enumerate(weekly))
        if any(day not in range(7) for day in by_day):
            raise CalendarError("weekdays are numbered 0 (Monday) to 6 (Sunday)", "weekday")
        days = []
        for day in range(7):
            windows = by_day.get(day, ())
            days.append(
                parse_windows(windows) if isinstance(windows, str) else normalize_windows(windows)
            )
        return cls(zone, tuple(days), frozenset(holidays))

    @classmethod
    def always_open(cls) -> WorkCalendar:
        """Round the clock, every day: working time is plain elapsed time ("72 hours")."""
        return cls(ZoneInfo("UTC"), (((0, MINUTES_PER_DAY),),) * 7)

    @property
    def has_hours(self) -> bool:
        return any(self.weekly)

    @property
    def weekly_minutes(self) -> int:
        """Opening minutes of an ordinary week (no holiday, no clock change)."""
        return sum(end - start for windows in self.weekly for start, end in windows)

    # -- the open intervals, as UTC instants ------------------------------------------------

    def _local_date(self, instant: datetime) -> date:
        return instant.astimezone(self.zone).date()

    def _to_utc(self, day: date, minute: int) -> datetime:
        if minute == MINUTES_PER_DAY:
            day, minute = day + timedelta(days=1), 0
        # A wall time skipped by a clock change reads with the offset before it (fold=0), as
        # Python does; the caller keeps the intervals ordered whatever that gives.
        local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=self.zone)
        return local.astimezone(UTC)

    def _day(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        cached = self._days.get(day)
        if cached is None:
            if day in self.holidays:
                cached = ()
            else:
                cached = tuple(
                    (self._to_utc(day, start), self._to_utc(day, end))
                    for start, end in self.weekly[day.weekday()]
                )
            if len(self._days) > 4096:
                self._days.clear()
            self._days[day] = cached
        return cached

    def intervals(
        self, since: datetime, days: int = MAX_SEARCH_DAYS
    ) -> Iterator[tuple[datetime, datetime]]:
        """Open intervals ``[start, end)`` in UTC that end after *since*, clipped to start no
        earlier than it, in order, over the next *days* local days."""
        since = _aware(since).astimezone(UTC)
        first = self._local_date(since) - timedelta(days=1)
        previous_end = since
        for offset in range(days + 2):
            for start, end in self._day(first + timedelta(days=offset)):
                # Clock changes can make a window overlap the one before it in real time.
                start = max(start, previous_end)
                if end <= start:
                    continue
                previous_end = end
                yield start, end

    # -- questions --------------------------------------------------------------------------

    def is_open(self, instant: datetime) -> bool:
        """Whether *instant* falls inside an opening window (start included, end excluded)."""
        instant = _aware(instant).astimezone(UTC)
        for start, end in self.intervals(instant, days=2):
            return start == instant and end > instant
        return False

    def next_open(self, instant: datetime) -> datetime:
        """*instant* itself if open, else the start of the next opening window."""
        if not self.has_hours:
            raise NoWorkingTime("the calendar has no opening hours")
        for start, _end in self.intervals(instant):
            return start
        raise NoWorkingTime(f"the calendar has no opening hours in the next {MAX_SEARCH_DAYS} days")

    def add(self, instant: datetime, amount: timedelta) -> datetime:
        """The earliest instant by which *amount* of working time has passed since *instant*.

        Lands at most at the end of a window (a target reached at closing time is due then).
        A zero amount gives *instant* back unchanged.
        """
        if amount < timedelta(0):
            raise ValueError("working time to add must not be negative")
        instant = _aware(instant).astimezone(UTC)
        if not amount:
            return instant
        if not self.has_hours:
            raise NoWorkingTime("the calendar has no opening hours")
        left = amount
        for start, end in self.intervals(instant):
            if end - start >= left:
                return start + left
            left -= end - start
        raise NoWorkingTime(
            f"{amount} of working time does not fit in the next {MAX_SEARCH_DAYS} days"
        )

    def add_minutes(self, instant: datetime, minutes: int) -> datetime:
        return self.add(instant, timedelta(minutes=minutes))

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Working time from *start* to *end* (zero when *end* is not after *start*)."""
        start, end = _aware(start).astimezone(UTC), _aware(end).astimezone(UTC)
        if end <= start:
            return timedelta(0)
        days = (end - start).days + 2
        total = timedelta(0)
        for open_at, close_at in self.intervals(start, days=days):
            if open_at >= end:
                break
            total += min(close_at, end) - open_at
        return total

    def minutes_between(self, start: datetime, end: datetime) -> int:
        """Whole working minutes from *start* to *end*."""
        return int(self.between(start, end).total_seconds() // 60)

    # -- backwards (time rules: "the instant N working hours before now") -------------------

    def subtract(self, instant: datetime, amount: timedelta) -> datetime:
        """The latest instant from which *amount* of working time has passed by *instant*:
        anything at or before it is at least *amount* old in working time. A time rule's sweep
        compares stored instants with it in SQL instead of measuring every ticket."""
        if amount < timedelta(0):
            raise ValueError("working time to subtract must not be negative")
        instant = _aware(instant).astimezone(UTC)
        if not amount:
            return instant
        if not self.has_hours:
            raise NoWorkingTime("the calendar has no opening hours")
        left = amount
        day = self._local_date(instant) + timedelta(days=1)
        for _ in range(MAX_SEARCH_DAYS + 2):
            for start, end in reversed(self._day(day)):
                end = min(end, instant)
                if end <= start:
                    continue
                if end - start >= left:
                    return end - left
                left -= end - start
            day -= timedelta(days=1)
        raise NoWorkingTime(
            f"{amount} of working time does not fit in the last {MAX_SEARCH_DAYS} days"
        )

    def subtract_days(self, instant: datetime, days: int) -> datetime:
        """The same wall-clock time *days* working days (days with opening hours, holidays
        skipped) before *instant*'s local day."""
        if days < 0:
            raise ValueError("working days to subtract must not be negative")
        instant = _aware(instant).astimezone(UTC)
        if not self.has_hours:
            raise NoWorkingTime("the calendar has no opening hours")
        local = instant.astimezone(self.zone)
        day = local.date()
        for _ in range(MAX_SEARCH_DAYS):
            if not days:
                moment = datetime.combine(day, local.timetz().replace(tzinfo=None))
                return moment.replace(tzinfo=self.zone).astimezone(UTC)
            day -= timedelta(days=1)
            if self._day(day):
                days -= 1
        raise NoWorkingTime(f"fewer working days than asked in the last {MAX_SEARCH_DAYS} days")
