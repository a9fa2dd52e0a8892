"""Move a running instance to a newer version of its process, when the engine can.

An instance's state names each task's spec by name (the BPMN id, or Spiff's own names such as
`x.BoundaryEventSplit`). Migrating keeps every task as it is (ids, states, data) and binds it
to the same-named spec of the new version; predicted tasks are dropped and predicted again.
It is refused, with the reason, when a task the state holds has no spec of that name in the
new version or changed kind, when a join it waits in waits for other flows, or when a step
already answered would lose a field its answer is shown under or be read by more roles than
when it was given. Answers are kept exactly: the migrated state's task data is compared with
the original's before it is returned.

Pure functions over JSON strings and our dataclasses: no Spiff object leaves this module.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal

from SpiffWorkflow.util.task import TaskState

from workflow.definition import Definition, load_definition
from workflow.errors import SafeguardError, StateUnreadable
from workflow.model import CompletedStep
from workflow.spiff_runtime import (
    SERIALIZER_VERSION,
    SPEC_KEYS,
    VERSION_KEY,
    SandboxScriptEngine,
    drop_predictions,
    dump_state,
    migrate,
    new_serializer,
    read_state,
    restore,
)
from workflow.spiff_spec_cache import cached_specs
from workflow.spiff_triggers import remember as remember_triggers
from workflow.step_readers import (
    NEEDS_PROPERTY,
    READ_BY_DEFAULT,
    READERS_PROPERTY,
    ReadersProblem,
    role_list,
    task_list,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # migrating runs nothing: no clock is read
LANE = "safeguard:lane"
GROUPS = "safeguard:candidate_groups"
DUE = "safeguard:due_date"
# Kinds whose completed tasks the incident's history shows from the spec (form or outputs).
HISTORY_KINDS = frozenset({"UserTask", "BusinessRuleTask", "StartEvent"})
JOIN_KINDS = frozenset({"ParallelGateway", "InclusiveGateway", "_EndJoin"})
_OPEN = TaskState.READY | TaskState.WAITING | TaskState.STARTED
_PREDICTED = TaskState.MAYBE | TaskState.LIKELY | TaskState.FUTURE

Outcome = Literal["kept", "moved", "blocked"]


class MigrationBlocked(SafeguardError):
    """The instance cannot move to the new version; `reasons` says why, each in words."""

    def __init__(self, reasons: tuple[str, ...]) -> None:
        self.reasons = reasons
        super().__init__("; ".join(reasons))


@dataclass(frozen=True)
class TaskChange:
    """What happens to one open task (ready or waiting) of the instance."""

    bpmn_id: str
    name: str  # as the new version names it (the old name when blocked)
    state: str  # "ready", "waiting" or "started"
    kind: str  # the spec's kind, e.g. "UserTask", "BoundaryEvent"
    outcome: Outcome  # kept as it is; moved to another lane or role; blocked
    changes: tuple[str, ...] = ()  # in words: what the new version changes for it, or why blocked
    lane_before: str = ""
    lane_after: str = ""


@dataclass(frozen=True)
class AnswersKept:
    """A step already answered whose answers carry over to the new version unchanged."""

    bpmn_id: str
    name: str
    answers: int  # how many of its form's fields hold an answer (values are never shown)


@dataclass(frozen=True)
class MigrationPreview:
    """What moving one instance to the new version does: per open task, and the answers kept."""

    tasks: tuple[TaskChange, ...]
    blocked: tuple[str, ...]  # every reason the migration is refused ([] when it can go ahead)
    answers: tuple[AnswersKept, ...]

    @property
    def migratable(self) -> bool:
        """Whether the instance can move to the new version."""
        return not self.blocked


def preview_migration(
    old: Definition, state: str, new: Definition, answered: Sequence[CompletedStep] = ()
) -> MigrationPreview:
    """Tell, without changing anything, what moving the instance to `new` would do.

    `answered` are the steps whose answers the caller keeps outside the state (a state may be
    pruned of finished work): they are checked against the new version like those it holds.
    """
    document = _state_document(old, state)
    old_specs = _read_only_specs(old)
    new_specs = _read_only_specs(new)
    tasks: list[TaskChange] = []
    blocked: list[str] = []
    answers: dict[str, AnswersKept] = {}
    for workflow, before, after in _workflows(document, old_specs, new_specs, blocked):
        for task_id, task in workflow["tasks"].items():
            if task["state"] & _PREDICTED:
                continue
            spec = before.get(task["task_spec"], {})
            target = after.get(task["task_spec"]) if after is not None else None
            if task["state"] & _OPEN:
                change = _open_task(task, spec, target, after or {})
                tasks.append(change)
                if change.outcome == "blocked":
                    blocked.extend(change.changes)
                continue
            problem = _finished_problem(task, spec, target)
            if problem:
                blocked.append(problem)
            elif task["state"] == TaskState.COMPLETED and spec.get("typename") == "UserTask":
                count = _answered(_given(task), spec)
                if count:
                    answers[task_id] = AnswersKept(spec["bpmn_id"], _name(spec), count)
    for step in answered:
        if step.id in answers or not step.data:
            continue  # the state holds it: judged above
        spec = _spec_named(old_specs, step.bpmn_id) or {"bpmn_id": step.bpmn_id}
        target = _spec_named(new_specs, step.bpmn_id)
        what = f"'{_name(spec)}' ({step.bpmn_id})"
        problem = (
            f"{what}, completed on this incident, no longer exists in the new version"
            if target is None
            else _answered_problem(what, spec, target, step.data)
        )
        if problem:
            blocked.append(problem)
        else:
            count = sum(1 for value in step.data.values() if value is not None)
            answers[step.id] = AnswersKept(step.bpmn_id, _name(spec), count)
    tasks.sort(key=lambda t: (t.outcome != "blocked", t.state, t.bpmn_id))
    return MigrationPreview(tuple(tasks), tuple(dict.fromkeys(blocked)), tuple(answers.values()))


def migrate_state(
    old: Definition, state: str, new: Definition, answered: Sequence[CompletedStep] = ()
) -> str:
    """The instance's state bound to `new`; raises MigrationBlocked with the preview's reasons."""
    found = preview_migration(old, state, new, answered)
    if not found.migratable:
        raise MigrationBlocked(found.blocked)
    document = _state_document(old, state)
    original = _task_data(document)
    drop_predictions(document)
    specs = cached_specs(new)  # this thread's restored specs; Spiff takes them as they are
    if specs is not None:
        document["spec"], document["subprocess_specs"] = specs
    else:
        document.update({key: _spec_document(new)[key] for key in SPEC_KEYS})
    serializer = new_serializer()
    try:
        workflow = restore(serializer, document, SandboxScriptEngine(EPOCH))
        workflow._predict()  # predict again, from the new version's spec
        remember_triggers(workflow)
        migrated = dump_state(serializer, workflow)
    except SafeguardError:
        raise
    except Exception as error:  # Spiff refusing the new spec: say so, change nothing
        reason = f"the engine could not bind the state to the new version: {error}"
        raise MigrationBlocked((reason,)) from error
    _check_data_kept(original, _task_data(json.loads(migrated)))
    return migrated


# --- reading the state and the specs --------------------------------------------------------


def _state_document(old: Definition, state: str) -> dict[str, Any]:
    # A current-serializer state without its spec; an older one is upgraded with its own spec.
    document, version = read_state(state)
    if version != SERIALIZER_VERSION:
        if "spec" not in document:
            spec = json.loads(old.spec)
            if spec.get(VERSION_KEY) != version:
                raise StateUnreadable(
                    f"state was saved by serializer {version} but its version's spec by "
                    f"{spec.get(VERSION_KEY)}: they cannot be migrated together"
                )
            document.update({key: spec[key] for key in SPEC_KEYS})
        migrate(document, version)
    for key in SPEC_KEYS:
        document.pop(key, None)
    return dict(document)


@lru_cache(maxsize=8)
def _read_only_specs(definition: Definition) -> dict[str, Any]:
    """The parsed spec document, shared between previews: read it, never change it."""
    # A preview of many incidents parses each version's 100 KB spec once, not per incident.
    return _spec_document(definition)


def _spec_document(definition: Definition) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(definition.spec)
    if document.get(VERSION_KEY) != SERIALIZER_VERSION:  # only after a SpiffWorkflow upgrade
        document = json.loads(load_definition(definition.sources, definition.process_id).spec)
    return document


def _workflows(
    document: dict[str, Any],
    old_specs: dict[str, Any],
    new_specs: dict[str, Any],
    blocked: list[str],
) -> list[tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None]]:
    """(workflow, its old task specs, its new task specs or None) for the top and subprocesses."""
    found = [
        (document, old_specs["spec"]["task_specs"], new_specs["spec"]["task_specs"]),
    ]
    for subprocess in document.get("subprocesses", {}).values():
        name = subprocess.get("spec")
        before = old_specs["subprocess_specs"].get(name, {}).get("task_specs", {})
        after = new_specs["subprocess_specs"].get(name)
        if after is None:
            blocked.append(f"the subprocess '{name}' the incident is in is not in the new version")
        found.append((subprocess, before, after["task_specs"] if after else None))
    return found


# --- judging each task ----------------------------------------------------------------------


def _open_task(
    task: dict[str, Any], spec: dict[str, Any], target: dict[str, Any] | None, after: dict[str, Any]
) -> TaskChange:
    state = TaskState.get_name(task["state"]).lower()
    kind = str(spec.get("typename", ""))
    bpmn_id = str(spec.get("bpmn_id") or task["task_spec"])
    lane = _lane(spec)
    reasons: list[str] = []
    if target is None:
        reasons.append(f"{_what(spec, task)}, {state} on this incident, {_no_longer(task)}")
    elif target.get("typename") != kind:
        reasons.append(
            f"{_what(spec, task)}, {state} on this incident, is a {target.get('typename')} "
            f"in the new version, not a {kind}"
        )
    elif kind in JOIN_KINDS and sorted(target.get("inputs", [])) != sorted(spec.get("inputs", [])):
        reasons.append(f"{_what(spec, task)} waits for other flows in the new version")
    if reasons or target is None:  # target is None only with a reason: for mypy
        return TaskChange(bpmn_id, _name(spec), state, kind, "blocked", tuple(reasons), lane, lane)
    changes = _changes(spec, target, after)
    moved = _lane(target) != lane or _groups(target) != _groups(spec)
    return TaskChange(
        bpmn_id,
        _name(target),
        state,
        kind,
        "moved" if moved else "kept",
        tuple(changes),
        lane,
        _lane(target),
    )


def _finished_problem(
    task: dict[str, Any], spec: dict[str, Any], target: dict[str, Any] | None
) -> str | None:
    done = TaskState.get_name(task["state"]).lower()
    if target is None:
        return f"{_what(spec, task)}, {done} on this incident, {_no_longer(task)}"
    if task["state"] != TaskState.COMPLETED or spec.get("typename") not in HISTORY_KINDS:
        return None
    return _answered_problem(_what(spec, task), spec, target, _given(task))


def _answered_problem(
    what: str, spec: dict[str, Any], target: dict[str, Any], given: Mapping[str, Any]
) -> str | None:
    """Why the answers given at a completed step could not be shown as they were, if so."""
    kind = spec.get("typename")
    if kind is not None and target.get("typename") != kind:
        return (
            f"{what}, completed on this incident, is a {target.get('typename')} "
            f"in the new version: its answers could no longer be shown"
        )
    lost = sorted(
        name
        for name, type_ in _fields(spec).items()
        if name in given and _fields(target).get(name) != type_
    )
    if lost:
        return (
            f"{what}, completed on this incident, loses or retypes the field(s) "
            f"{', '.join(lost)} in the new version: the answers given there would not be shown"
        )
    # Need-to-know: answers given under one set of readers are never shown to more people.
    wider = sorted(set(_readers(target)) - set(_readers(spec)))
    if wider:
        return (
            f"{what}, completed on this incident, is read by {', '.join(wider)} "
            "in the new version: the answers given there were not theirs to read"
        )
    return None


def _spec_named(specs: dict[str, Any], bpmn_id: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = specs["spec"]["task_specs"].get(bpmn_id)
    for sub in specs["subprocess_specs"].values():
        found = found or sub["task_specs"].get(bpmn_id)
    return found


def _readers(spec: dict[str, Any]) -> tuple[str, ...]:
    try:
        declared = role_list(_extension(spec, READERS_PROPERTY) or None)
    except ReadersProblem:
        declared = None  # a stored version passed lint: never reached
    return declared if declared is not None else READ_BY_DEFAULT


def _changes(spec: dict[str, Any], target: dict[str, Any], after: dict[str, Any]) -> list[str]:
    changes: list[str] = []
    if _lane(target) != _lane(spec):
        changes.append(f"moves from the {_lane(spec) or 'no'} lane to the {_lane(target)} lane")
    if _groups(target) != _groups(spec):
        before, after_groups = _groups(spec) or "its lane", _groups(target) or "its lane"
        changes.append(f"is offered to {after_groups} instead of {before}")
    if _name(target) != _name(spec):
        changes.append(f"is renamed from '{_name(spec)}'")
    old_fields, new_fields = _fields(spec), _fields(target)
    if set(new_fields) - set(old_fields):
        changes.append(f"its form gains {', '.join(sorted(set(new_fields) - set(old_fields)))}")
    if set(old_fields) - set(new_fields):
        changes.append(f"its form drops {', '.join(sorted(set(old_fields) - set(new_fields)))}")
    needs = sorted(set(_needs(target)) - set(_needs(spec)))
    if needs:
        changes.append(f"whoever does it may also read the answers of {', '.join(needs)}")
    if _extension(target, DUE) != _extension(spec, DUE):
        changes.append("its due date changes (the one already set stays)")
    outputs = [_name(after.get(o, {"name": o})) for o in target.get("outputs", [])]
    if sorted(target.get("outputs", [])) != sorted(spec.get("outputs", [])):
        changes.append(f"leads on to {', '.join(outputs) or 'nothing'}")
    return changes


def _needs(spec: dict[str, Any]) -> tuple[str, ...]:
    try:
        return task_list(_extension(spec, NEEDS_PROPERTY) or None)
    except ReadersProblem:
        return ()


def _answered(given: Mapping[str, Any], spec: dict[str, Any]) -> int:
    return sum(1 for name in _fields(spec) if given.get(name) is not None)


def _given(task: dict[str, Any]) -> dict[str, Any]:
    # Spiff keeps a completed task's own changes in its delta; its data is often left empty.
    updates = (task.get("delta") or {}).get("updates") or {}
    return {**updates, **(task.get("data") or {})}


def _fields(spec: dict[str, Any]) -> dict[str, str]:
    form = spec.get("form") or {}
    return {str(f.get("id")): str(f.get("type")) for f in form.get("fields", [])}


def _lane(spec: dict[str, Any]) -> str:
    return _extension(spec, LANE)


def _groups(spec: dict[str, Any]) -> str:
    return _extension(spec, GROUPS)


def _extension(spec: dict[str, Any], key: str) -> str:
    return str((spec.get("extensions") or {}).get(key) or "")


def _name(spec: dict[str, Any]) -> str:
    return str(spec.get("bpmn_name") or spec.get("bpmn_id") or spec.get("name") or "")


def _no_longer(task: dict[str, Any]) -> str:
    plural = str(task["task_spec"]).endswith((".BoundaryEventSplit", ".BoundaryEventJoin"))
    return f"no longer {'exist' if plural else 'exists'} in the new version"


def _what(spec: dict[str, Any], task: dict[str, Any]) -> str:
    # Spiff's own specs (the split and join around a task with boundary events) have no BPMN
    # id: name the element they belong to.
    name = str(task["task_spec"])
    if spec.get("bpmn_id"):
        return f"'{_name(spec)}' ({spec['bpmn_id']})"
    for suffix in (".BoundaryEventSplit", ".BoundaryEventJoin"):
        if name.endswith(suffix):
            return f"the events attached to {name.removesuffix(suffix)!r}"
    return f"the engine step {name!r}"


# --- answers kept exactly -------------------------------------------------------------------


def _task_data(document: dict[str, Any]) -> dict[str, Any]:
    """Every non-predicted task's data (and each workflow's own), by where it lives."""
    found: dict[str, Any] = {"data": document.get("data")}
    workflows = {"": document, **document.get("subprocesses", {})}
    for key, workflow in workflows.items():
        found[f"{key}/data"] = workflow.get("data")
        for task_id, task in workflow["tasks"].items():
            if not task["state"] & _PREDICTED:
                delta = task.get("delta") or {}  # older serializers wrote none: no change
                found[f"{key}/{task_id}"] = (
                    task["task_spec"],
                    task["state"],
                    task.get("data"),
                    delta.get("updates") or {},
                    sorted(delta.get("deletions") or []),
                )
    return found


def _check_data_kept(before: dict[str, Any], after: dict[str, Any]) -> None:
    changed = sorted(key for key, value in before.items() if after.get(key) != value)
    if changed:
        raise MigrationBlocked(
            (f"the engine would change {len(changed)} task(s) or their answers: refused",)
        )
