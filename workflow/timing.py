"""Due times for timers: ISO 8601 durations and dates, counted on a pluggable calendar (UTC)."""

from __future__ import annotations

import calendar as month_calendar
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

_DURATION = re.compile(
    r"^P(?!$)(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:[.,]\d+)?)S)?)?$"
)


# No timer or due date lies further ahead: an answer-driven 'P99999Y' would overflow the date
# (or, counted in school days, spin for ever) instead of failing with its element named.
MAX_DURATION_YEARS = 100


class TimingError(ValueError):
    """A timer expression gave something that is not an ISO 8601 date, date-time or duration."""


@dataclass(frozen=True)
class Duration:
    """An ISO 8601 duration split into its calendar part (years, months) and its exact part.

    `exact` is everything after the months (weeks, days and time); `weeks`, `days` and `time`
    are its parts as written, for calendars that count days differently (school days).
    """

    months: int
    exact: timedelta
    weeks: int = 0
    days: int = 0
    time: timedelta = timedelta(0)


def parse_duration(text: str) -> Duration:
    """Parse `PnYnMnWnDTnHnMnS` (no negative or empty durations); raise TimingError otherwise."""
    match = _DURATION.match(text.strip().upper()) if isinstance(text, str) else None
    if match is None:
        raise TimingError(f"{text!r} is not an ISO 8601 duration such as 'P1D' or 'PT24H'")
    part = {name: value or "0" for name, value in match.groupdict().items()}
    _require_within_limit(text, part)
    weeks, days = int(part["weeks"]), int(part["days"])
    time = timedelta(
        hours=int(part["hours"]),
        minutes=int(part["minutes"]),
        seconds=float(part["seconds"].replace(",", ".")),
    )
    return Duration(
        months=int(part["years"]) * 12 + int(part["months"]),
        exact=timedelta(weeks=weeks, days=days) + time,
        weeks=weeks,
        days=days,
        time=time,
    )


def _require_within_limit(text: str, part: Mapping[str, str]) -> None:
    per_day = {"years": 365.25, "months": 30.44, "weeks": 7, "days": 1}
    per_day |= {"hours": 1 / 24, "minutes": 1 / 1440, "seconds": 1 / 86400}
    try:
        days = sum(float(part[name].replace(",", ".")) * size for name, size in per_day.items())
    except OverflowError:
        days = float("inf")
    if days > MAX_DURATION_YEARS * 365.25:
        raise TimingError(f"{text!r} is longer than {MAX_DURATION_YEARS} years")


def add_months(start: datetime, months: int) -> datetime:
    """Move a date-time by whole months; a day the month lacks becomes its last (31 Jan + 1M)."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    if not 1 <= year <= 9999:
        raise TimingError(f"{months} months from {start.date()} is past the year 9999")
    day = min(start.day, month_calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)


def as_utc(value: Any) -> datetime:
    """A timer's date as an aware UTC date-time: a date means its midnight, naive means UTC."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise TimingError(f"{value!r} is not an ISO 8601 date or date-time") from None
    else:
        raise TimingError(f"a timer date must be a date or an ISO 8601 string, not {value!r}")
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


class Calendar(Protocol):
    """Counts a duration forward from a moment; school-day calendars plug in here."""

    def add(self, start: datetime, duration: str) -> datetime:
        """Return the moment `duration` (ISO 8601) after `start`."""
        ...


class PlainCalendar:
    """Plain calendar time: every day counts, months have their real lengths."""

    def add(self, start: datetime, duration: str) -> datetime:
        """Return the moment `duration` after `start`, months first, then weeks, days and time."""
        parsed = parse_duration(duration)
        return add_months(start, parsed.months) + parsed.exact


# A timer event may name the calendar its duration counts on, with a Camunda extension
# property: <camunda:property name="calendar" value="school-days"/>. Without one, plain time.
CALENDAR_PROPERTY = "calendar"
CALENDAR_DAYS = "calendar-days"  # plain calendar time, the same as naming no calendar
SCHOOL_DAYS = "school-days"  # weekdays that are not bank holidays (terms are not known)
CALENDAR_NAMES = (CALENDAR_DAYS, SCHOOL_DAYS)


class Calendars:
    """The calendars timers may name, counting plain time itself for timers that name none."""

    def __init__(self, named: Mapping[str, Calendar], default: Calendar | None = None) -> None:
        unknown = sorted(set(named) - set(CALENDAR_NAMES))
        if unknown:
            raise ValueError(f"unknown calendar names {unknown}: known are {CALENDAR_NAMES}")
        self._named = dict(named)
        self._default: Calendar = default or PlainCalendar()

    def add(self, start: datetime, duration: str) -> datetime:
        """Return the moment `duration` after `start` on the default (plain) calendar."""
        return self._default.add(start, duration)

    def named(self, name: str) -> Calendar:
        """The calendar called `name`; TimingError if this deployment does not offer it."""
        if name == CALENDAR_DAYS:
            return self._named.get(name, self._default)
        calendar = self._named.get(name)
        if calendar is None:
            offered = ", ".join(sorted({CALENDAR_DAYS, *self._named}))
            raise TimingError(f"no {name!r} calendar is configured (offered: {offered})")
        return calendar


def calendar_for(calendar: Calendar, name: str | None) -> Calendar:
    """The calendar a timer that names `name` counts on, given the command's calendar.

    A command given Calendars looks the name up there. A command given one plain Calendar
    (the core on its own, simulations, tests) counts every timer on it, whatever it names.
    """
    if name is not None and name not in CALENDAR_NAMES:
        raise TimingError(f"unknown calendar {name!r}: use one of {', '.join(CALENDAR_NAMES)}")
    if not name or not isinstance(calendar, Calendars):
        return calendar
    return calendar.named(name)


def require_aware(now: datetime) -> datetime:
    """Refuse naive date-times: the core works in aware UTC only."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"'now' must be a timezone-aware UTC datetime, got naive {now!r}")
    return now.astimezone(UTC)
