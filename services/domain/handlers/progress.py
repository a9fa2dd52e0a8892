"""Write what the engine returned: state, human and external tasks diffed, timers, closure.

Called inside a handler's unit of work after an engine call; it writes the rows and audit
events and returns the events for the outbox (the caller writes them and commits once).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from services.db import SqlAlchemyUnitOfWork
from services.db.models import ExternalTask, HumanTask, Incident, IncidentCaseFacts
from services.db.repositories.step_history import StepHistoryRepository
from services.domain.due_dates import due_at_for
from services.domain.events import (
    Event,
    ExternalTaskReady,
    IncidentClosed,
    TaskCancelled,
    TaskCompleted,
    TaskReady,
    TimerScheduled,
)
from services.domain.handlers.common import incident_target, task_target
from services.domain.history_answers import note_case_facts
from workflow.model import ExternalTaskView, InstanceStatus, TaskView
from workflow.timing import Calendar


@dataclass(frozen=True)
class Step:
    """Who moved the instance, when, and which task (if any) they completed."""

    now: datetime
    actor_id: int | None
    completed_task_id: str | None
    calendar: Calendar


@dataclass(frozen=True)
class Preloaded:
    """Rows of the incident the caller read already, so a step does not read them again."""

    external_rows: Sequence[ExternalTask] | None  # None: not read, read them when needed
    case_facts: IncidentCaseFacts | None  # None: the incident has no facts row yet


def record_progress(
    uow: SqlAlchemyUnitOfWork,
    incident: Incident,
    ready_rows: Sequence[HumanTask],
    status: InstanceStatus,
    step: Step,
    *,
    preloaded: Preloaded | None = None,
) -> list[Event]:
    """Save the new state and bring human tasks, timers and status in line with it.

    The state saved is pruned of finished work; the steps pruning released are written in
    the same transaction, so the history readers (services/domain/history_steps.py) lose none.
    `preloaded`: the incident's external task rows and facts row, when the caller has them.
    """
    StepHistoryRepository(uow.session).add(incident.id, status.released_steps)
    incident.state = status.state_to_store
    events: list[Event] = []
    events += _finish_rows(uow, incident, ready_rows, status, step)
    events += _add_ready(uow, incident, ready_rows, status, step)
    events += _sync_external(uow, incident, status, step, preloaded)
    events += _schedule_timer(incident, status)
    events += _close(uow, incident, status, step)
    # Route and criteria, for lists.
    if preloaded is None:
        note_case_facts(uow, incident, status.data, step.now)
    else:
        note_case_facts(uow, incident, status.data, step.now, known=(preloaded.case_facts,))
    return events


def _finish_rows(
    uow: SqlAlchemyUnitOfWork,
    incident: Incident,
    ready_rows: Sequence[HumanTask],
    status: InstanceStatus,
    step: Step,
) -> list[Event]:
    still_ready = {view.id for view in status.ready}
    events: list[Event] = []
    for row in ready_rows:
        if row.id in still_ready:
            continue
        row.completed_at = step.now
        if row.id == step.completed_task_id:
            row.state, row.completed_by = "completed", step.actor_id
            events.append(
                TaskCompleted(
                    incident.school_id, row.role, row.id, incident.id, row.bpmn_id, step.actor_id
                )
            )
            continue  # the handler audits a completion with the values submitted
        # A boundary event or a timer took the path away from this task: nobody completed it.
        row.state = "cancelled"
        uow.audit.add(
            "task.cancelled",
            task_target(row.id, row.bpmn_id),
            actor_id=step.actor_id,
            school_id=incident.school_id,
            incident_id=incident.id,
            old_values={"state": "ready", "assignee_id": row.assignee_id},
            new_values={"state": "cancelled"},
            occurred_at=step.now,
        )
        events.append(TaskCancelled(incident.school_id, row.role, row.id, incident.id, row.bpmn_id))
    return events


def _add_ready(
    uow: SqlAlchemyUnitOfWork,
    incident: Incident,
    ready_rows: Sequence[HumanTask],
    status: InstanceStatus,
    step: Step,
) -> list[Event]:
    known = {row.id for row in ready_rows}
    events: list[Event] = []
    for view in status.ready:
        if view.id in known:
            continue
        due_at = due_at_for(view, status.data, step.now, step.calendar)
        _add_row(uow, incident, view, due_at, step)
        events.append(
            TaskReady(
                incident.school_id,
                view.lane,
                view.id,
                incident.id,
                view.bpmn_id,
                view.candidate_groups,
                due_at,
            )
        )
    return events


def _add_row(
    uow: SqlAlchemyUnitOfWork,
    incident: Incident,
    view: TaskView,
    due_at: datetime | None,
    step: Step,
) -> None:
    task = uow.tasks.add(
        task_id=view.id,
        incident_id=incident.id,
        school_id=incident.school_id,
        bpmn_id=view.bpmn_id,
        name=view.name[:255],
        role=view.lane,
        due_at=due_at,
    )
    task.created_at = step.now
    uow.audit.add(
        "task.ready",
        task_target(view.id, view.bpmn_id),
        actor_id=step.actor_id,
        school_id=incident.school_id,
        incident_id=incident.id,
        new_values={
            "role": view.lane,
            "candidate_groups": list(view.candidate_groups),
            "due_at": due_at.isoformat() if due_at else None,
        },
        occurred_at=step.now,
    )


def _sync_external(
    uow: SqlAlchemyUnitOfWork,
    incident: Incident,
    status: InstanceStatus,
    step: Step,
    preloaded: Preloaded | None,
) -> list[Event]:
    # Open rows the engine no longer lists were taken away (a boundary event, say); the
    # handler of CompleteExternalTask marks its own row completed before calling us.
    rows = preloaded.external_rows if preloaded is not None else None
    if rows is None:
        # No autoflush: flushing the incident here and at commit would bump its version twice.
        with uow.session.no_autoflush:
            rows = uow.external_tasks.for_incident(incident.id)
    waiting = {view.id for view in status.external}
    for row in rows:
        if row.state in ("waiting", "failed") and row.id not in waiting:
            _cancel_external(uow, incident, row, step)
    known = {row.id for row in rows}
    events: list[Event] = []
    for view in status.external:
        if view.id not in known:
            _add_external(uow, incident, view, step)
            events.append(ExternalTaskReady(incident.school_id, incident.id, view.id, view.topic))
    return events


def _add_external(
    uow: SqlAlchemyUnitOfWork, incident: Incident, view: ExternalTaskView, step: Step
) -> None:
    uow.external_tasks.add(
        task_id=view.id,
        incident_id=incident.id,
        bpmn_id=view.bpmn_id,
        name=view.name[:255],
        topic=view.topic,
        role=view.lane,
        created_at=step.now,
    )
    uow.audit.add(
        "external_task.ready",
        task_target(view.id, view.bpmn_id),
        actor_id=step.actor_id,
        school_id=incident.school_id,
        incident_id=incident.id,
        new_values={"topic": view.topic, "role": view.lane},
        occurred_at=step.now,
    )


def _cancel_external(
    uow: SqlAlchemyUnitOfWork, incident: Incident, row: ExternalTask, step: Step
) -> None:
    old_state = row.state
    row.state, row.finished_at = "cancelled", step.now
    uow.audit.add(
        "external_task.cancelled",
        task_target(row.id, row.bpmn_id),
        actor_id=step.actor_id,
        school_id=incident.school_id,
        incident_id=incident.id,
        old_values={"state": old_state},
        new_values={"state": "cancelled"},
        occurred_at=step.now,
    )


def _schedule_timer(incident: Incident, status: InstanceStatus) -> list[Event]:
    next_timer = min((timer.due_at for timer in status.timers), default=None)
    changed = next_timer != incident.next_timer_at
    incident.next_timer_at = next_timer
    if next_timer is None or not changed:
        return []
    return [TimerScheduled(incident.id, next_timer, incident.school_id)]


def _close(
    uow: SqlAlchemyUnitOfWork, incident: Incident, status: InstanceStatus, step: Step
) -> list[Event]:
    if not status.ended or incident.status == "closed":
        return []
    old_status = incident.status
    incident.status, incident.closed_at = "closed", step.now
    uow.audit.add(
        "incident.closed",
        incident_target(incident.id),
        actor_id=step.actor_id,
        school_id=incident.school_id,
        incident_id=incident.id,
        old_values={"status": old_status},
        new_values={"status": "closed", "closed_at": step.now.isoformat()},
        occurred_at=step.now,
    )
    return [IncidentClosed(incident.school_id, incident.id)]
