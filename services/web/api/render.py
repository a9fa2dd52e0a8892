"""Read models and outcomes as the API's JSON: plain dicts whose shapes openapi.py documents."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import date, datetime
from typing import Any

from services.domain.events import IncidentClosed, TaskReady
from services.domain.read_models import AuditEntry, InboxItem, IncidentView, ReadyTask
from services.domain.results import Outcome
from services.domain.step_access import sees_task
from services.web.api.retention_dates import review_date_json
from workflow.model import CompletedStep, FieldSpec, FormSpec


def incident_json(view: IncidentView) -> dict[str, Any]:
    """An incident as one person may see it: status, ready tasks with forms, route, audit page."""
    return {
        "id": view.id,
        "reference": view.reference,
        "status": view.status,
        "version": view.version,
        "school": {"id": view.school_id, "name": view.school_name},
        "process_name": view.process_name,
        "created_at": _time(view.created_at),
        "created_by": view.created_by,
        "closed_at": _time(view.closed_at),
        "access_via": view.access_via,
        "ready_tasks": [ready_task_json(task) for task in view.ready_tasks],
        "completed_steps": [completed_step_json(step) for step in view.completed_steps],
        "audit": [audit_json(entry) for entry in view.audit],
        "audit_next_after": view.audit_next_after_id,
        # issue 11: retention review. The record's (it follows the youngest child's birth
        # date): null for the reporter and assignees, as the rest of the record is.
        "review_date": review_date_json(view.id) if view.reads_record else None,
    }


def ready_task_json(ready: ReadyTask) -> dict[str, Any]:
    """A ready task with its form, who holds it and whether the viewer may complete it."""
    task = ready.task
    return {
        "id": task.id,
        "bpmn_id": task.bpmn_id,
        "name": task.name,
        "role": task.lane,
        "candidate_groups": list(task.candidate_groups),
        "assignee_id": ready.assignee_id,
        "due_at": _time(ready.due_at),
        "overdue": ready.overdue,
        "can_complete": ready.can_complete,
        "guidance": task.documentation,
        "form": form_json(task.form),
    }


def form_json(form: FormSpec) -> dict[str, Any]:
    """A task's form: its key and its fields in order."""
    return {"key": form.key, "fields": [field_json(spec) for spec in form.fields]}


def field_json(spec: FieldSpec) -> dict[str, Any]:
    """One form field with the rules a submission is checked against."""
    required_if = None
    if spec.required_if is not None:
        required_if = {"field": spec.required_if[0], "value": spec.required_if[1]}
    return {
        "id": spec.id,
        "type": spec.type,
        "label": spec.label,
        "help": spec.help,
        "required": spec.required,
        "required_if": required_if,
        "min": spec.min,
        "max": spec.max,
        "min_length": spec.minlength,
        "max_length": spec.maxlength,
        "options": [{"id": option.id, "label": option.label} for option in spec.options],
        "default": spec.default,
        "multiline": spec.multiline,
        "is_decision": spec.is_decision,
    }


def completed_step_json(step: CompletedStep) -> dict[str, Any]:
    """A step of the route taken so far, with the answers (or decision outputs) it recorded."""
    return {
        "id": step.id,
        "bpmn_id": step.bpmn_id,
        "name": step.name,
        "role": step.lane,
        "completed_at": _time(step.completed_at),
        "completed_by": step.actor,
        "answers": _jsonable(step.data),
    }


def audit_json(entry: AuditEntry) -> dict[str, Any]:
    """One line of the audit trail."""
    return {
        "id": entry.id,
        "occurred_at": _time(entry.occurred_at),
        "actor_id": entry.actor_id,
        "action": entry.action,
        "target": entry.target,
        "reason": entry.reason,
        "old_values": entry.old_values,
        "new_values": entry.new_values,
    }


def inbox_item_json(item: InboxItem) -> dict[str, Any]:
    """A task in someone's inbox: enough to list it and open its incident, no case details."""
    return {
        "id": item.task_id,
        "incident_id": item.incident_id,
        "reference": item.reference,
        "bpmn_id": item.bpmn_id,
        "name": item.name,
        "role": item.role,
        "assignee_id": item.assignee_id,
        "due_at": _time(item.due_at),
        "overdue": item.overdue,
        "created_at": _time(item.created_at),
    }


def outcome_json(outcome: Outcome, roles_in: Callable[[int], Collection[str]]) -> dict[str, Any]:
    """What a command changed: the incident's new version and status, and tasks now ready.

    roles_in: the caller's roles in a school. Only tasks the caller may learn of are named
    (step_access.sees_task): the DSL's next task would tell a reporter the route taken.
    """
    closed = bool(outcome.of_type(IncidentClosed))
    return {
        "incident": {
            "id": outcome.incident_id,
            "reference": outcome.reference,
            "version": outcome.incident_version,
            "status": "closed" if closed else "open",
        },
        "new_tasks": [
            _new_task_json(event)
            for event in outcome.of_type(TaskReady)
            if sees_task(roles_in(event.school_id), event.role, event.candidate_groups)
        ],
    }


def _new_task_json(event: TaskReady) -> dict[str, Any]:
    return {
        "id": event.task_id,
        "bpmn_id": event.bpmn_id,
        "role": event.role,
        "candidate_groups": list(event.candidate_groups),
        "due_at": _time(event.due_at),
    }


def _time(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _jsonable(values: Mapping[str, Any]) -> dict[str, Any]:
    return {str(key): _value(value) for key, value in values.items()}


def _value(value: Any) -> Any:
    if isinstance(value, date):  # a datetime is a date too
        return value.isoformat()
    if isinstance(value, Mapping):
        return _jsonable(value)
    if isinstance(value, list | tuple | set):
        return [_value(item) for item in value]
    return value
