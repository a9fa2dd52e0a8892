"""Turn an IncidentPageData into what the incident page lists: tasks, steps, history lines."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from forms.answers import date_time
from services.domain.read_models import AuditEntry
from services.web.incidents.answers import Answer, step_answers
from services.web.incidents.reads import IncidentPageData

ACTIONS = {
    "incident.started": "Reported the concern",
    "incident.viewed": "Opened the record",
    "incident.closed": "The incident was closed",
    "incident.migrated": "Moved to another process version",
    "incident.person_excluded": "Excluded someone from the case",
    "task.completed": "Completed",
    "task.ready": "Ready",
    "task.cancelled": "No longer needed",
    "task.claimed": "Claimed",
    "task.unclaimed": "Handed back to its role",
    "task.assigned": "Reassigned",
    "task.migrated": "Moved by a newer version of the process",
    "external_task.ready": "Waiting for the system",
    "external_task.completed": "Done by the system",
    "external_task.cancelled": "No longer needed",
    "external_task.retried": "Asked the system to try again",
    "incident.external_task_failed": "The system could not do this, after several tries",
    "document.created": "Filed the incident record as a PDF",
    "document.downloaded": "Downloaded the incident record (PDF)",
}


@dataclass(frozen=True)
class TaskLine:
    """A task waiting in the incident, as the page lists it."""

    id: str
    name: str
    role: str
    due: str
    overdue: bool
    assignee: str
    can_complete: bool


@dataclass(frozen=True)
class StepSection:
    """A completed step: its name, when and by whom, and its answers."""

    name: str
    completed: str
    by: str
    answers: list[Answer]


@dataclass(frozen=True)
class HistoryLine:
    """One line of the incident's history (the audit trail)."""

    when: str
    who: str
    what: str
    reason: str


def task_lines(page: IncidentPageData) -> list[TaskLine]:
    """The ready tasks, with who has them and whether the viewer may complete them."""
    return [
        TaskLine(
            id=ready.task.id,
            name=ready.task.name,
            role=ready.task.lane,
            due=date_time(ready.due_at),
            overdue=ready.overdue,
            assignee=page.name_of(ready.assignee_id) if ready.assignee_id is not None else "",
            can_complete=ready.can_complete,
        )
        for ready in page.view.ready_tasks
    ]


def step_sections(
    page: IncidentPageData, labels: Mapping[str, str] | None = None
) -> list[StepSection]:
    """The completed steps in order, each with its answers in words."""
    return [
        StepSection(
            name=step.name,
            completed=date_time(step.completed_at),
            by=page.name_of(step.actor),
            answers=step_answers(
                step, {f.id: f for f in step.form.fields} if step.form else {}, labels
            ),
        )
        for step in page.view.completed_steps
    ]


def history_lines(page: IncidentPageData) -> list[HistoryLine]:
    """This page of the audit trail, in words (values are in the steps, not repeated here)."""
    names = _task_names(page)
    return [_history_line(page, entry, names) for entry in page.view.audit]


def _history_line(page: IncidentPageData, entry: AuditEntry, names: dict[str, str]) -> HistoryLine:
    what = ACTIONS.get(entry.action, entry.action)
    if entry.action.startswith(("task.", "external_task.", "incident.external_task")):
        bpmn_id = entry.target.split(":")[1] if entry.target.count(":") >= 2 else ""
        what = f"{what}: {names.get(bpmn_id, bpmn_id)}"
    if entry.action == "incident.viewed" and (entry.new_values or {}).get("break_glass"):
        what = "Opened the record with break-glass"
    return HistoryLine(
        when=date_time(entry.occurred_at),
        who=page.name_of(entry.actor_id) or ("The system" if entry.actor_id is None else ""),
        what=what,
        reason=entry.reason or "",
    )


def _task_names(page: IncidentPageData) -> dict[str, str]:
    names = {step.bpmn_id: step.name for step in page.view.completed_steps}
    names.update({ready.task.bpmn_id: ready.task.name for ready in page.view.ready_tasks})
    names.update({task.bpmn_id: task.name for task in page.view.external_tasks})
    return names
