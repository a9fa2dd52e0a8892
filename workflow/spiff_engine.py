"""Run instances on SpiffWorkflow: every command builds a fresh workflow from spec + state.

Only workflow/spiff_*.py import SpiffWorkflow, and Spiff objects never leave them: callers get
JSON strings and the dataclasses of workflow/model.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.camunda.specs.business_rule_task import BusinessRuleTask
from SpiffWorkflow.camunda.specs.user_task import UserTask
from SpiffWorkflow.util.task import TaskState

from workflow.cpu_budget import check_budget
from workflow.definition import Definition, load_definition
from workflow.errors import (
    EngineStepLimit,
    ProcessFailed,
    SafeguardError,
    StateUnreadable,
    TaskNotReady,
)
from workflow.external_result import checked_result
from workflow.formdata import validate_submission
from workflow.model import (
    CancelledTask,
    CompletedStep,
    ExternalTaskView,
    FormSpec,
    InstanceStatus,
    MessageView,
    PendingTimer,
    TaskView,
)
from workflow.spiff_forms import form_spec
from workflow.spiff_messages import (
    MessageNotAvailable,
    find_start,
    is_message_start,
    message_starts,
    message_view,
    start_form,
)
from workflow.spiff_parser import ASSIGNEE, CANDIDATE_GROUPS, DUE_DATE, LANE, TOPIC
from workflow.spiff_prune import dump_pruned
from workflow.spiff_prune import taken_flows as taken_flows_of
from workflow.spiff_runtime import (
    MESSAGE_VALUES,
    SERIALIZER_VERSION,
    SPEC_KEYS,
    TIMER_CLASSES,
    VERSION_KEY,
    ExternalServiceTask,
    SandboxScriptEngine,
    drop_predictions,
    iso_data,
    migrate,
    read_state,
    restore,
    thread_serializer,
)
from workflow.spiff_spec_cache import cached_specs
from workflow.spiff_triggers import remember as remember_triggers
from workflow.timing import CALENDAR_PROPERTY, Calendar, as_utc

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # the clock of read-only commands, which run nothing
MAX_STEPS = 10_000  # engine steps one command may take
MAX_SECONDS = 5.0  # CPU time (of its thread; a busy machine never trips it) in engine steps
# Kept in task.internal_data (serialized, never visible to expressions or forms).
SEQUENCE = "safeguard:seq"  # a completed task's place in the completion order
LAST_SEQUENCE = "safeguard:last_seq"  # on the root task: the last number given
COMPLETED_AT = "safeguard:completed_at"
ACTOR = "safeguard:actor"


# Called with the ready task and the instance's data before anything changes; raises to refuse.
TaskCheck = Callable[[TaskView, Mapping[str, Any]], None]
MessageCheck = Callable[[MessageView, Mapping[str, Any]], None]


@dataclass
class Command:
    """One command's workflow, engine and bookkeeping (never shared between calls)."""

    workflow: Any
    engine: SandboxScriptEngine
    completed_now: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Walk:
    """The tasks each of Spiff's state queries would find, from one walk of the tree.

    Each list holds what `workflow.get_tasks(state=...)` returns for that state, in its order:
    `ready` (READY), `waiting` (WAITING), `open` (READY | WAITING), `completed` (COMPLETED);
    `unfinished`: the top workflow's own tree holds a task not finished (is_completed's walk).
    """

    ready: list[Any]
    waiting: list[Any]
    open: list[Any]
    completed: list[Any]
    unfinished: bool


