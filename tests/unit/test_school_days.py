"""School days: weekends and England and Wales bank holidays skipped, as a DSL counts them."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from services.scheduling.bank_holidays import england_and_wales
from services.scheduling.calendars import SchoolDayCalendar, school_calendars
from workflow import engine
from workflow.definition import Definition, load_definition, validate_files
from workflow.model import SourceFile
from workflow.timing import (
    CALENDAR_DAYS,
    SCHOOL_DAYS,
    Calendar,
    Calendars,
    PlainCalendar,
    TimingError,
    calendar_for,
)

LONDON = ZoneInfo("Europe/London")
BPMN_DIR = Path(__file__).resolve().parents[2] / "bpmn"
DEFAULT_BPMN = BPMN_DIR / "sharing-nudes-response.bpmn"


def london(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    """A London wall-clock moment (BST or GMT as that day has it)."""
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


@pytest.fixture(scope="module")
def school_days() -> SchoolDayCalendar:
    return SchoolDayCalendar(england_and_wales())


@pytest.mark.parametrize(
    ("start", "duration", "due"),
    [
        # Friday + 1 school day = Monday, same time of day.
        (london(2026, 9, 11, 10, 0), "P1D", london(2026, 9, 14, 10, 0)),
        # Saturday and Sunday count as nothing: Monday is the first school day after them.
        (london(2026, 9, 12, 15, 30), "P1D", london(2026, 9, 14, 15, 30)),
        (london(2026, 9, 13, 8, 0), "P1D", london(2026, 9, 14, 8, 0)),
        # A midweek day is just the next day.
        (london(2026, 9, 8, 16, 45), "P1D", london(2026, 9, 9, 16, 45)),
        # Early May bank holiday weekend: Friday 1 May -> Tuesday 5 May (4 May is a holiday).
        (london(2026, 5, 1, 9, 0), "P1D", london(2026, 5, 5, 9, 0)),
        # Summer bank holiday: Friday 28 August -> Tuesday 1 September.
        (london(2026, 8, 28, 9, 0), "P1D", london(2026, 9, 1, 9, 0)),
        # Christmas: Thu 24 Dec -> Tue 29 Dec (25th, weekend, Boxing Day substitute on 28th).
        (london(2026, 12, 24, 11, 0), "P1D", london(2026, 12, 29, 11, 0)),
        # Easter: Thursday before Good Friday -> Tuesday after Easter Monday.
        (london(2026, 4, 2, 9, 0), "P1D", london(2026, 4, 7, 9, 0)),
        # Five school days from a Monday is the next Monday; a week is five school days.
        (london(2026, 9, 7, 9, 0), "P5D", london(2026, 9, 14, 9, 0)),
        (london(2026, 9, 7, 9, 0), "P1W", london(2026, 9, 14, 9, 0)),
        (london(2026, 9, 7, 9, 0), "P2W", london(2026, 9, 21, 9, 0)),
        # Across the clock change (BST ends 25 Oct 2026): the wall-clock time is kept.
        (london(2026, 10, 23, 9, 0), "P1D", london(2026, 10, 26, 9, 0)),
        # Hours are clock time, whatever the day.
        (london(2026, 9, 11, 22, 0), "PT4H", london(2026, 9, 12, 2, 0)),
        (london(2026, 9, 11, 10, 0), "P1DT2H", london(2026, 9, 14, 12, 0)),
        # A month lands on the same date, then waits for a school day (31 Aug is a holiday).
        (london(2026, 7, 31, 9, 0), "P1M", london(2026, 9, 1, 9, 0)),
        (london(2026, 9, 12, 9, 0), "P0D", london(2026, 9, 12, 9, 0)),
    ],
)
def test_school_days_skip_weekends_and_bank_holidays(
    school_days: SchoolDayCalendar, start: datetime, duration: str, due: datetime
) -> None:
    moment = school_days.add(start.astimezone(UTC), duration)
    assert moment == due
    assert moment.tzinfo == UTC  # what the engine stores


def test_a_london_evening_is_counted_on_its_london_date(school_days: SchoolDayCalendar) -> None:
    # Sunday 23:30 UTC in summer is already Monday 00:30 in London: one school day on.
    sunday_night = datetime(2026, 9, 13, 23, 30, tzinfo=UTC)
    assert school_days.add(sunday_night, "P1D") == london(2026, 9, 15, 0, 30)


@pytest.mark.parametrize(
    "holiday",
    [
        date(2026, 12, 25),  # Christmas Day
        date(2026, 12, 28),  # Boxing Day, substitute (26th is a Saturday)
        date(2026, 5, 4),  # early May bank holiday
        date(2026, 5, 25),  # spring bank holiday
        date(2026, 8, 31),  # summer bank holiday
        date(2026, 4, 3),  # Good Friday
        date(2026, 4, 6),  # Easter Monday
        date(2027, 1, 1),
        date(2020, 5, 8),  # VE Day 75: the early May holiday moved
        date(2022, 9, 19),  # State funeral of Queen Elizabeth II
        date(2023, 5, 8),  # Coronation of King Charles III
        date(2035, 12, 25),
    ],
)
def test_known_bank_holidays_are_not_school_days(
    school_days: SchoolDayCalendar, holiday: date
) -> None:
    assert england_and_wales().is_holiday(holiday)
    assert not school_days.is_school_day(holiday)


def test_every_year_2020_to_2035_has_the_regular_bank_holidays() -> None:
    known = england_and_wales()
    for year in range(2020, 2036):
        days = [d for d in known.dates if d.year == year]
        assert len(days) >= 8, f"{year}: only {sorted(days)}"
        assert any(d.month == 12 and d.day in (25, 27) for d in days), year
        assert any(d.month == 8 and d.weekday() == 0 and d.day >= 25 for d in days), year


def test_ordinary_days_and_scotland_only_holidays_are_school_days(
    school_days: SchoolDayCalendar,
) -> None:
    assert school_days.is_school_day(date(2026, 9, 8))  # a Tuesday
    assert school_days.is_school_day(date(2026, 1, 2))  # a Scottish holiday, not in England
    assert school_days.is_school_day(date(2026, 3, 17))  # St Patrick's Day (Northern Ireland)
    assert not school_days.is_school_day(date(2026, 9, 12))  # a Saturday


def test_a_day_outside_the_known_years_is_refused(school_days: SchoolDayCalendar) -> None:
    with pytest.raises(TimingError, match="2000-2099"):
        school_days.add(datetime(2099, 12, 31, 9, tzinfo=UTC), "P1D")


def test_timers_name_their_calendar_and_the_rest_count_plain_time() -> None:
    school = SchoolDayCalendar(england_and_wales())
    calendars = Calendars({SCHOOL_DAYS: school})
    friday = datetime(2026, 9, 11, 9, 0, tzinfo=UTC)
    assert calendars.add(friday, "P1D") == datetime(2026, 9, 12, 9, 0, tzinfo=UTC)
    assert calendar_for(calendars, None) is calendars
    assert calendar_for(calendars, CALENDAR_DAYS).add(friday, "P1D").day == 12
    assert calendar_for(calendars, SCHOOL_DAYS) is school
    with pytest.raises(TimingError, match="unknown calendar 'term-days'"):
        calendar_for(calendars, "term-days")
    with pytest.raises(TimingError, match="no 'school-days' calendar is configured"):
        calendar_for(Calendars({}), SCHOOL_DAYS)
    # The core on its own (one plain calendar) counts every timer on it.
    plain = PlainCalendar()
    assert calendar_for(plain, SCHOOL_DAYS) is plain


# --- The default process, end to end through the engine (no database) ---------------------


def _bundle(text: str | None = None) -> list[SourceFile]:
    content = DEFAULT_BPMN.read_bytes() if text is None else text.encode("utf-8")
    dmn = [SourceFile(name=p.name, content=p.read_bytes()) for p in sorted(BPMN_DIR.glob("*.dmn"))]
    return [SourceFile(name=DEFAULT_BPMN.name, content=content), *dmn]


@pytest.fixture(scope="module")
def definition() -> Definition:
    return load_definition(_bundle())


def _disclosure() -> dict[str, object]:
    scenario = json.loads((BPMN_DIR / "scenarios" / "s1.json").read_text(encoding="utf-8"))
    data: dict[str, object] = scenario["steps"][0]["data"]
    return data


def _review_deadline(definition: Definition, reported: datetime, calendar: Calendar) -> datetime:
    status = engine.start_instance(definition, reported, calendar=calendar)
    disclosure = status.ready[0]
    status = engine.complete_task(
        definition, status.state, disclosure.id, _disclosure(), reported, calendar=calendar
    )
    (timer,) = [t for t in status.timers if t.bpmn_id == "initial_review_overdue"]
    return timer.due_at


def test_the_initial_review_escalates_after_one_school_day(definition: Definition) -> None:
    friday_morning = london(2026, 9, 11, 10, 0).astimezone(UTC)
    due = _review_deadline(definition, friday_morning, school_calendars())
    assert due == london(2026, 9, 14, 10, 0)  # Monday, not Saturday
    before_bank_holiday = london(2026, 8, 28, 10, 0).astimezone(UTC)
    due = _review_deadline(definition, before_bank_holiday, school_calendars())
    assert due == london(2026, 9, 1, 10, 0)  # Tuesday: Monday 31 August is a bank holiday


def test_without_a_school_day_calendar_the_engine_counts_plain_days(
    definition: Definition,
) -> None:
    friday_morning = datetime(2026, 9, 11, 9, 0, tzinfo=UTC)
    due = _review_deadline(definition, friday_morning, PlainCalendar())
    assert due == datetime(2026, 9, 12, 9, 0, tzinfo=UTC)


def test_an_unknown_calendar_name_is_refused_at_deploy_naming_the_event() -> None:
    original = DEFAULT_BPMN.read_text(encoding="utf-8")
    timer = original.index('id="initial_review_overdue"')
    text = original[:timer] + original[timer:].replace(
        'value="school-days"', 'value="school-dayz"', 1
    )
    problems = validate_files(_bundle(text))
    assert len(problems) == 1, problems
    assert problems[0].element_id == "initial_review_overdue"
    assert problems[0].line is not None
    assert "unknown calendar 'school-dayz'" in problems[0].message


def test_a_calendar_on_a_timer_without_a_duration_is_refused() -> None:
    text = DEFAULT_BPMN.read_text(encoding="utf-8")
    duration = """<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">'P1D'</bpmn:timeDuration>"""
    at_date = """<bpmn:timeDate xsi:type="bpmn:tFormalExpression">'2026-09-08'</bpmn:timeDate>"""
    assert text.count(duration) == 1
    problems = validate_files(_bundle(text.replace(duration, at_date)))
    assert [p.element_id for p in problems] == ["initial_review_overdue"], problems
    assert "only applies to a timer with a duration" in problems[0].message


def test_an_unknown_calendar_name_on_a_user_task_is_refused_at_deploy_naming_the_task() -> None:
    text = DEFAULT_BPMN.read_text(encoding="utf-8").replace(
        'value="school-days"', 'value="school-dayz"', 1
    )
    problems = validate_files(_bundle(text))
    assert len(problems) == 1, problems
    assert problems[0].element_id == "initial_review"
    assert "unknown calendar 'school-dayz'" in problems[0].message
