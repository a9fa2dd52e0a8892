"""Claim, unclaim and reassign tasks: who is handling a task, audited, without touching state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm.attributes import set_committed_value

from services.db import SqlAlchemyUnitOfWork
from services.db.models import HumanTask, Incident
from services.domain.access import (
    can_assign_tasks,
    can_be_assigned,
    can_claim_task,
    can_unclaim_task,
    can_view_incident,
    clean_reason,
)
from services.domain.commands import AssignTask, ClaimTask, UnclaimTask
from services.domain.dependencies import Dependencies
from services.domain.errors import NotFound, RequestInvalid, TaskNoLongerReady
from services.domain.events import TaskAssigned
from services.domain.handlers.common import (
    UserFacts,
    enforce,
    find_view,
    incident_id_of_task,
    lock_incident,
    task_target,
    user_facts,
    write_outbox,
)
from services.domain.results import Outcome
from workflow import engine
from workflow.model import TaskView


@dataclass(frozen=True)
class _Loaded:
    incident: Incident
    row: HumanTask
    view: TaskView
    facts: UserFacts  # of the actor


def claim_task(command: ClaimTask, deps: Dependencies) -> Outcome:
    """Take a ready task for oneself; claiming one's own task again changes nothing."""
    now = deps.clock.now()
    with deps.uow_factory() as uow:
        task = _load(uow, deps, command.task_id, command.actor_id, now)
        facts, row = task.facts, task.row
        decision = can_claim_task(
            command.actor_id,
            facts.roles,
            row.role,
            task.view.candidate_groups,
            row.assignee_id,
            is_involved=facts.is_involved,
            is_excluded=facts.is_excluded,
        )
        enforce(decision, f"task {command.task_id}")
        if row.assignee_id == command.actor_id:
            return Outcome((), task.incident.id, task.incident.version_id, task.incident.reference)
        return _reassign(uow, task, command.actor_id, command.actor_id, "task.claimed", None, now)


def unclaim_task(command: UnclaimTask, deps: Dependencies) -> Outcome:
    """Hand a task one claimed back to its role."""
    now = deps.clock.now()
    with deps.uow_factory() as uow:
        task = _load(uow, deps, command.task_id, command.actor_id, now)
        facts = task.facts
        decision = can_unclaim_task(
            command.actor_id,
            facts.roles,
            task.row.assignee_id,
            is_involved=facts.is_involved,
            is_excluded=facts.is_excluded,
        )
        enforce(decision, f"task {command.task_id}")
        return _reassign(uow, task, command.actor_id, None, "task.unclaimed", None, now)


def assign_task(command: AssignTask, deps: Dependencies) -> Outcome:
    """A DSL or headteacher gives a task to someone else (or back to its role), with a reason."""
    now = deps.clock.now()
    with deps.uow_factory() as uow:
        task = _load(uow, deps, command.task_id, command.actor_id, now)
        enforce(can_assign_tasks(task.facts.roles, task.facts.is_excluded), f"task {task.row.id}")
        reason = clean_reason(command.reason)
        if reason is None:
            raise RequestInvalid(
                f"task {command.task_id}: reassigning a task needs a reason (e.g. an absence)"
            )
        if command.assignee_id is not None:
            _check_assignee(uow, task, command.assignee_id)
        return _reassign(
            uow, task, command.actor_id, command.assignee_id, "task.assigned", reason, now
        )


def _load(
    uow: SqlAlchemyUnitOfWork, deps: Dependencies, task_id: str, actor_id: int, now: datetime
) -> _Loaded:
    incident = lock_incident(uow, incident_id_of_task(uow, task_id))
    facts = user_facts(uow, incident, actor_id)
    row = uow.tasks.get(task_id)
    definition = deps.definitions.get(uow, incident.definition_version_id)
    view = find_view(engine.get_status(definition, incident.state, now).ready, task_id)
    if row is None or row.state != "ready" or view is None:
        decision = can_view_incident(facts.roles, facts.is_involved, facts.is_excluded)
        if decision.refusal == "hidden":
            raise NotFound(f"task {task_id} not found")
        raise TaskNoLongerReady(
            f"task {task_id} of incident {incident.reference} is no longer ready: "
            "it was completed or cancelled"
        )
    return _Loaded(incident, row, view, facts)


def _check_assignee(uow: SqlAlchemyUnitOfWork, task: _Loaded, assignee_id: int) -> None:
    if uow.users.get(assignee_id) is None:
        raise RequestInvalid(f"task {task.row.id}: there is no user {assignee_id} to assign it to")
    decision = can_be_assigned(
        uow.users.roles_in(assignee_id, task.incident.school_id),
        task.row.role,
        task.view.candidate_groups,
        uow.incidents.is_excluded(task.incident.id, assignee_id),
    )
    if not decision.allowed:
        raise RequestInvalid(
            f"task {task.row.id} cannot go to user {assignee_id}: {decision.explanation}"
        )


def _reassign(
    uow: SqlAlchemyUnitOfWork,
    task: _Loaded,
    actor_id: int,
    assignee_id: int | None,
    action: str,
    reason: str | None,
    now: datetime,
) -> Outcome:
    row, incident = task.row, task.incident
    old_assignee = row.assignee_id
    _compare_and_set(uow, row, assignee_id)
    uow.audit.add(
        action,
        task_target(row.id, row.bpmn_id),
        actor_id=actor_id,
        school_id=incident.school_id,
        incident_id=incident.id,
        reason=reason,
        old_values={"assignee_id": old_assignee},
        new_values={"assignee_id": assignee_id},
        occurred_at=now,
    )
    event = TaskAssigned(
        incident.school_id, row.role, row.id, incident.id, row.bpmn_id, assignee_id
    )
    write_outbox(uow, [event])
    uow.commit()
    return Outcome((event,), incident.id, incident.version_id, incident.reference)


def _compare_and_set(uow: SqlAlchemyUnitOfWork, row: HumanTask, assignee_id: int | None) -> None:
    # Atomic on both backends: a claim that raced ours and won leaves no row to update.
    old = row.assignee_id
    statement = (
        update(HumanTask)
        .where(HumanTask.id == row.id, HumanTask.state == "ready")
        .where(HumanTask.assignee_id.is_(None) if old is None else HumanTask.assignee_id == old)
        .values(assignee_id=assignee_id)
        .execution_options(synchronize_session=False)
    )
    result = uow.session.execute(statement)
    if not isinstance(result, CursorResult) or result.rowcount != 1:
        raise TaskNoLongerReady(
            f"task {row.id} changed hands or was completed while this request ran: reload it"
        )
    # Keep the loaded row in step without making it dirty (no second UPDATE at commit).
    set_committed_value(row, "assignee_id", assignee_id)
