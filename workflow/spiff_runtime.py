"""SpiffWorkflow at run time: the sandboxed script engine, timers on an injected clock, serializer.

Only workflow/spiff_*.py import SpiffWorkflow; nothing here leaves those modules.
"""

from __future__ import annotations

import ast
import inspect
import json
import threading
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.event_definition import (
    TimerConditionalEventDefinitionConverter,
)
from SpiffWorkflow.bpmn.serializer.default.task_spec import BpmnTaskSpecConverter
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.migration.version_migration import MIGRATIONS
from SpiffWorkflow.bpmn.serializer.workflow import VERSION
from SpiffWorkflow.bpmn.specs.defaults import ServiceTask
from SpiffWorkflow.bpmn.specs.event_definitions import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
)
from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.camunda.serializer.event_definition import MessageEventDefinitionConverter
from SpiffWorkflow.camunda.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.util.task import TaskIterator, TaskState

from workflow.errors import ExpressionError, StateUnreadable
from workflow.sandbox import Sandbox
from workflow.spiff_triggers import align as align_triggers
from workflow.timing import (
    CALENDAR_PROPERTY,
    Calendar,
    PlainCalendar,
    TimingError,
    as_utc,
    calendar_for,
    parse_duration,
)

SERIALIZER_VERSION = VERSION
VERSION_KEY = BpmnWorkflowSerializer.VERSION_KEY
SPEC_KEYS = ("spec", "subprocess_specs")

# Spiff's task iterator stops descending at depth 1000: a loop that has gone round ~250 times
# then has READY tasks nobody finds, and the instance silently stalls. Every iterator Spiff
# builds uses the default, so the default itself is raised (TaskIterator, BpmnTaskIterator).
TASK_TREE_MAX_DEPTH = 1_000_000


def _raise_iterator_depth(cls: Any) -> None:
    parameters = list(inspect.signature(cls.__init__).parameters.values())[2:]
    defaults = [p.default for p in parameters if p.default is not inspect.Parameter.empty]
    names = [p.name for p in parameters if p.default is not inspect.Parameter.empty]
    defaults[names.index("max_depth")] = TASK_TREE_MAX_DEPTH
    cls.__init__.__defaults__ = tuple(defaults)


_raise_iterator_depth(TaskIterator)
_raise_iterator_depth(BpmnTaskIterator)


class SandboxEnvironment(BasePythonScriptEngineEnvironment):  # type: ignore[misc]
    """Spiff's script environment with every evaluate/execute sent to our Sandbox."""

    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__({})
        self.sandbox = sandbox

    def evaluate(
        self, expression: str, context: dict[str, Any], external_context: Any = None
    ) -> Any:
        """Evaluate an expression over the task data (and Spiff's extra names, if any)."""
        variables = {**(external_context or {}), **context}
        return self.sandbox.evaluate(expression, variables)

    def execute(self, script: str, context: dict[str, Any], external_context: Any = None) -> bool:
        """Run a script task; its assignments land in the task data, Spiff's extras do not."""
        extra = dict(external_context or {})
        variables = {**extra, **context}
        self.sandbox.execute(script, variables)
        for name in list(context):
            if name not in variables:
                del context[name]
        for name, value in variables.items():
            if name not in extra or name in context or value is not extra[name]:
                context[name] = value
        return True

    def call_service(self, context: dict[str, Any], **kwargs: Any) -> Any:
        """Service tasks never run here (external tasks wait for a worker): refuse a call."""
        raise ExpressionError(
            str(kwargs.get("operation_name", "")), "service tasks are not supported"
        )


class ExternalServiceTask(ServiceTask):  # type: ignore[misc]
    """A `camunda:type="external"` service task: it waits, like a user task, for a worker.

    Manual, so engine steps never run it; `complete_external` runs it with the worker's result.
    Its topic and lane are in `extensions` (see spiff_parser), serialized with the spec.
    """

    def __init__(self, wf_spec: Any, bpmn_id: str, **kwargs: Any) -> None:
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.manual = True

    def _run_hook(self, my_task: Any) -> bool:
        return True  # the worker did the work; running the task only completes it


