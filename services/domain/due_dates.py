"""When a ready task falls due: its camunda:dueDate, counted from when it became ready."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from workflow.errors import ExpressionError, ProcessFailed
from workflow.model import TaskView
from workflow.sandbox import Sandbox
from workflow.timing import Calendar, TimingError, as_utc, calendar_for


def due_at_for(
    task: TaskView, data: Mapping[str, Any], ready_at: datetime, calendar: Calendar
) -> datetime | None:
    """Evaluate the task's dueDate (a quoted duration like "'P1D'", or a date) in the sandbox.

    A duration counts from `ready_at` on the calendar the task names (school days, say); a
    date means that moment (UTC). A due date that cannot be worked out is the diagram's fault:
    ProcessFailed names the task.
    """
    if not task.due:
        return None
    try:
        value = Sandbox().evaluate(task.due, data)
        if isinstance(value, str) and value.strip().upper().startswith("P"):
            return calendar_for(calendar, task.due_calendar).add(ready_at, value.strip())
        return as_utc(value)
    except (ExpressionError, TimingError, ValueError, OverflowError) as error:  # past year 9999
        raise ProcessFailed(task.bpmn_id, f"dueDate {task.due!r}: {error}") from error