def walk(workflow: Any) -> Walk:
    """One depth-first walk that finds what get_tasks finds for each state we ask about.

    Spiff's BpmnTaskIterator visits children before siblings, a task's subprocess before its
    children, and descends into subprocesses whatever their state; otherwise it descends
    only from tasks at or past the query's lowest state: FUTURE for READY/WAITING queries,
    COMPLETED for a COMPLETED one (it never looks for finished work below unfinished work).
    So a task counts as completed only if every task above it let the COMPLETED walk down.
    is_completed walks only the top workflow's tree, descending from every task; this walk
    stops only below predicted tasks, which are unfinished themselves.
    """
    ready: list[Any] = []
    waiting: list[Any] = []
    open_: list[Any] = []
    completed: list[Any] = []
    unfinished = False
    top = workflow.top_workflow
    subprocesses = top.subprocesses
    stack: list[tuple[Any, bool]] = [(workflow.task_tree, True)]
    while stack:
        task, finished_above = stack.pop()
        state = task.state
        if state == TaskState.READY:
            ready.append(task)
            open_.append(task)
        elif state == TaskState.WAITING:
            waiting.append(task)
            open_.append(task)
        elif state == TaskState.COMPLETED and finished_above:
            completed.append(task)
        if state & TaskState.NOT_FINISHED_MASK and task.workflow is top:
            unfinished = True
        subprocess = subprocesses.get(task.id)
        if subprocess is None:
            if not task._children or state < TaskState.FUTURE:
                continue
            below = task.children
        else:
            below = [subprocess.task_tree, *task.children]
        deeper = finished_above and (subprocess is not None or state >= TaskState.COMPLETED)
        stack.extend((child, deeper) for child in reversed(below))
    return Walk(ready, waiting, open_, completed, unfinished)


def _ended(workflow: Any, tasks: Walk) -> bool:
    """workflow.is_completed() from the walk, with its effect: it marks an ended workflow."""
    if not workflow.completed and not tasks.unfinished:
        workflow.completed = True  # serialized: is_completed sets it in the same case
    return bool(workflow.completed)


def start(
    definition: Definition, now: datetime, data: Mapping[str, Any], calendar: Calendar | None
) -> InstanceStatus:
    """Create an instance, put `data` on its start, run it to its first wait."""
    with _translated():
        serializer = thread_serializer()
        document = _current_spec(definition)
        spec = serializer.from_dict(document["spec"])
        subprocess_specs = {
            k: serializer.from_dict(v) for k, v in document["subprocess_specs"].items()
        }
        engine = SandboxScriptEngine(now, calendar)
        workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=engine)
        workflow.task_tree.data.update(data)
        command = Command(workflow, engine)
        return _result(command, _run_engine(command))


def status(definition: Definition, state: str, now: datetime) -> InstanceStatus:
    """Describe an instance without running anything; the state returned is `state` itself."""
    command = _load(definition, state, now, None)
    with _translated():
        return _status_of(command, state, walk(command.workflow))


def complete(
    definition: Definition,
    state: str,
    task_id: str,
    data: Mapping[str, Any],
    now: datetime,
    actor: str | None,
    calendar: Calendar | None,
    check: TaskCheck | None = None,
) -> InstanceStatus:
    """Check task and data (raising before any change), complete it, run to the next wait."""
    command = _load(definition, state, now, calendar)
    task = _ready_user_task(command, task_id)
    if check is not None:
        view = _task_view(task)
        assert view is not None  # _ready_user_task only returns user tasks
        workflow = command.workflow
        check(view, iso_data(_current_data(workflow, walk(workflow))))
    values = validate_submission(form_spec(task.task_spec), data)
    with _translated():
        task.set_data(**values)
        _stamp(command, task, actor)
        task.run()
        return _result(command, _run_engine(command))


def complete_external(
    definition: Definition,
    state: str,
    task_id: str,
    result: Mapping[str, Any],
    now: datetime,
    calendar: Calendar | None,
) -> InstanceStatus:
    """Merge a worker's result into a waiting external task's data, complete it, run on."""
    command = _load(definition, state, now, calendar)
    task = _ready_task(command, task_id, ExternalServiceTask, "an external task")
    values = checked_result(task.task_spec.bpmn_id, result)
    with _translated():
        task.set_data(**values)
        # Listed in completed_now, but not numbered: history() is people's answers and decisions.
        command.completed_now.append(task.task_spec.bpmn_id)
        task.run()
        return _result(command, _run_engine(command))


def messages(definition: Definition) -> tuple[MessageView, ...]:
    """The messages the process takes (message start events of its event subprocesses)."""
    with _translated():
        spec, subprocess_specs = _specs_of(definition)
        starts = message_starts(spec, subprocess_specs)
        return tuple(message_view(sub, start) for sub, start in starts.values())


