"""School days for timer durations: weekdays that are not England and Wales bank holidays."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from services.scheduling.bank_holidays import BankHolidays, england_and_wales
from workflow.timing import SCHOOL_DAYS, Calendars, add_months, parse_duration, require_aware

SCHOOL_ZONE = ZoneInfo("Europe/London")
SCHOOL_WEEK = 5  # school days in a week ('P1W' on the school-day calendar)


class SchoolDayCalendar:
    """Counts days and weeks in school days: Monday to Friday, bank holidays skipped.

    Term dates and INSET days are not known: any weekday that is not a bank holiday counts.
    Days are counted on the local (London) date and keep the local time of day, so Friday
    10:00 plus one school day is Monday 10:00 even across a clock change. Hours, minutes and
    seconds are clock time; months move the date and then wait for a school day.
    """

    def __init__(self, bank_holidays: BankHolidays, zone: tzinfo = SCHOOL_ZONE) -> None:
        self._bank_holidays = bank_holidays
        self._zone = zone

    def is_school_day(self, day: date) -> bool:
        """Tell whether `day` is a weekday and not a bank holiday."""
        return day.weekday() < 5 and not self._bank_holidays.is_holiday(day)

    def add(self, start: datetime, duration: str) -> datetime:
        """Return the moment `duration` (ISO 8601) after `start`, days counted as school days."""
        parsed = parse_duration(duration)
        local = require_aware(start).astimezone(self._zone)
        if parsed.months:
            local = add_months(local, parsed.months)
            local = _on(local, self.next_school_day(local.date(), include=True))
        school_days = parsed.weeks * SCHOOL_WEEK + parsed.days
        if school_days:
            local = _on(local, self.after_school_days(local.date(), school_days))
        # replace() kept the wall-clock time: converting now gives that day's offset.
        return local.astimezone(UTC) + parsed.time

    def after_school_days(self, day: date, count: int) -> date:
        """The date `count` school days after `day` (from a weekend, Monday is the first)."""
        for _ in range(count):
            day = self.next_school_day(day + timedelta(days=1), include=True)
        return day

    def next_school_day(self, day: date, *, include: bool) -> date:
        """The first school day from `day` (itself if include and it is one)."""
        if not include:
            day += timedelta(days=1)
        while not self.is_school_day(day):
            day += timedelta(days=1)
        return day


def _on(moment: datetime, day: date) -> datetime:
    return moment.replace(year=day.year, month=day.month, day=day.day)


def school_calendars() -> Calendars:
    """The calendars timers may name: plain time by default, school days for England and Wales."""
    return Calendars({SCHOOL_DAYS: SchoolDayCalendar(england_and_wales())})
