"""The engine's public API: start instances, complete tasks, fire timers, read history.

Every call deserializes a fresh workflow from `definition.spec` + `state`, so nothing Spiff
holds is shared between calls or threads. Each command's status also carries the state pruned
of finished work (`pruned_state`) and the completed steps that pruning released: store both
together (`state_to_store`, `released_steps`) and the state stays small however long an
instance runs; read history back with `completed_steps(definition, state, stored)`. Times
are aware UTC datetimes passed in: the core never reads the clock. A call that raises has
changed nothing and produced no new state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from workflow import spiff_engine
from workflow.definition import Definition
from workflow.model import CompletedStep, InstanceStatus, MessageView, TaskView
from workflow.spiff_messages import MessageNotAvailable, MessageUnknown
from workflow.timing import Calendar, PlainCalendar, require_aware

__all__ = [
    "Calendar",
    "MessageNotAvailable",
    "MessageUnknown",
    "PlainCalendar",
    "complete_external_task",
    "complete_task",
    "completed_steps",
    "deliver_message",
    "fire_due_timers",
    "get_status",
    "message",
    "messages",
    "start_instance",
    "taken_flows",
]


def start_instance(
    definition: Definition,
    now: datetime,
    data: Mapping[str, Any] | None = None,
    *,
    calendar: Calendar | None = None,
) -> InstanceStatus:
    """Start an instance with optional initial data and run it to its first wait."""
    return spiff_engine.start(definition, require_aware(now), dict(data or {}), calendar)


def get_status(definition: Definition, state: str, now: datetime) -> InstanceStatus:
    """Describe an instance without running anything (the returned state is `state` itself)."""
    return spiff_engine.status(definition, state, require_aware(now))


def complete_task(
    definition: Definition,
    state: str,
    task_id: str,
    data: Mapping[str, Any],
    now: datetime,
    *,
    actor: str | None = None,
    calendar: Calendar | None = None,
    check: Callable[[TaskView, Mapping[str, Any]], None] | None = None,
) -> InstanceStatus:
    """Validate `data` against the task's form, complete the task and run to the next wait.

    Raises TaskNotReady (unknown id, not READY, not a user task) and TaskDataInvalid (per
    field) before anything changes. `check`, when given, is called first with the ready
    task and the instance's current data (an access check, say); whatever it raises stops
    the command, so one load of the instance serves both the check and the completion.
    """
    aware = require_aware(now)
    return spiff_engine.complete(definition, state, task_id, data, aware, actor, calendar, check)


def complete_external_task(
    definition: Definition,
    state: str,
    task_id: str,
    result: Mapping[str, Any],
    now: datetime,
    *,
    calendar: Calendar | None = None,
) -> InstanceStatus:
    """Complete a waiting external (service) task with its worker's result; run to the next wait.

    The result's values are merged into the task data (keys are identifiers, values JSON
    values only). Raises TaskNotReady (unknown id, not an external task, not waiting) and
    TaskDataInvalid (per key) before anything changes.
    """
    aware = require_aware(now)
    return spiff_engine.complete_external(definition, state, task_id, result, aware, calendar)


def messages(definition: Definition) -> tuple[MessageView, ...]:
    """The messages the process takes (by message start events of event subprocesses)."""
    return spiff_engine.messages(definition)


def message(definition: Definition, name: str) -> MessageView:
    """The message called `name` with its form; raises MessageUnknown."""
    found = next((m for m in messages(definition) if m.name == name), None)
    if found is None:
        known = ", ".join(sorted(m.name for m in messages(definition))) or "none"
        raise MessageUnknown(f"the process has no message {name!r} (messages it takes: {known})")
    return found


def deliver_message(
    definition: Definition,
    state: str,
    name: str,
    data: Mapping[str, Any],
    now: datetime,
    *,
    actor: str | None = None,
    calendar: Calendar | None = None,
    check: Callable[[MessageView, Mapping[str, Any]], None] | None = None,
) -> InstanceStatus:
    """Deliver message `name` with data validated against its start event's form; run on.

    Raises MessageUnknown (no such message), MessageNotAvailable (the instance cannot take it,
    e.g. it has ended) and TaskDataInvalid (per field) before anything changes. The status's
    `cancelled_now` lists the tasks the message stopped; `completed_now` starts with the
    message's start event (recorded in completed_steps with the actor and the form's answers).
    """
    aware = require_aware(now)
    return spiff_engine.deliver(definition, state, name, data, aware, actor, calendar, check)


def fire_due_timers(
    definition: Definition, state: str, now: datetime, *, calendar: Calendar | None = None
) -> InstanceStatus:
    """Fire every timer due at `now` (due <= now) and run the instance to its next wait."""
    return spiff_engine.fire(definition, state, require_aware(now), calendar)


def completed_steps(
    definition: Definition, state: str, stored: Sequence[CompletedStep] = ()
) -> list[CompletedStep]:
    """Completed user and business rule tasks with their answers/outputs, in completion order.

    `stored` are the steps kept outside the state (the `released_steps` of earlier commands,
    whose states were pruned): they are merged in, each step once, with its form.
    """
    held = spiff_engine.history(definition, state)
    if not stored:
        return held
    known = {step.id for step in held}
    merged = [*spiff_engine.with_forms(definition, [s for s in stored if s.id not in known]), *held]
    merged.sort(key=lambda step: step.sequence or 0)
    return merged


def taken_flows(definition: Definition, state: str) -> list[tuple[str, str]]:
    """(source, target) element ids of the connections travelled so far: the path on the diagram."""
    return spiff_engine.taken_flows(definition, state)