def deliver(
    definition: Definition,
    state: str,
    name: str,
    data: Mapping[str, Any],
    now: datetime,
    actor: str | None,
    calendar: Calendar | None,
    check: MessageCheck | None = None,
) -> InstanceStatus:
    """Deliver message `name` with form data: open its event subprocess, run to the next wait.

    Raises MessageUnknown, MessageNotAvailable and TaskDataInvalid before anything changes.
    An interrupting start event stops every other open task; `cancelled_now` lists the tasks
    stopped, whether by that or by the boundary events the message's subprocess triggered.
    """
    command = _load(definition, state, now, calendar)
    workflow = command.workflow
    with _translated():
        sub, start = find_start(message_starts(workflow.spec, workflow.subprocess_specs), name)
        view = message_view(sub, start)
    tasks = walk(workflow)
    if _ended(workflow, tasks):
        raise MessageNotAvailable(f"message {name!r} cannot be taken: the process has ended")
    current = _current_data(workflow, tasks)
    if check is not None:
        check(view, iso_data(current))
    values = validate_submission(start_form(start), data)
    with _translated():
        before = _open_tasks(tasks.open)
        subprocesses = set(workflow.subprocesses)
        event = BpmnEvent(start.event_definition, payload={MESSAGE_VALUES: {**current, **values}})
        if workflow.event_manager.catch(event, internal=False) == 0:
            raise MessageNotAvailable(f"message {name!r} cannot be taken now")
        opened = [workflow.subprocesses[i] for i in workflow.subprocesses if i not in subprocesses]
        stamped = [t for sp in opened for t in sp.get_tasks(spec_name=start.name)]
        for task in stamped:
            _stamp(command, task, actor)
        if view.interrupting:
            keep = {subprocess.parent_task_id for subprocess in opened}
            for child in list(workflow.task_tree.children):
                if child.id not in keep:
                    child.cancel()
        after = _run_engine(command)
        cancelled = tuple(_cancelled(workflow, before))
        status = _result(command, after)
        first = str(stamped[0].id) if stamped else None
        return replace(status, cancelled_now=cancelled, message_task_id=first)


def _open_tasks(open_tasks: list[Any]) -> dict[UUID, CancelledTask]:
    found: dict[UUID, CancelledTask] = {}
    for task in open_tasks:
        spec = task.task_spec
        if not isinstance(spec, UserTask | ExternalServiceTask):
            continue
        lane = str((getattr(spec, "extensions", {}) or {}).get(LANE) or "")
        name = str(spec.bpmn_name or spec.bpmn_id)
        found[task.id] = CancelledTask(str(task.id), str(spec.bpmn_id), name, lane)
    return found


def _cancelled(workflow: Any, before: dict[UUID, CancelledTask]) -> Iterator[CancelledTask]:
    for task_id, view in before.items():
        try:
            task = workflow.get_task_from_id(task_id)
        except Exception:
            yield view  # dropped from the tree with a cancelled parent
            continue
        if task.state == TaskState.CANCELLED:
            yield view


def _specs_of(definition: Definition) -> tuple[Any, dict[str, Any]]:
    # Read only: this thread's cached specs when they may be reused, else freshly restored.
    cached = cached_specs(definition)
    if cached is not None:
        return cached
    serializer = thread_serializer()
    document = _current_spec(definition)
    spec = serializer.from_dict(document["spec"])
    subs = {k: serializer.from_dict(v) for k, v in document["subprocess_specs"].items()}
    return spec, subs


def fire(
    definition: Definition, state: str, now: datetime, calendar: Calendar | None
) -> InstanceStatus:
    """Fire the timers due at `now`, then run the engine to its next wait."""
    command = _load(definition, state, now, calendar)
    with _translated():
        return _result(command, _run_engine(command))


def history(definition: Definition, state: str) -> list[CompletedStep]:
    """User and business rule tasks completed so far, in the order they completed."""
    command = _load(definition, state, EPOCH, None)
    with _translated():
        return [_completed_step(t) for t in _stamped(walk(command.workflow).completed)]


def with_forms(definition: Definition, steps: Sequence[CompletedStep]) -> list[CompletedStep]:
    """Stored steps with the form each one's answers came from, read from the definition."""
    with _translated():
        spec, subprocess_specs = _specs_of(definition)
        specs = [spec, *subprocess_specs.values()]
        found: dict[str, FormSpec | None] = {}
        for step in steps:
            if step.bpmn_id not in found:
                found[step.bpmn_id] = _form_of(specs, step.bpmn_id)
        return [replace(step, form=found[step.bpmn_id]) for step in steps]