class SandboxScriptEngine(PythonScriptEngine):  # type: ignore[misc]
    """One command's script engine: sandboxed expressions, the command's clock and calendar."""

    def __init__(self, now: datetime, calendar: Calendar | None = None) -> None:
        super().__init__(environment=SandboxEnvironment(Sandbox()))
        self.now = now
        self.calendar: Calendar = calendar or PlainCalendar()

    def validate(self, expression: str) -> None:
        """Parse only (never run): DMN cells rely on SyntaxError to decide whether to add '=='."""
        ast.parse(expression, mode="eval")

    def evaluate(self, task: Any, expression: str, external_context: Any = None) -> Any:
        """Evaluate in the sandbox; errors name the element whose expression failed."""
        try:
            return self.environment.evaluate(expression, task.data, external_context)
        except ExpressionError as error:
            raise _located(error, task) from error

    def execute(self, task: Any, script: str, external_context: Any = None) -> bool:
        """Run a script task's script in the sandbox."""
        try:
            return bool(self.environment.execute(script, task.data, external_context))
        except ExpressionError as error:
            raise _located(error, task) from error


def _located(error: ExpressionError, task: Any) -> ExpressionError:
    if error.element_id:
        return error
    return ExpressionError(error.expression, error.message, element_id=task.task_spec.bpmn_id)


def engine_of(task: Any) -> SandboxScriptEngine:
    """The command's script engine, which holds the injected clock."""
    engine = task.workflow.script_engine
    if not isinstance(engine, SandboxScriptEngine):
        raise TypeError("workflows must run with the SandboxScriptEngine")
    return engine


def _timer_value(task: Any, definition: Any) -> Any:
    return engine_of(task).evaluate(task, definition.expression)


def _timer_error(task: Any, definition: Any, error: TimingError) -> ExpressionError:
    return ExpressionError(definition.expression, str(error), element_id=task.task_spec.bpmn_id)


def _fire_when_due(task: Any, due: str) -> bool:
    if as_utc(due) <= engine_of(task).now:
        task._set_internal_data(event_fired=True)
    return bool(task._get_internal_data("event_fired", False))


def _calendar_named(task: Any) -> str | None:
    # The event's camunda:property "calendar" (specs parsed before events kept theirs: none).
    extensions = getattr(task.task_spec, "extensions", None) or {}
    name = extensions.get(CALENDAR_PROPERTY)
    return str(name) if name else None


class ClockedTimeDate(TimeDateEventDefinition):  # type: ignore[misc]
    """A timer at a date (literal or a variable), due at that moment in UTC."""

    def has_fired(self, my_task: Any) -> bool:
        """Compute the due time once, then fire when the command's clock reaches it."""
        due = my_task._get_internal_data("event_value")
        if due is None:
            try:
                due = as_utc(_timer_value(my_task, self)).isoformat()
            except TimingError as error:
                raise _timer_error(my_task, self, error) from error
            my_task._set_internal_data(event_value=due)
        return _fire_when_due(my_task, due)


class ClockedDuration(DurationTimerEventDefinition):  # type: ignore[misc]
    """A timer a duration after the moment it started waiting, counted on the command's calendar."""

    def has_fired(self, my_task: Any) -> bool:
        """Compute the due time once, then fire when the command's clock reaches it."""
        due = my_task._get_internal_data("event_value")
        if due is None:
            engine = engine_of(my_task)
            try:
                calendar = calendar_for(engine.calendar, _calendar_named(my_task))
                due = calendar.add(engine.now, str(_timer_value(my_task, self))).isoformat()
            except TimingError as error:
                raise _timer_error(my_task, self, error) from error
            my_task._set_internal_data(event_value=due)
        return _fire_when_due(my_task, due)


