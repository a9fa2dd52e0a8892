"""External tasks: a worker completes one or gives up on it; someone holding its role retries it.

A failure is visible, not fatal: the incident stays open (its people may still have work and
its timers must keep firing; the status 'failed' is kept for an instance the engine itself
could not run), while the external task row turns 'failed' with its attempts and last error,
an 'incident.external_task_failed' audit event says so, and the incident and ops pages show
it until someone retries it.
"""

from __future__ import annotations

from collections.abc import Collection

from services.db import SqlAlchemyUnitOfWork
from services.db.models import ExternalTask, Incident
from services.domain.access import READ_ONLY_ROLES, Decision, can_view_incident
from services.domain.commands import CompleteExternalTask, FailExternalTask, RetryExternalTask
from services.domain.dependencies import Dependencies
from services.domain.errors import NotFound, RequestInvalid, TaskNoLongerReady
from services.domain.events import Event, ExternalTaskReady
from services.domain.handlers.common import (
    enforce,
    jsonable,
    lock_incident,
    task_target,
    user_facts,
    write_outbox,
)
from services.domain.handlers.progress import Step, record_progress
from services.domain.results import Outcome
from workflow import engine
from workflow.errors import TaskNotReady

OPEN_STATES = ("waiting", "failed")
MAX_ERROR_CHARACTERS = 2000
DEFAULT_RETRY_ROLE = "dsl"  # who may retry an external task outside any lane


def complete_external_task(command: CompleteExternalTask, deps: Dependencies) -> Outcome:
    """Merge the worker's result into the process and run it on, in one commit."""
    now = deps.clock.now()
    with deps.uow_factory() as uow:
        row, incident = _locked(uow, command.task_id)
        if row.state not in OPEN_STATES:
            raise _gone(row, incident)
        definition = deps.definitions.get(uow, incident.definition_version_id)
        try:
            after = engine.complete_external_task(
                definition, incident.state, row.id, command.result, now, calendar=deps.calendar
            )
        except TaskNotReady:
            raise _gone(row, incident) from None
        old_state = row.state
        row.state, row.worker, row.finished_at = "completed", command.worker[:100], now
        uow.audit.add(
            "external_task.completed",
            task_target(row.id, row.bpmn_id),
            actor_id=None,
            school_id=incident.school_id,
            incident_id=incident.id,
            old_values={"state": old_state},
            new_values={"worker": row.worker, "result": jsonable(command.result)},
            occurred_at=now,
        )
        human_rows = uow.tasks.for_incident(incident.id, state="ready")
        step = Step(now, None, None, deps.calendar)
        events: list[Event] = record_progress(uow, incident, human_rows, after, step)
        write_outbox(uow, events)
        uow.commit()
        return Outcome(tuple(events), incident.id, incident.version_id, incident.reference)


def fail_external_task(command: FailExternalTask, deps: Dependencies) -> Outcome:
    """Mark a waiting external task failed, visibly; a task no longer waiting is left alone."""
    if command.attempts < 1:
        raise RequestInvalid(f"task {command.task_id}: a failure needs at least one attempt")
    now = deps.clock.now()
    with deps.uow_factory() as uow:
        row, incident = _locked(uow, command.task_id)
        unchanged = Outcome((), incident.id, incident.version_id, incident.reference)
        if row.state != "waiting":
            return unchanged  # completed, cancelled or already failed: nothing to show anew
        error = command.error.strip()[:MAX_ERROR_CHARACTERS] or "no reason given"
        row.state, row.attempts, row.last_error = "failed", command.attempts, error
        row.worker, row.finished_at = command.worker[:100], now
        uow.audit.add(
            "incident.external_task_failed",
            task_target(row.id, row.bpmn_id),
            actor_id=None,
            school_id=incident.school_id,
            incident_id=incident.id,
            reason=error,
            old_values={"state": "waiting"},
            new_values={"state": "failed", "worker": row.worker, "attempts": command.attempts},
            occurred_at=now,
        )
        uow.commit()
        return unchanged


def retry_external_task(command: RetryExternalTask, deps: Dependencies) -> Outcome:
    """Put a failed (or stuck waiting) external task back to waiting and publish it again."""
    now = deps.clock.now()
    with deps.uow_factory() as uow:
        row, incident = _locked(uow, command.task_id)
        if command.incident_id is not None and command.incident_id != incident.id:
            raise NotFound(f"external task {command.task_id} not found")
        facts = user_facts(uow, incident, command.actor_id)
        decision = may_retry(facts.roles, row.role, facts.is_involved, facts.is_excluded)
        enforce(decision, f"task {row.id}")
        if row.state not in OPEN_STATES:
            raise _gone(row, incident)
        old_values = {"state": row.state, "attempts": row.attempts, "last_error": row.last_error}
        row.state, row.attempts, row.last_error = "waiting", 0, None
        row.worker, row.finished_at = None, None
        uow.audit.add(
            "external_task.retried",
            task_target(row.id, row.bpmn_id),
            actor_id=command.actor_id,
            school_id=incident.school_id,
            incident_id=incident.id,
            old_values=old_values,
            new_values={"state": "waiting"},
            occurred_at=now,
        )
        # A new message (a new id): the worker's dedupe of the first one does not skip it.
        events: list[Event] = [
            ExternalTaskReady(incident.school_id, incident.id, row.id, row.topic)
        ]
        write_outbox(uow, events)
        uow.commit()
        return Outcome(tuple(events), incident.id, incident.version_id, incident.reference)


def may_retry(
    roles: Collection[str], task_role: str, is_involved: bool, is_excluded: bool
) -> Decision:
    """May a user retry an external task: they may see the incident and hold the task's role."""
    view = can_view_incident(roles, is_involved, is_excluded)
    if view.refusal == "hidden":
        return view
    needed = task_role or DEFAULT_RETRY_ROLE
    if needed in set(roles) - READ_ONLY_ROLES:
        return Decision(allowed=True, via="role")
    return Decision(
        allowed=False,
        refusal="forbidden",
        explanation=f"only someone holding the {needed!r} role may retry this task",
    )


def _locked(uow: SqlAlchemyUnitOfWork, task_id: str) -> tuple[ExternalTask, Incident]:
    row = uow.external_tasks.get(task_id)
    if row is None:
        raise NotFound(f"external task {task_id} not found")
    incident = lock_incident(uow, row.incident_id)
    uow.session.refresh(row)  # read again under the incident's lock: another command may have won
    return row, incident


def _gone(row: ExternalTask, incident: Incident) -> TaskNoLongerReady:
    return TaskNoLongerReady(
        f"external task {row.id} ({row.bpmn_id}) of incident {incident.reference} is "
        f"{row.state}, not waiting"
    )
