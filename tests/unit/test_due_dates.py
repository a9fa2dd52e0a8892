"""When a ready task falls due: its dueDate counted on the calendar the task names."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.domain.due_dates import due_at_for
from services.scheduling.calendars import school_calendars
from workflow.errors import ProcessFailed
from workflow.model import FormSpec, TaskView

FRIDAY_9AM_LONDON = datetime(2026, 9, 11, 8, 0, tzinfo=UTC)


def task(due: str | None, calendar: str | None = None) -> TaskView:
    return TaskView(
        id="t1",
        bpmn_id="initial_review",
        name="Hold the initial review meeting",
        lane="dsl",
        candidate_groups=("dsl",),
        assignee=None,
        due=due,
        documentation="",
        form=FormSpec(key="initial_review"),
        due_calendar=calendar,
    )


def test_a_day_counts_calendar_time_unless_the_task_names_school_days() -> None:
    calendars = school_calendars()
    plain = due_at_for(task("'P1D'"), {}, FRIDAY_9AM_LONDON, calendars)
    school = due_at_for(task("'P1D'", "school-days"), {}, FRIDAY_9AM_LONDON, calendars)
    assert plain == datetime(2026, 9, 12, 8, 0, tzinfo=UTC)  # Saturday
    assert school == datetime(2026, 9, 14, 8, 0, tzinfo=UTC)  # Monday, same time of day


def test_a_task_without_a_due_date_is_never_overdue() -> None:
    assert due_at_for(task(None), {}, FRIDAY_9AM_LONDON, school_calendars()) is None


def test_a_due_date_that_cannot_be_worked_out_names_the_task() -> None:
    with pytest.raises(ProcessFailed) as caught:
        due_at_for(task("'P1X'"), {}, FRIDAY_9AM_LONDON, school_calendars())
    assert caught.value.element_id == "initial_review"


def test_a_due_date_from_an_answer_past_the_clock_names_the_task() -> None:
    # An answer can hold what a check cannot see ('P99999Y'): a located failure, never a crash.
    with pytest.raises(ProcessFailed, match="longer than 100 years") as caught:
        due_at_for(task("deadline"), {"deadline": "P99999Y"}, FRIDAY_9AM_LONDON, school_calendars())
    assert caught.value.element_id == "initial_review"