class ClockedCycle(CycleTimerEventDefinition):  # type: ignore[misc]
    """A repeating timer `R[n]/[start/]duration`, read against the command's clock."""

    def cycle_complete(self, my_task: Any) -> bool:
        """Return True each time the next repetition is due (Spiff then spawns a child)."""
        engine = engine_of(my_task)
        value = my_task._get_internal_data("event_value")
        if value is None:
            try:
                value = self._first_cycle(engine, str(_timer_value(my_task, self)))
            except TimingError as error:
                raise _timer_error(my_task, self, error) from error
        ready = False
        if value["cycles"] == 0:
            my_task.internal_data.pop("event_value", None)
            my_task.internal_data["event_fired"] = True
            return False
        due = as_utc(value["next"])
        if due <= engine.now:
            value["next"] = (due + timedelta(seconds=value["duration"])).isoformat()
            value["cycles"] -= 1
            ready = True
        my_task._set_internal_data(event_value=value)
        return ready

    @staticmethod
    def _first_cycle(engine: SandboxScriptEngine, expression: str) -> dict[str, Any]:
        parts = expression.strip().upper().split("/")
        if len(parts) not in (2, 3) or not parts[0].startswith("R"):
            raise TimingError(f"{expression!r} is not an ISO 8601 repeat such as 'R3/PT1H'")
        cycles = int(parts[0][1:]) if parts[0][1:] else -1
        period = parse_duration(parts[-1])
        if period.months:
            raise TimingError(f"{expression!r}: repeats in months or years are not supported")
        start = as_utc(parts[1]) if len(parts) == 3 else engine.calendar.add(engine.now, parts[-1])
        seconds = period.exact.total_seconds()
        return {"cycles": cycles, "next": start.isoformat(), "duration": seconds}


CLOCKED_TIMERS: Mapping[type, type] = {
    TimeDateEventDefinition: ClockedTimeDate,
    DurationTimerEventDefinition: ClockedDuration,
    CycleTimerEventDefinition: ClockedCycle,
}
TIMER_CLASSES = tuple(CLOCKED_TIMERS.values())


# The key of a message payload holding a form's values (the command's own, not Camunda's
# payload/result_var pair): they are merged into the catching task's data.
MESSAGE_VALUES = "safeguard:values"


class FormMessageEventDefinition(MessageEventDefinition):  # type: ignore[misc]
    """Camunda's message event, which merges a delivered form's values into the task data.

    Every Camunda message definition restores as this class (same typename), so messages
    thrown inside a diagram behave as before: only a payload with MESSAGE_VALUES is merged.
    """

    def update_task_data(self, my_task: Any) -> None:
        """Merge a delivered form's values; otherwise Camunda's payload/result_var."""
        event_data = my_task.internal_data.get(self.name)
        if isinstance(event_data, dict) and MESSAGE_VALUES in event_data:
            my_task.set_data(**event_data[MESSAGE_VALUES])
            return
        super().update_task_data(my_task)


class StateConverter(BpmnWorkflowConverter):  # type: ignore[misc]
    """Converts a top-level workflow WITHOUT its specs: those are stored once per definition."""

    def to_dict(self, workflow: Any) -> dict[str, Any]:
        """The per-instance part of the workflow: tasks, data, subprocesses and pending events."""
        dct: dict[str, Any] = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct


_local = threading.local()


def thread_serializer() -> BpmnWorkflowSerializer:
    """This thread's serializer, built once (building one costs ~0.7 ms; never shared).

    Its registry's only mutable state is the encoder-mode flag serialize_json sets and resets
    around one call, and a thread runs one command at a time, so reuse within a thread is safe.
    """
    serializer: BpmnWorkflowSerializer | None = getattr(_local, "serializer", None)
    if serializer is None:
        serializer = _local.serializer = new_serializer()
    return serializer


def new_serializer() -> BpmnWorkflowSerializer:
    """A fresh serializer (its registry holds mutable state: never share it between threads)."""
    config = {cls: conv for cls, conv in CAMUNDA_CONFIG.items() if cls not in CLOCKED_TIMERS}
    config.pop(BpmnWorkflow)
    config[ExternalServiceTask] = BpmnTaskSpecConverter
    registry = BpmnWorkflowSerializer.configure(config)
    for spiff_class, ours in CLOCKED_TIMERS.items():
        # Same typename as Spiff's own: specs stay readable by plain Spiff, and specs or states
        # written before we subclassed the timers restore into the clocked classes.
        TimerConditionalEventDefinitionConverter(ours, registry, typename=spiff_class.__name__)
    StateConverter(BpmnWorkflow, registry)
    # Registered last under Camunda's typename: every message definition restores as ours.
    MessageEventDefinitionConverter(
        FormMessageEventDefinition, registry, typename=MessageEventDefinition.__name__
    )
    registry.register(
        date, lambda v: {"value": v.isoformat()}, lambda v: date.fromisoformat(v["value"])
    )
    return BpmnWorkflowSerializer(registry)