def _form_of(specs: list[Any], bpmn_id: str) -> FormSpec | None:
    for spec in specs:
        task_spec = spec.task_specs.get(bpmn_id)
        if isinstance(task_spec, UserTask):
            return form_spec(task_spec)
        if task_spec is not None and is_message_start(task_spec):
            return start_form(task_spec)
    return None


def _stamped(completed: list[Any]) -> list[Any]:
    # Our numbered completions (people's answers and decisions), in completion order.
    stamped = [t for t in completed if SEQUENCE in t.internal_data]
    stamped.sort(key=lambda t: t.internal_data[SEQUENCE])
    return stamped


def taken_flows(definition: Definition, state: str) -> list[tuple[str, str]]:
    """(source, target) element ids of every connection the instance has travelled so far."""
    command = _load(definition, state, EPOCH, None)
    with _translated():
        return sorted(taken_flows_of(command.workflow))


def _load(definition: Definition, state: str, now: datetime, calendar: Calendar | None) -> Command:
    document, version = read_state(state)
    engine = SandboxScriptEngine(now, calendar)
    with _translated():
        if "spec" not in document:
            specs = cached_specs(definition) if version == SERIALIZER_VERSION else None
            if specs is not None:
                # Spiff's converter restores a spec that is already an object as it is.
                document["spec"], document["subprocess_specs"] = specs
                return Command(restore(thread_serializer(), document, engine), engine)
            document.update(_spec_parts(definition, version))
            migrate(document, version)
            return Command(restore(thread_serializer(), document, engine), engine)
        # A full serialization (an older release's, say): migrate it with its own spec, then
        # run it on the definition's, which carries our lanes, forms and timers.
        migrate(document, version)
        document.update(_spec_parts(definition, SERIALIZER_VERSION))
        drop_predictions(document)
        _check_task_specs(document)
        workflow = restore(thread_serializer(), document, engine)
        workflow._predict()  # predict again, from the definition's spec
        return Command(workflow, engine)


def _ready_user_task(command: Command, task_id: str) -> Any:
    return _ready_task(command, task_id, UserTask, "a user task")


def _ready_task(command: Command, task_id: str, kind: type, what: str) -> Any:
    try:
        task = command.workflow.get_task_from_id(UUID(task_id))
    except Exception:
        raise TaskNotReady(f"task {task_id!r} is not a task of this instance") from None
    name = task.task_spec.bpmn_id
    if not isinstance(task.task_spec, kind):
        raise TaskNotReady(f"task {task_id} ({name}) is not {what}")
    if task.state != TaskState.READY:
        state = TaskState.get_name(task.state)
        raise TaskNotReady(f"task {task_id} ({name}) is {state}, not READY")
    return task


def _run_engine(command: Command) -> Walk:
    """Run automatic tasks and due timers until only people or the clock can move the instance.

    Returns the walk of the tree it stopped on, which the command's result reads.
    """
    workflow = command.workflow
    started, steps = time.thread_time(), 0

    def will_complete(task: Any) -> None:
        nonlocal steps
        steps += 1
        check_budget(task.task_spec.bpmn_id)  # a run of many commands (a draft's checks)
        elapsed = time.thread_time() - started
        if steps > MAX_STEPS or elapsed > MAX_SECONDS:
            raise EngineStepLimit(
                f"{task.task_spec.bpmn_id}: the engine took {steps} steps in {elapsed:.2f}s of CPU "
                f"(limits {MAX_STEPS} steps, {MAX_SECONDS}s): is there a loop without a wait?"
            )

    def did_complete(task: Any) -> None:
        if task.state == TaskState.COMPLETED and isinstance(task.task_spec, BusinessRuleTask):
            _stamp(command, task, None)

    workflow.refresh_timers()
    while True:
        # do_engine_steps ends by refreshing timers, which may make boundary events READY.
        workflow.do_engine_steps(will_complete, did_complete)
        tasks = walk(workflow)
        # As get_tasks(state=READY, manual=False) would filter them.
        if not any(t.task_spec.manual == False for t in tasks.ready):  # noqa: E712
            return tasks


