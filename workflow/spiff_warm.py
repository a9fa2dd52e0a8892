"""Restored workflows kept warm per thread, so the next command on the same state skips a restore.

A command on an instance restores a BpmnWorkflow from the stored state (~2-3 ms), runs, then
serializes it. The next command on that instance usually comes with the very state string the
last one returned: this thread keeps the workflow that string was serialized from and hands it
out again, but only for that definition and an equal state string (anything else restores as
before). An entry is taken out of the cache before a command may change it and put back, under
the new state, only once the command has succeeded, so a command that raises never leaves a
half-changed workflow behind.

A kept workflow must behave as a fresh restore of its state would: `align` gives it the task,
subprocess and event-listener order a restore builds, and `round_trips` refuses states whose
values JSON would change (a tuple comes back as a list, an int key as a string).

Never shared between threads (Spiff objects are not thread-safe) and bounded per thread.
Off with `ENABLED = False` (the core reads no environment: a setting would flip it at start-up).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import date, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.util.task import TaskState

from workflow.definition import Definition

ENABLED = True  # False: every command restores its workflow, as before (differential tests)
MAX_PER_THREAD = 32  # a pruned instance is ~0.1-0.3 MB in memory; a thread keeps at most this many

Key = tuple[str, str]  # (definition digest, the exact state string the workflow serializes to)

_local = threading.local()


def _cache() -> OrderedDict[Key, Any]:
    cache: OrderedDict[Key, Any] | None = getattr(_local, "workflows", None)
    if cache is None:
        cache = _local.workflows = OrderedDict()
    return cache


def take(definition: Definition, state: str) -> Any | None:
    """Remove and return this thread's workflow whose state is exactly `state`, if it has one."""
    if not ENABLED:
        return None
    # A dict lookup compares the key by equality (the hash only finds the slot).
    return _cache().pop((definition.digest, state), None)


def keep(definition: Definition, state: str, workflow: Any) -> None:
    """Keep `workflow`, whose serialization is exactly `state`, for this thread's next command."""
    if not ENABLED:
        return
    cache = _cache()
    cache[(definition.digest, state)] = workflow
    cache.move_to_end((definition.digest, state))
    while len(cache) > MAX_PER_THREAD:
        cache.popitem(last=False)


def clear() -> None:
    """Forget this thread's warm workflows."""
    _cache().clear()


def size() -> int:
    """How many workflows this thread keeps."""
    return len(_cache())


def align(workflow: Any, document: dict[str, Any]) -> bool:
    """Order `workflow` as restoring `document` (its serialization) would; False if it cannot.

    Order matters: pruning re-parents kept tasks in the order of `tasks`, the subprocesses
    serialize in dict order and the event manager offers an event to its listeners in order.
    """
    if not _same_order(workflow, document["tasks"]):
        return False
    subprocesses: dict[UUID, Any] = workflow.subprocesses
    documents = document.get("subprocesses", {})
    if {str(key) for key in subprocesses} != set(documents):
        return False
    for key, sub in subprocesses.items():
        if not _same_order(sub, documents[str(key)]["tasks"]):
            return False
    restored = _restore_order(workflow)
    if len(restored) != len(subprocesses):
        return False  # a restore would drop a subprocess that no task of the tree opened
    workflow.subprocesses = {key: subprocesses[key] for key in restored}
    listeners: dict[UUID, Any] = {}
    for owner in [workflow, *workflow.subprocesses.values()]:
        for task in owner.tasks.values():
            if isinstance(task.task_spec, CatchingEvent) and task.has_state(TaskState.WAITING):
                listeners[task.id] = task
    workflow.event_manager.tasks = listeners
    return True


def _same_order(workflow: Any, tasks: dict[str, Any]) -> bool:
    current: dict[UUID, Any] = workflow.tasks
    if len(current) != len(tasks):
        return False
    try:
        ordered = {key: current[key] for key in map(UUID, tasks)}
    except KeyError:
        return False
    workflow.tasks = ordered
    return True


def _restore_order(workflow: Any) -> list[UUID]:
    # As Spiff's subprocesses_from_dict: each subprocess right after the task that opened it.
    subprocesses: dict[UUID, Any] = workflow.subprocesses
    order: list[UUID] = []

    def visit(owner: Any) -> None:
        for task in owner.tasks.values():
            opened = isinstance(task.task_spec, SubWorkflowTask) and task.id in subprocesses
            if opened and task.id not in order:
                order.append(task.id)
                visit(subprocesses[task.id])

    visit(workflow)
    return order


_PLAIN = (str, int, float, bool, type(None))


def round_trips(value: Any) -> bool:
    """True when JSON (with Spiff's registry) gives back `value` as it is, containers unshared."""
    seen: set[int] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind in _PLAIN:
            continue
        if kind is dict or kind is list:
            if id(item) in seen:
                return False  # shared in memory, two copies once restored
            seen.add(id(item))
            if kind is dict:
                if any(type(key) is not str for key in item):
                    return False
                stack.extend(item.values())
            else:
                stack.extend(item)
        elif not _registered_exact(item):
            return False
    return True


def _registered_exact(item: Any) -> bool:
    kind = type(item)
    if kind is datetime:
        return item.tzinfo is None or type(item.tzinfo) is timezone
    if kind is date or kind is UUID:
        return True
    if kind is timedelta:
        return bool(item.microseconds == 0)
    return False
