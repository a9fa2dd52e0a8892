"""Due times for timers: ISO 8601 durations and dates, counted on a pluggable calendar (UTC)."""

from __future__ import annotations

import calendar as month_calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

_DURATION = re.compile(
    r"^P(?!$)(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:[.,]\d+)?)S)?)?$"
)


class TimingError(ValueError):
    """A timer expression gave something that is not an ISO 8601 date, date-time or duration."""


@dataclass(frozen=True)
class Duration:
    """An ISO 8601 duration split into its calendar part (years, months) and its exact part."""

    months: int
    exact: timedelta


def parse_duration(text: str) -> Duration:
    """Parse `PnYnMnWnDTnHnMnS` (no negative or empty durations); raise TimingError otherwise."""
    match = _DURATION.match(text.strip().upper()) if isinstance(text, str) else None
    if match is None:
        raise TimingError(f"{text!r} is not an ISO 8601 duration such as 'P1D' or 'PT24H'")
    part = {name: value or "0" for name, value in match.groupdict().items()}
    exact = timedelta(
        weeks=int(part["weeks"]),
        days=int(part["days"]),
        hours=int(part["hours"]),
        minutes=int(part["minutes"]),
        seconds=float(part["seconds"].replace(",", ".")),
    )
    return Duration(months=int(part["years"]) * 12 + int(part["months"]), exact=exact)


def add_months(start: datetime, months: int) -> datetime:
    """Move a date-time by whole months; a day the month lacks becomes its last (31 Jan + 1M)."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
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


def require_aware(now: datetime) -> datetime:
    """Refuse naive date-times: the core works in aware UTC only."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"'now' must be a timezone-aware UTC datetime, got naive {now!r}")
    return now.astimezone(UTC)