def _result(command: Command, tasks: Walk) -> InstanceStatus:
    """The command's status with its state, and the state pruned of finished work.

    `tasks` is the walk of the workflow as it stands (nothing may have changed since).
    """
    workflow = command.workflow
    status = _status_of(command, "", tasks)
    stamped = _stamped(tasks.completed)
    remember_triggers(workflow)  # before pruning can drop a finished subprocess's task
    ended = _ended(workflow, tasks)
    full, pruned = dump_pruned(thread_serializer(), workflow, tasks.completed, ended)
    if pruned is full:
        return replace(status, state=full)
    remaining = _task_ids(workflow)
    return replace(
        status,
        state=full,
        pruned_state=pruned,
        released_steps=tuple(_completed_step(t) for t in stamped if t.id not in remaining),
    )


def _task_ids(workflow: Any) -> set[UUID]:
    ids = set(workflow.tasks)
    for subprocess in workflow.subprocesses.values():
        ids.update(subprocess.tasks)
    return ids


def _status_of(command: Command, state: str, tasks: Walk) -> InstanceStatus:
    workflow = command.workflow
    ready_tasks = tasks.ready
    ready = [_task_view(t) for t in ready_tasks]
    return InstanceStatus(
        state=state,
        ready=tuple(view for view in ready if view is not None),
        timers=tuple(_timers(tasks.waiting)),
        ended=_ended(workflow, tasks),
        data=iso_data(_current_data(workflow, tasks)),
        completed_now=tuple(command.completed_now),
        external=tuple(
            _external_view(t) for t in ready_tasks if isinstance(t.task_spec, ExternalServiceTask)
        ),
    )


def _current_data(workflow: Any, tasks: Walk) -> dict[str, Any]:
    # Parallel branches each carry their own copy of the data: merge what the open tasks
    # hold, then the task completed last on top, and the workflow's own once it has ended.
    data: dict[str, Any] = {}
    for task in tasks.open:
        data.update(task.data)
    if workflow.last_task is not None:
        data.update(workflow.last_task.data)
    if _ended(workflow, tasks):
        data.update(workflow.data)
    data.pop("data_objects", None)
    return data


def _stamp(command: Command, task: Any, actor: str | None) -> None:
    # A per-instance counter on the root task orders completions; Spiff's last_state_change is
    # wall-clock time, which the core must not depend on.
    root = command.workflow.task_tree
    number = int(root.internal_data.get(LAST_SEQUENCE, 0)) + 1
    root.internal_data[LAST_SEQUENCE] = number
    task.internal_data[SEQUENCE] = number
    task.internal_data[COMPLETED_AT] = command.engine.now.isoformat()
    if actor is not None:
        task.internal_data[ACTOR] = actor
    command.completed_now.append(task.task_spec.bpmn_id)


def _task_view(task: Any) -> TaskView | None:
    spec = task.task_spec
    if not isinstance(spec, UserTask):
        return None
    extensions = getattr(spec, "extensions", {}) or {}
    groups = str(extensions.get(CANDIDATE_GROUPS) or "")
    return TaskView(
        id=str(task.id),
        bpmn_id=spec.bpmn_id,
        name=spec.bpmn_name or spec.bpmn_id,
        lane=str(extensions.get(LANE) or ""),
        candidate_groups=tuple(g.strip() for g in groups.split(",") if g.strip()),
        assignee=extensions.get(ASSIGNEE) or None,
        due=extensions.get(DUE_DATE) or None,
        documentation=spec.documentation or "",
        form=form_spec(spec),
        due_calendar=extensions.get(CALENDAR_PROPERTY) or None,
    )


def _external_view(task: Any) -> ExternalTaskView:
    spec = task.task_spec
    extensions = getattr(spec, "extensions", {}) or {}
    return ExternalTaskView(
        id=str(task.id),
        bpmn_id=spec.bpmn_id,
        name=spec.bpmn_name or spec.bpmn_id,
        topic=str(extensions.get(TOPIC) or ""),
        lane=str(extensions.get(LANE) or ""),
    )