def dump_spec(serializer: BpmnWorkflowSerializer, spec: Any, subprocess_specs: Any) -> str:
    """Serialize a process spec and its subprocess specs, with the serializer version."""
    registry = serializer.registry
    document = {
        VERSION_KEY: SERIALIZER_VERSION,
        "spec": registry.convert(spec),
        "subprocess_specs": {name: registry.convert(s) for name, s in subprocess_specs.items()},
    }
    return json.dumps(document, separators=(",", ":"))


def dump_state(serializer: BpmnWorkflowSerializer, workflow: Any) -> str:
    """Serialize an instance's state without the spec."""
    return str(serializer.serialize_json(workflow))


# Spiff's MIGRATIONS are not chained: each upgrades one step (from_version_1_1 goes on to 1.3,
# from_version_1_3 even records VERSION 1.3 although it produces 1.4). The target of each step:
_MIGRATED_TO = {"1.0": "1.3", "1.1": "1.3", "1.2": "1.3", "1.3": "1.4", "1.4": "1.5"}


def read_state(state: str) -> tuple[dict[str, Any], str]:
    """A stored state as a dict without its serializer version, and that (readable) version."""
    try:
        document = json.loads(state)
    except (TypeError, ValueError) as error:
        raise StateUnreadable(f"state is not JSON: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get(VERSION_KEY), str):
        raise StateUnreadable("state has no serializer_version: it was not saved by this engine")
    version = document.pop(VERSION_KEY)
    check_version(version)
    return document, version


def check_version(version: str) -> None:
    """Refuse a serializer version this engine cannot read or migrate from."""
    if version != SERIALIZER_VERSION and (version not in _MIGRATED_TO or version not in MIGRATIONS):
        raise StateUnreadable(
            f"state was saved by serializer version {version!r}; this engine reads "
            f"{', '.join(sorted(_MIGRATED_TO))} and {SERIALIZER_VERSION}"
        )


def migrate(document: dict[str, Any], version: str) -> None:
    """Upgrade a full workflow dict (state + spec) from `version` to the current serializer."""
    check_version(version)
    while version != SERIALIZER_VERSION:
        try:
            MIGRATIONS[version](document)
        except Exception as error:
            raise StateUnreadable(
                f"state could not be migrated from version {version}: {error}"
            ) from error
        version = _MIGRATED_TO[version]
    document.pop("VERSION", None)


# Predicted tasks are guesses Spiff derives from the spec.
_PREDICTED = (TaskState.MAYBE, TaskState.LIKELY, TaskState.FUTURE)


def drop_predictions(document: dict[str, Any]) -> None:
    """Remove predicted tasks: they were derived from a spec the state will no longer run on."""
    for workflow in [document, *document.get("subprocesses", {}).values()]:
        tasks: dict[str, Any] = workflow["tasks"]
        dropped = {tid for tid, task in tasks.items() if task["state"] in _PREDICTED}
        for tid in dropped:
            del tasks[tid]
        for task in tasks.values():
            task["children"] = [child for child in task["children"] if child not in dropped]


def restore(
    serializer: BpmnWorkflowSerializer, document: dict[str, Any], engine: SandboxScriptEngine
) -> Any:
    """Build a fresh workflow from a current-version full dict and attach the command's engine."""
    try:
        workflow = serializer.from_dict(document)
    except Exception as error:
        raise StateUnreadable(
            f"state could not be restored: {type(error).__name__}: {error}"
        ) from error
    workflow.script_engine = engine
    align_triggers(workflow)  # the spec as this instance left it, whichever thread restored it
    return workflow


# Exactly these types are returned as they are; checked first because most values are
# these, and the isinstance test against the Mapping ABC is slow.
_PLAIN_TYPES = frozenset({str, int, float, bool, type(None)})


def iso_data(value: Any) -> Any:
    """Workflow data made JSON-friendly: dates and times as ISO strings, sets as lists."""
    if type(value) in _PLAIN_TYPES:
        return value
    if type(value) is dict:
        plain = _PLAIN_TYPES
        return {
            str(k): v if type(v) in plain else iso_data(v)
            for k, v in value.items()
            if not callable(v)
        }
    if isinstance(value, Mapping):
        return {str(k): iso_data(v) for k, v in value.items() if not callable(v)}
    if isinstance(value, list | tuple | set):
        return [iso_data(v) for v in value]
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value
