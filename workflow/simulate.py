"""Run a scenario file against a definition with no database: the route a process takes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from workflow import engine
from workflow.definition import Definition
from workflow.errors import SafeguardError, TaskDataInvalid, TaskNotReady
from workflow.formdata import placeholder_data
from workflow.model import InstanceStatus
from workflow.timing import Calendar

# A fixed Monday morning, so that simulated timers and dates are the same on every run.
DEFAULT_START = datetime(2026, 9, 7, 9, 0, tzinfo=UTC)
MAX_WORKER_RUNS = 1_000  # external tasks simulated between two steps of a scenario

_DURATION = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)


class ScenarioInvalid(SafeguardError):
    """The scenario file itself is malformed, or a step cannot be taken."""


class StepDataInvalid(ScenarioInvalid):
    """A step's data failed the task's form validation."""

    def __init__(self, step: int, error: TaskDataInvalid) -> None:
        self.step = step
        self.errors = error.errors
        super().__init__(f"step {step}: {error}")


@dataclass
class SimulationResult:
    """The route a scenario took: the simulate command's JSON output."""

    completed: list[str] = field(default_factory=list)
    ready: list[str] = field(default_factory=list)
    ended: bool = False
    data: dict[str, Any] = field(default_factory=dict)
    cancelled: list[str] = field(default_factory=list)  # tasks messages stopped, in order
    state: str = ""  # the final serialized instance state (not part of the printed route)

    def as_dict(self) -> dict[str, Any]:
        """Return the result in the documented output shape."""
        shape: dict[str, Any] = {
            "completed": self.completed,
            "ready": self.ready,
            "ended": self.ended,
            "data": self.data,
        }
        if self.cancelled:  # only scenarios with messages stop tasks
            shape["cancelled"] = self.cancelled
        return shape


def parse_duration(text: str) -> timedelta:
    """Parse the ISO 8601 durations a scenario may advance the clock by (weeks to seconds)."""
    match = _DURATION.match(text.strip().upper()) if isinstance(text, str) else None
    if match is None or text.strip().upper() in ("P", "PT"):
        raise ScenarioInvalid(
            f"'advance' needs an ISO 8601 duration such as 'P2D' or 'PT4H', got {text!r}"
        )
    parts = {k: int(v) for k, v in match.groupdict().items() if v}
    return timedelta(**parts)


def run_scenario(
    definition: Definition,
    scenario: Mapping[str, Any],
    start: datetime = DEFAULT_START,
    calendar: Calendar | None = None,
) -> SimulationResult:
    """Start an instance and apply each scenario step; raise ScenarioInvalid on a bad step.

    `calendar` counts timer durations (school days, say) as the scheduler would; plain time
    when not given. External (service) tasks are completed at once with an empty result, as
    if their worker had done them, and listed in `completed`.
    """
    steps = _steps_of(scenario)
    fill_defaults = bool(scenario.get("fill_defaults", False))
    now = _start_of(scenario, start)
    status = engine.start_instance(definition, now, calendar=calendar)
    result = SimulationResult(completed=list(status.completed_now))
    status = _run_workers(definition, status, now, calendar, result)
    for number, step in enumerate(steps, start=1):
        if "advance" in step:
            now += parse_duration(step["advance"])
            status = engine.fire_due_timers(definition, status.state, now, calendar=calendar)
        elif "message" in step:
            status = _message_step(definition, status, number, step, now, fill_defaults, calendar)
            result.cancelled.extend(c.bpmn_id for c in status.cancelled_now)
        else:
            status = _complete_step(definition, status, number, step, now, fill_defaults, calendar)
        result.completed.extend(status.completed_now)
        status = _run_workers(definition, status, now, calendar, result)
    result.ready = [task.bpmn_id for task in status.ready]
    result.ended = status.ended
    result.data = status.data
    result.state = status.state
    return result


def _run_workers(
    definition: Definition,
    status: InstanceStatus,
    now: datetime,
    calendar: Calendar | None,
    result: SimulationResult,
) -> InstanceStatus:
    """Complete every waiting external task with an empty result, as a worker would."""
    for _ in range(MAX_WORKER_RUNS):
        if not status.external:
            return status
        task = status.external[0]
        status = engine.complete_external_task(
            definition, status.state, task.id, {}, now, calendar=calendar
        )
        result.completed.extend(status.completed_now)
    raise ScenarioInvalid(
        f"external tasks kept coming after {MAX_WORKER_RUNS} completions "
        f"(last: {status.external[0].bpmn_id}): is there a loop of service tasks without a wait?"
    )


def _complete_step(
    definition: Definition,
    status: InstanceStatus,
    number: int,
    step: Mapping[str, Any],
    now: datetime,
    fill_defaults: bool,
    calendar: Calendar | None,
) -> InstanceStatus:
    bpmn_id = step["complete"]
    task = next((t for t in status.ready if t.bpmn_id == bpmn_id), None)
    if task is None:
        ready = ", ".join(t.bpmn_id for t in status.ready) or "none"
        raise ScenarioInvalid(f"step {number}: task {bpmn_id!r} is not ready (ready: {ready})")
    data = dict(step.get("data") or {})
    if fill_defaults:
        data = placeholder_data(task.form, data)
    try:
        return engine.complete_task(definition, status.state, task.id, data, now, calendar=calendar)
    except TaskDataInvalid as error:
        raise StepDataInvalid(number, error) from None


def _message_step(
    definition: Definition,
    status: InstanceStatus,
    number: int,
    step: Mapping[str, Any],
    now: datetime,
    fill_defaults: bool,
    calendar: Calendar | None,
) -> InstanceStatus:
    name = step["message"]
    if not isinstance(name, str):
        raise ScenarioInvalid(f'step {number}: "message" must be a message name, got {name!r}')
    data = dict(step.get("data") or {})
    try:
        if fill_defaults:
            data = placeholder_data(engine.message(definition, name).form, data)
        return engine.deliver_message(definition, status.state, name, data, now, calendar=calendar)
    except TaskDataInvalid as error:
        raise StepDataInvalid(number, error) from None
    except TaskNotReady as error:
        raise ScenarioInvalid(f"step {number}: {error}") from None


def _start_of(scenario: Mapping[str, Any], default: datetime) -> datetime:
    raw = scenario.get("start")
    if raw is None:
        return default
    try:
        start = datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        start = None
    if start is None or start.tzinfo is None:
        raise ScenarioInvalid(
            f'"start" must be an ISO 8601 date-time with a zone, e.g. "2026-09-11T09:00:00+00:00",'
            f" got {raw!r}"
        )
    return start.astimezone(UTC)


def _steps_of(scenario: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    if not isinstance(scenario, Mapping) or not isinstance(scenario.get("steps"), list):
        raise ScenarioInvalid('a scenario is a JSON object with a "steps" list')
    steps: list[Mapping[str, Any]] = scenario["steps"]
    for number, step in enumerate(steps, start=1):
        if not isinstance(step, Mapping):
            raise ScenarioInvalid(f"step {number}: must be an object, got {type(step).__name__}")
        kinds = {"complete", "advance", "message"} & set(step)
        if len(kinds) != 1:
            raise ScenarioInvalid(
                f'step {number}: needs exactly one of "complete", "advance" or "message", '
                f"got {sorted(step)}"
            )
        unknown = set(step) - {"complete", "advance", "message", "data", "note"}
        if unknown:
            raise ScenarioInvalid(f"step {number}: unknown keys {sorted(unknown)}")
        if "data" in step and not isinstance(step["data"], Mapping):
            raise ScenarioInvalid(f'step {number}: "data" must be an object')
    return steps
