"""Timer due times: ISO 8601 durations on the plain calendar, dates read as UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from workflow.timing import (
    PlainCalendar,
    TimingError,
    add_months,
    as_utc,
    parse_duration,
    require_aware,
)

START = datetime(2026, 1, 31, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("duration", "due"),
    [
        ("PT24H", datetime(2026, 2, 1, 9, 30, tzinfo=UTC)),
        ("P1D", datetime(2026, 2, 1, 9, 30, tzinfo=UTC)),
        ("P2W", datetime(2026, 2, 14, 9, 30, tzinfo=UTC)),
        ("P1M", datetime(2026, 2, 28, 9, 30, tzinfo=UTC)),  # no 31 February: the month's end
        ("P1Y1M", datetime(2027, 2, 28, 9, 30, tzinfo=UTC)),
        ("P1DT1H30M", datetime(2026, 2, 1, 11, 0, tzinfo=UTC)),
        ("PT0.5S", START + timedelta(seconds=0.5)),
    ],
)
def test_the_plain_calendar_adds_iso_durations(duration: str, due: datetime) -> None:
    assert PlainCalendar().add(START, duration) == due


@pytest.mark.parametrize("text", ["", "P", "PT", "1D", "P1H", "P-1D", "PT1D", "P1DT"])
def test_malformed_durations_are_refused(text: str) -> None:
    with pytest.raises(TimingError):
        parse_duration(text)


def test_timer_dates_are_read_as_utc() -> None:
    assert as_utc("2026-02-01") == datetime(2026, 2, 1, tzinfo=UTC)
    assert as_utc(date(2026, 2, 1)) == datetime(2026, 2, 1, tzinfo=UTC)
    plus_one = datetime(2026, 2, 1, 1, 0, tzinfo=timezone(timedelta(hours=1)))
    assert as_utc(plus_one) == datetime(2026, 2, 1, tzinfo=UTC)
    assert as_utc("2026-02-01T10:00:00+01:00") == datetime(2026, 2, 1, 9, tzinfo=UTC)
    with pytest.raises(TimingError):
        as_utc("next tuesday")
    with pytest.raises(TimingError):
        as_utc(42)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        require_aware(datetime(2026, 1, 1))
    assert require_aware(START) == START


@pytest.mark.parametrize(
    "duration", ["P99999Y", "P101Y", "P1300M", "P40000D", "PT1000000H", "P" + "9" * 400 + "D"]
)
def test_a_duration_past_a_hundred_years_is_a_timing_error_not_an_overflow(duration: str) -> None:
    with pytest.raises(TimingError, match="longer than 100 years"):
        parse_duration(duration)


def test_months_that_pass_the_year_9999_are_a_timing_error() -> None:
    with pytest.raises(TimingError, match="past the year 9999"):
        add_months(datetime(9990, 1, 1, tzinfo=UTC), 12 * 20)
