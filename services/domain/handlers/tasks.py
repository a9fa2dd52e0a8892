"""Complete a task: check access and version, run the engine, write everything in one commit."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from services.db import SqlAlchemyUnitOfWork
from services.db.models import Incident
from services.db.repositories.incidents import TaskIncident
from services.domain.access import can_complete_task, can_view_incident
from services.domain.commands import CompleteTask
from services.domain.dependencies import Dependencies
from services.domain.errors import NotFound, TaskNoLongerReady
from services.domain.events import Event
from services.domain.handlers.common import (
    UserFacts,
    check_version,
    enforce,
    jsonable,
    task_target,
    write_outbox,
)
from services.domain.handlers.progress import Preloaded, Step, record_progress
from services.domain.history_answers import record_completion
from services.domain.results import Outcome
from workflow import engine
from workflow.errors import TaskNotReady
from workflow.formdata import validate_submission
from workflow.model import TaskView


def complete_task(command: CompleteTask, deps: Dependencies) -> Outcome:
    """Validate and submit a task's form; raise before writing anything if any check fails."""
    now = deps.clock.now()
    with deps.uow_factory() as uow:
        found = _lock(uow, command.task_id, command.actor_id)
        incident, facts = found.incident, _user_facts(found)
        if can_view_incident(facts.roles, facts.is_involved, facts.is_excluded).refusal == "hidden":
            raise NotFound(f"task {command.task_id} not found")
        check_version(incident, command.expected_incident_version)
        definition = deps.definitions.get(uow, incident.definition_version_id)
        rows = uow.tasks.for_incident(incident.id, state="ready")
        row = next((r for r in rows if r.id == command.task_id), None)
        if row is None:
            raise _no_longer_ready(incident, facts, command.task_id)
        seen: list[tuple[TaskView, Mapping[str, Any]]] = []

        def authorise(view: TaskView, data_before: Mapping[str, Any]) -> None:
            # Runs inside the engine's one load of the instance, before the form is validated:
            # someone who may not complete the task learns nothing about its form.
            decision = can_complete_task(
                command.actor_id,
                facts.roles,
                row.role,
                view.candidate_groups,
                row.assignee_id,
                is_involved=facts.is_involved,
                is_excluded=facts.is_excluded,
            )
            enforce(decision, f"task {command.task_id}")
            seen.append((view, data_before))

        try:
            after = engine.complete_task(
                definition,
                incident.state,
                command.task_id,
                command.data,
                now,
                actor=str(command.actor_id),
                calendar=deps.calendar,
                check=authorise,
            )
        except TaskNotReady:
            raise _no_longer_ready(incident, facts, command.task_id) from None
        view, data_before = seen[0]
        _audit_completion(uow, incident, view, data_before, command, now)
        step = Step(now, command.actor_id, command.task_id, deps.calendar)
        # The lock read the facts row; an incident without external task rows has none to
        # read back before syncing them.
        external = None if found.has_external_tasks else ()
        preloaded = Preloaded(external, found.case_facts)
        events: list[Event] = record_progress(uow, incident, rows, after, step, preloaded=preloaded)
        write_outbox(uow, events)
        uow.commit()
        return Outcome(tuple(events), incident.id, incident.version_id, incident.reference)


def _lock(uow: SqlAlchemyUnitOfWork, task_id: str, user_id: int) -> TaskIncident:
    # One statement for what `incident_id_of_task`, `lock_incident` and `user_facts` read,
    # with the incident's facts row and whether it has external task rows.
    found = uow.incidents.lock_for_task(task_id, user_id)
    if found is None:
        raise NotFound(f"task {task_id} not found")
    return found


def _user_facts(found: TaskIncident) -> UserFacts:
    if not found.roles:  # no role in the school: nothing else can grant access
        return UserFacts(found.roles, False, False)
    return UserFacts(found.roles, found.is_excluded, found.is_involved)


def _no_longer_ready(incident: Incident, facts: UserFacts, task_id: str) -> Exception:
    # Someone who may not see the incident learns nothing, not even that the task moved on.
    decision = can_view_incident(facts.roles, facts.is_involved, facts.is_excluded)
    if decision.refusal == "hidden":
        return NotFound(f"task {task_id} not found")
    return TaskNoLongerReady(
        f"task {task_id} of incident {incident.reference} is no longer ready: "
        "it was completed or cancelled (reload the incident)"
    )


def submitted_values(view: TaskView, data: Mapping[str, Any]) -> dict[str, Any]:
    """The typed values a valid submission stores, as JSON (what the audit trail records)."""
    return jsonable(validate_submission(view.form, data))


def _audit_completion(
    uow: SqlAlchemyUnitOfWork,
    incident: Incident,
    view: TaskView,
    data_before: Mapping[str, Any],
    command: CompleteTask,
    now: datetime,
) -> None:
    new_values = submitted_values(view, command.data)
    old_values = jsonable({key: data_before.get(key) for key in new_values})
    uow.audit.add(
        "task.completed",
        task_target(view.id, view.bpmn_id),
        actor_id=command.actor_id,
        school_id=incident.school_id,
        incident_id=incident.id,
        old_values=old_values,
        new_values=new_values,
        occurred_at=now,
    )
    record_completion(
        uow,
        incident,
        task_id=view.id,
        bpmn_id=view.bpmn_id,
        lane=view.lane,
        values=new_values,
        actor_id=command.actor_id,
        now=now,
    )
