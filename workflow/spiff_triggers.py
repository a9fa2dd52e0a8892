"""Event subprocesses an instance has triggered, kept with its state and put back on its spec.

SpiffWorkflow opens an event subprocess started by a message (or a signal, error, escalation)
by connecting it to its process's start and end in the spec itself (BpmnStartTask.trigger_wf),
and expects that spec to be serialized with the instance. Our states leave the spec out (it is
the definition's), so a spec restored afresh would lack the connection, and an instance whose
subprocess was opened would run on differently, or fail, depending on whether the thread
restoring it had cached a spec some other instance had changed. So the triggered subprocesses
are recorded on the instance's root task, and every restore connects exactly those on the spec
it runs with: the result no longer depends on which thread or process runs the command.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

TRIGGERED = "safeguard:triggered"  # on the root task: {process spec name: [subprocess names]}


def remember(workflow: Any) -> None:
    """Record, on the root task, every event subprocess triggered so far (before pruning)."""
    wanted = _wanted(workflow)
    if wanted:
        workflow.task_tree.internal_data[TRIGGERED] = {
            name: sorted(subprocesses) for name, subprocesses in sorted(wanted.items())
        }


def align(workflow: Any) -> None:
    """Connect on the specs exactly the event subprocesses this instance has triggered."""
    wanted = _wanted(workflow)
    for spec in _specs(workflow):
        start = spec.start
        for name in getattr(start, "trigger_specs", ()):
            task_spec = spec.task_specs.get(name)
            if task_spec is not None:
                _connect(start, task_spec, spec.end, name in wanted.get(spec.name, ()))


def _wanted(workflow: Any) -> dict[str, set[str]]:
    recorded = workflow.task_tree.internal_data.get(TRIGGERED) or {}
    wanted = {name: set(subprocesses) for name, subprocesses in recorded.items()}
    for instance in (workflow, *workflow.subprocesses.values()):
        triggers = set(getattr(instance.spec.start, "trigger_specs", ()))
        if triggers:
            present = {task.task_spec.name for task in instance.tasks.values()}
            if present & triggers:
                wanted.setdefault(instance.spec.name, set()).update(present & triggers)
    return wanted


def _specs(workflow: Any) -> Iterator[Any]:
    yield workflow.spec
    yield from workflow.subprocess_specs.values()


def _connect(start: Any, task_spec: Any, end: Any, connected: bool) -> None:
    # As trigger_wf connects them (start -> subprocess -> end), or with both links taken away.
    name = task_spec.name
    if connected and name not in start._outputs:
        start.connect(task_spec)
        task_spec.connect(end)
    elif not connected and name in start._outputs:
        for names, gone in (
            (start._outputs, name),
            (task_spec._inputs, start.name),
            (task_spec._outputs, end.name),
            (end._inputs, name),
        ):
            if gone in names:
                names.remove(gone)
