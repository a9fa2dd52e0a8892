"""Drop finished work from a SpiffWorkflow instance so its state stays small however long it runs.

SpiffWorkflow keeps every task it ever created: a loop of 500 rounds carries 2,000 completed
tasks that each command restores, walks and serializes again. Once a command's completed steps
and the connections it travelled are stored elsewhere (our history tables), the engine needs
only what can still move: unfinished tasks, the task each of them hangs from (a join or an
event inherits its data from it), the task completed last (its data is the instance's), the
root, the subprocesses of the tasks kept and, until their workflow ends, finished end joins
with the tasks they hang from (the last end join merges those tasks' data into the
workflow's). Kept tasks whose parent is dropped hang from the root instead; their data is
stored whole against the root's, so no answer is lost.

Not pruned while a parallel or inclusive gateway waits for a branch: Spiff counts the tokens
that reached it by walking the tree of finished tasks (ParallelGateway, InclusiveGateway).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.control import _EndJoin
from SpiffWorkflow.bpmn.specs.mixins.unstructured_join import UnstructuredJoin
from SpiffWorkflow.util.task import TaskState

from workflow.spiff_runtime import SERIALIZER_VERSION, VERSION_KEY

# On a task moved under the root: the BPMN element its parent chain came from, so the path
# taken into it (and into the children of a Spiff-internal task) is still known.
CAME_FROM = "safeguard:from"
# On the root: the connections travelled by tasks since dropped, as sorted [source, target]
# pairs. Bounded by the diagram's connections, however many rounds a loop takes.
FLOWS = "safeguard:flows"


def taken_flows(workflow: Any, completed: Iterable[Any] | None = None) -> set[tuple[str, str]]:
    """(source, target) element ids of every connection the instance has travelled.

    `completed`, when given, is what workflow.get_tasks(state=COMPLETED) returns right now.
    """
    flows = {(str(s), str(t)) for s, t in workflow.task_tree.internal_data.get(FLOWS, ())}
    if completed is None:
        completed = workflow.get_tasks(state=TaskState.COMPLETED)
    for task in completed:
        target = task.task_spec.bpmn_id
        # Spiff inserts its own tasks (boundary-event splits, the root) that have no BPMN id.
        source = flow_source(task)
        if target is not None and source is not None:
            flows.add((source, str(target)))
    return flows


def flow_source(task: Any) -> str | None:
    """The BPMN element the path into `task` came from (None: the start of the tree)."""
    current = task
    while True:
        if CAME_FROM in current.internal_data:
            return str(current.internal_data[CAME_FROM])
        parent = current.parent
        if parent is None:
            return None
        if parent.task_spec.bpmn_id is not None:
            return str(parent.task_spec.bpmn_id)
        current = parent


def prune(workflow: Any) -> bool:
    """Drop the finished tasks `workflow` no longer needs (in place); True when any went."""
    touched = _prune_workflows(workflow)
    return bool(touched)


def dump_pruned(
    serializer: BpmnWorkflowSerializer,
    workflow: Any,
    completed: Iterable[Any] | None = None,
    ended: bool | None = None,
) -> tuple[str, str]:
    """The state as it is, and the state once finished work is pruned (in place) from it.

    `completed`, when given, is what workflow.get_tasks(state=COMPLETED) returns now, and
    `ended` what workflow.is_completed() returns now (called already). The
    pruned document reuses the first serialization's task entries: only tasks whose
    parent or children changed are converted again, so pruning costs a walk, not a second
    serialization.
    """
    registry = serializer.registry
    encoder = serializer._encoder_cls  # Spiff's encoder for values its registry leaves as they are
    registry._encoder_mode = True
    try:
        document = serializer.to_dict(workflow)
        document[VERSION_KEY] = SERIALIZER_VERSION
        full = json.dumps(document, cls=encoder)
        touched = _prune_workflows(workflow, completed, ended)
        if not touched:
            return full, full
        compact = dict(document)
        compact["tasks"] = _tasks_of(registry, workflow, document["tasks"], touched)
        compact["subprocesses"] = {
            key: {
                **sub,
                "tasks": _tasks_of(
                    registry, workflow.subprocesses[UUID(key)], sub["tasks"], touched
                ),
            }
            for key, sub in document["subprocesses"].items()
            if UUID(key) in workflow.subprocesses
        }
        return full, json.dumps(compact, cls=encoder)
    finally:
        registry._encoder_mode = False


def _tasks_of(
    registry: Any, workflow: Any, before: dict[str, Any], touched: set[UUID]
) -> dict[str, Any]:
    # Parents before children (Spiff restores a task's data against its parent, which must
    # already exist: states migrated from older formats list the root after its children).
    tasks = workflow.tasks
    kept: dict[str, Any] = {}
    queue = deque([workflow.task_tree])
    while queue:
        task = queue.popleft()
        key = str(task.id)
        kept[key] = (
            registry.convert(task) if task.id in touched or key not in before else before[key]
        )
        queue.extend(tasks[child] for child in task._children if child in tasks)
    return kept


def _prune_workflows(
    workflow: Any, completed: Iterable[Any] | None = None, ended: bool | None = None
) -> set[UUID]:
    """Prune the top workflow and each subprocess; drop subprocesses whose task went."""
    travelled = taken_flows(workflow, completed)
    touched: set[UUID] = set()
    touched |= _prune_one(workflow, ended)
    for subprocess in list(workflow.subprocesses.values()):
        touched |= _prune_one(subprocess)
    if not touched:
        return touched
    _drop_orphaned_subprocesses(workflow)
    root = workflow.task_tree
    root.internal_data[FLOWS] = [list(flow) for flow in sorted(travelled)]
    touched.add(root.id)
    return touched


def _pending_join(tasks: Iterable[Any]) -> bool:
    return any(
        task.state == TaskState.WAITING
        and isinstance(task.task_spec, UnstructuredJoin)
        and not isinstance(task.task_spec, _EndJoin)
        for task in tasks
    )


def _prune_one(workflow: Any, ended: bool | None = None) -> set[UUID]:
    """Prune one (sub)workflow's tree; return the ids of kept tasks whose entry changed.

    `ended`, when known, is what workflow.is_completed() returns (it walks the tree).
    """
    tasks: dict[UUID, Any] = workflow.tasks
    root = workflow.task_tree
    if root is None or _pending_join(tasks.values()):
        return set()
    keep = {root.id}
    if workflow.last_task is not None:
        keep.add(workflow.last_task.id)
    running = not (workflow.is_completed() if ended is None else ended)
    for task in tasks.values():
        # A finished end join stays while its workflow runs: the last one to fire merges
        # the data of every other (UnstructuredJoin._run_hook) into the workflow's.
        if task.state & TaskState.NOT_FINISHED_MASK or (
            running and isinstance(task.task_spec, _EndJoin)
        ):
            keep.add(task.id)
            if task._parent is not None:
                keep.add(task._parent)
    if len(keep) == len(tasks):
        return set()
    found = (tasks.get(task_id) for task_id in keep)
    moving = [t for t in found if t is not None and t is not root and t._parent not in keep]
    sources = {task.id: flow_source(task) for task in moving}  # before any parent changes
    moved: set[UUID] = set()
    for task in moving:
        if sources[task.id] is not None:
            task.internal_data[CAME_FROM] = sources[task.id]
        task._parent = root.id
        moved.add(task.id)
    touched = set(moved)
    for task_id in keep:
        task = tasks.get(task_id)
        if task is None:
            continue
        children = [child for child in task._children if child in keep]
        if task is root:
            # Kept tasks moved under the root, in the order they were created.
            children += [t for t in moved if t not in children]
            children.sort(key=_creation_order(tasks))
            changed = children != task._children
        else:
            # A subsequence of the children differs from them exactly when it is shorter
            # (and comparing lengths spares a UUID comparison per child).
            changed = len(children) != len(task._children)
        if changed:
            task._children = children
            touched.add(task.id)
    for task_id in [t for t in tasks if t not in keep]:
        dropped = tasks.pop(task_id)
        workflow.top_workflow.event_manager.remove_task(dropped)
    return touched


def _creation_order(tasks: dict[UUID, Any]) -> Any:
    order = {task_id: n for n, task_id in enumerate(tasks)}
    return lambda task_id: order[task_id]


def _drop_orphaned_subprocesses(workflow: Any) -> None:
    alive = set(workflow.tasks)
    subprocesses: dict[UUID, Any] = workflow.subprocesses
    changed = True
    kept: set[UUID] = set()
    while changed:
        changed = False
        for key, subprocess in subprocesses.items():
            if key not in kept and key in alive:
                kept.add(key)
                alive |= set(subprocess.tasks)
                changed = True
    for key in [k for k in subprocesses if k not in kept]:
        del subprocesses[key]