def _timers(waiting: list[Any]) -> Iterator[PendingTimer]:
    for task in waiting:
        definition = getattr(task.task_spec, "event_definition", None)
        if not isinstance(definition, TIMER_CLASSES):
            continue
        value = task.internal_data.get("event_value")
        due = value.get("next") if isinstance(value, dict) else value
        if due is None:
            continue
        spec = task.task_spec
        yield PendingTimer(str(task.id), spec.bpmn_id, spec.bpmn_name or spec.bpmn_id, as_utc(due))


def _completed_step(task: Any) -> CompletedStep:
    spec = task.task_spec
    form = form_spec(spec) if isinstance(spec, UserTask) else None
    if form is None and is_message_start(spec):
        form = start_form(spec)
    if form is not None:
        keys = [f.id for f in form.fields]
    else:
        keys = [o.name or o.label for o in spec.dmnEngine.decision_table.outputs]
    data = {key: task.data.get(key) for key in keys}
    return CompletedStep(
        id=str(task.id),
        bpmn_id=spec.bpmn_id,
        name=spec.bpmn_name or spec.bpmn_id,
        lane=str((getattr(spec, "extensions", {}) or {}).get(LANE) or ""),
        data=iso_data(data),
        completed_at=as_utc(task.internal_data[COMPLETED_AT])
        if COMPLETED_AT in task.internal_data
        else None,
        actor=task.internal_data.get(ACTOR),
        form=form,
        sequence=task.internal_data.get(SEQUENCE),
    )


def _spec_parts(definition: Definition, version: str) -> dict[str, Any]:
    # States are stored without their spec; it must be in the same format as the state so that
    # migrations can upgrade both together. A state already upgraded (written by the current
    # serializer) whose definition still holds an older spec gets a freshly parsed one.
    document: dict[str, Any] = json.loads(definition.spec)
    if document.get(VERSION_KEY) != version:
        if version != SERIALIZER_VERSION:
            raise StateUnreadable(
                f"state was saved by serializer {version} but the definition's spec by "
                f"{document.get(VERSION_KEY)}: they cannot be migrated together"
            )
        document = _current_spec(definition)
    return {key: document[key] for key in SPEC_KEYS}


def _check_task_specs(document: dict[str, Any]) -> None:
    known = set(document["spec"]["task_specs"])
    for spec in document["subprocess_specs"].values():
        known.update(spec["task_specs"])
    tasks = list(document["tasks"].values())
    for subprocess in document.get("subprocesses", {}).values():
        tasks.extend(subprocess["tasks"].values())
    missing = sorted({t["task_spec"] for t in tasks} - known)
    if missing:
        raise StateUnreadable(
            f"state refers to elements the definition does not have: {', '.join(missing)}"
        )


def _current_spec(definition: Definition) -> dict[str, Any]:
    # No cache of parsed spec dicts: Spiff's converters mutate the dict they restore from, and
    # a deep copy costs more than json.loads (0.24 ms against 0.06 ms for an 8 KB spec).
    document: dict[str, Any] = json.loads(definition.spec)
    if document.get(VERSION_KEY) == SERIALIZER_VERSION:
        return document
    reparsed: dict[str, Any] = json.loads(_reparsed_spec(definition.sources, definition.process_id))
    return reparsed


@lru_cache(maxsize=32)
def _reparsed_spec(sources: tuple[Any, ...], process_id: str) -> str:
    # Only after a SpiffWorkflow upgrade: the stored spec is older than the serializer. The
    # cache holds immutable JSON strings, never Spiff objects, so it is safe across threads.
    return load_definition(sources, process_id).spec


@contextmanager
def _translated() -> Iterator[None]:
    # Let our errors through (also when Spiff wrapped them); Spiff's become ProcessFailed.
    try:
        yield
    except SafeguardError:
        raise
    except Exception as error:
        cause = _safeguard_cause(error)
        if cause is not None:
            raise cause from error
        spec = getattr(error, "task_spec", None) or getattr(
            getattr(error, "task", None), "task_spec", None
        )
        element = str(getattr(spec, "bpmn_id", "") or "")
        message = str(error.args[0]) if error.args else type(error).__name__
        raise ProcessFailed(element, message) from error


def _safeguard_cause(error: BaseException) -> SafeguardError | None:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, SafeguardError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
