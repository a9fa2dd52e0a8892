"""What several handlers share: loading and locking, the facts access checks need, enforcing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select

from services.db import ConcurrentUpdate, SqlAlchemyUnitOfWork
from services.db.models import HumanTask, Incident
from services.domain.access import Decision
from services.domain.errors import (
    AccessDenied,
    BreakGlassReasonRequired,
    NotFound,
    TaskClaimedByAnother,
)
from services.domain.events import Event
from services.domain.visibility import is_involved
from workflow.model import TaskView


@dataclass(frozen=True)
class UserFacts:
    """What the access policy needs to know about one user and one incident."""

    roles: frozenset[str]  # the user's roles in the incident's school
    is_excluded: bool
    is_involved: bool


def user_facts(uow: SqlAlchemyUnitOfWork, incident: Incident, user_id: int) -> UserFacts:
    """Look up the user's roles in the incident's school, exclusion and involvement."""
    roles = uow.users.roles_in(user_id, incident.school_id)
    if not roles:  # no role in the school: nothing else can grant access
        return UserFacts(roles, False, False)
    return UserFacts(
        roles=roles,
        is_excluded=uow.incidents.is_excluded(incident.id, user_id),
        is_involved=is_involved(uow.session, incident.id, user_id),
    )


def enforce(decision: Decision, what: str) -> None:
    """Raise the error a refused decision means; `what` names the record ("incident X")."""
    if decision.allowed:
        return
    if decision.refusal == "hidden":
        # Worded exactly like a record that does not exist, so existence is not leaked.
        raise NotFound(f"{what} not found")
    if decision.refusal == "reason_required":
        raise BreakGlassReasonRequired(f"{what}: {decision.explanation}")
    if decision.refusal == "claimed":
        raise TaskClaimedByAnother(f"{what}: {decision.explanation}")
    raise AccessDenied(f"{what}: {decision.explanation}")


def lock_incident(uow: SqlAlchemyUnitOfWork, incident_id: str) -> Incident:
    """Load an incident with its state for a change (row-locked on PostgreSQL)."""
    incident = uow.incidents.get_for_update(incident_id)
    if incident is None:
        raise NotFound(f"incident {incident_id} not found")
    return incident


def check_version(incident: Incident, expected_version: int | None) -> None:
    """Raise ConcurrentUpdate when the incident changed since the caller read it.

    Call it only after the access check: the error names the current version, which someone
    who may not see the incident must not learn.
    """
    if expected_version is not None and incident.version_id != expected_version:
        raise ConcurrentUpdate(
            (incident.id,),
            f"the form was filled in at version {expected_version}, "
            f"the incident is now at version {incident.version_id}",
        )


def incident_id_of_task(uow: SqlAlchemyUnitOfWork, task_id: str) -> str:
    """The id of the incident a task belongs to; NotFound for an unknown task."""
    query = select(HumanTask.incident_id).where(HumanTask.id == task_id)
    incident_id = uow.session.scalar(query)
    if incident_id is None:
        raise NotFound(f"task {task_id} not found")
    return incident_id


def find_view(ready: Iterable[TaskView], task_id: str) -> TaskView | None:
    """The ready task with this id, if the engine has one."""
    return next((view for view in ready if view.id == task_id), None)


def task_target(task_id: str, bpmn_id: str) -> str:
    """The audit target naming a task: its type and its id."""
    return f"task:{bpmn_id}:{task_id}"[:255]


def incident_target(incident_id: str) -> str:
    """The audit target naming an incident."""
    return f"incident:{incident_id}"


def jsonable(values: Mapping[str, Any]) -> dict[str, Any]:
    """Form values as JSON for the audit trail (dates as ISO 8601)."""
    return {key: _json_value(value) for key, value in values.items()}


def _json_value(value: Any) -> Any:
    if isinstance(value, date):  # a datetime is a date too
        return value.isoformat()
    if isinstance(value, (list, tuple, set)):
        return [_json_value(v) for v in value]
    if isinstance(value, Mapping):
        return jsonable(value)
    return value


def write_outbox(uow: SqlAlchemyUnitOfWork, events: Iterable[Event]) -> None:
    """Queue one outbox row per event, in the command's transaction."""
    for event in events:
        uow.outbox.add(event.routing_key(), event.event_type, event.payload())
