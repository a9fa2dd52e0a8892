"""Report a concern (start an incident with its disclosure) and exclude a person from a case."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError

from services.db import SqlAlchemyUnitOfWork
from services.db.models import HumanTask, Incident
from services.db.repositories.studio import StudioRepository
from services.domain.access import can_exclude_person, can_start_incident, clean_reason
from services.domain.commands import DISCLOSURE_TASK, ExcludePerson, StartIncident
from services.domain.dependencies import Dependencies
from services.domain.errors import AlreadyExcluded, ProcessNotStartable, RequestInvalid
from services.domain.events import Event, IncidentStarted, PersonExcluded, TaskAssigned
from services.domain.handlers.common import (
    enforce,
    incident_target,
    jsonable,
    lock_incident,
    task_target,
    user_facts,
    write_outbox,
)
from services.domain.handlers.progress import Step, record_progress
from services.domain.history_answers import record_completion
from services.domain.results import Outcome
from workflow import engine
from workflow.definition import Definition
from workflow.formdata import validate_submission
from workflow.model import InstanceStatus, TaskView

# Two reports in one school at the same moment may pick the same reference; the loser retries.
REFERENCE_ATTEMPTS = 5


def start_incident(command: StartIncident, deps: Dependencies) -> Outcome:
    """Open an incident and record its disclosure, in one transaction."""
    for attempt in range(1, REFERENCE_ATTEMPTS + 1):
        try:
            return _start_once(command, deps)
        except IntegrityError:
            if attempt == REFERENCE_ATTEMPTS:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _start_once(command: StartIncident, deps: Dependencies) -> Outcome:
    now = deps.clock.now()
    with deps.uow_factory() as uow:
        roles = uow.users.roles_in(command.actor_id, command.school_id)
        enforce(can_start_incident(roles), f"school {command.school_id}")
        version_id, definition = _school_definition(uow, deps, command)
        started = engine.start_instance(definition, now, calendar=deps.calendar)
        disclosure = _disclosure_task(started, command.process_id)
        after = engine.complete_task(
            definition,
            started.state,
            disclosure.id,
            command.data,
            now,
            actor=str(command.actor_id),
            calendar=deps.calendar,
        )
        incident = uow.incidents.add(
            school_id=command.school_id,
            definition_version_id=version_id,
            reference=uow.incidents.next_reference(command.school_id, now.year),
            state=after.state,
            created_by=command.actor_id,
        )
        incident.created_at = now
        events = _record_start(uow, incident, definition, disclosure, command, now)
        rows = [_disclosure_row(uow, incident, disclosure, now)]
        step = Step(now, command.actor_id, disclosure.id, deps.calendar)
        events += record_progress(uow, incident, rows, after, step)
        write_outbox(uow, events)
        uow.commit()
        return Outcome(tuple(events), incident.id, incident.version_id, incident.reference)


def _school_definition(
    uow: SqlAlchemyUnitOfWork, deps: Dependencies, command: StartIncident
) -> tuple[int, Definition]:
    # New incidents start on the version the school runs (its studio choice, else the latest);
    # running incidents stay on the version they started on.
    version_id = StudioRepository(uow.session).current_version_id(
        command.school_id, command.process_id
    )
    if version_id is None:
        raise ProcessNotStartable(
            f"process {command.process_id!r} is not deployed: deploy its BPMN before reporting "
            "concerns"
        )
    return version_id, deps.definitions.get(uow, version_id)


def _disclosure_task(started: InstanceStatus, process_id: str) -> TaskView:
    task = next((t for t in started.ready if t.bpmn_id == DISCLOSURE_TASK), None)
    if task is None:
        ready = ", ".join(t.bpmn_id for t in started.ready) or "none"
        raise ProcessNotStartable(
            f"process {process_id!r} does not begin with the user task {DISCLOSURE_TASK!r} "
            f"(ready at start: {ready})"
        )
    return task


def _disclosure_row(
    uow: SqlAlchemyUnitOfWork, incident: Incident, disclosure: TaskView, now: datetime
) -> HumanTask:
    row = uow.tasks.add(
        task_id=disclosure.id,
        incident_id=incident.id,
        school_id=incident.school_id,
        bpmn_id=disclosure.bpmn_id,
        name=disclosure.name[:255],
        role=disclosure.lane,
    )
    row.created_at = now
    return row


def _record_start(
    uow: SqlAlchemyUnitOfWork,
    incident: Incident,
    definition: Definition,
    disclosure: TaskView,
    command: StartIncident,
    now: datetime,
) -> list[Event]:
    uow.audit.add(
        "incident.started",
        incident_target(incident.id),
        actor_id=command.actor_id,
        school_id=incident.school_id,
        incident_id=incident.id,
        new_values={
            "reference": incident.reference,
            "process_id": definition.process_id,
            "definition_digest": definition.digest,
        },
        occurred_at=now,
    )
    uow.audit.add(
        "task.completed",
        task_target(disclosure.id, disclosure.bpmn_id),
        actor_id=command.actor_id,
        school_id=incident.school_id,
        incident_id=incident.id,
        old_values={},
        new_values=jsonable(validate_submission(disclosure.form, command.data)),
        occurred_at=now,
    )
    record_completion(
        uow,
        incident,
        task_id=disclosure.id,
        bpmn_id=disclosure.bpmn_id,
        lane=disclosure.lane,
        values=jsonable(validate_submission(disclosure.form, command.data)),
        actor_id=command.actor_id,
        now=now,
    )
    return [IncidentStarted(incident.school_id, incident.id, definition.process_id)]


def exclude_person(command: ExcludePerson, deps: Dependencies) -> Outcome:
    """Keep a named person out of an incident; tasks they had claimed go back to their role."""
    now = deps.clock.now()
    with deps.uow_factory() as uow:
        incident = lock_incident(uow, command.incident_id)
        facts = user_facts(uow, incident, command.actor_id)
        enforce(can_exclude_person(facts.roles, facts.is_excluded), f"incident {incident.id}")
        reason = clean_reason(command.reason)
        if reason is None:
            raise RequestInvalid(f"incident {incident.reference}: excluding someone needs a reason")
        if uow.users.get(command.user_id) is None:
            raise RequestInvalid(
                f"incident {incident.reference}: there is no user {command.user_id}"
            )
        if uow.incidents.is_excluded(incident.id, command.user_id):
            raise AlreadyExcluded(
                f"user {command.user_id} is already excluded from incident {incident.reference}"
            )
        uow.incidents.exclude(incident.id, command.user_id, reason, command.actor_id)
        uow.audit.add(
            "incident.person_excluded",
            f"user:{command.user_id}",
            actor_id=command.actor_id,
            school_id=incident.school_id,
            incident_id=incident.id,
            reason=reason,
            new_values={"excluded_user_id": command.user_id},
            occurred_at=now,
        )
        events: list[Event] = [PersonExcluded(incident.school_id, incident.id, command.user_id)]
        events += _release_tasks_of(uow, incident, command, now)
        write_outbox(uow, events)
        uow.commit()
        return Outcome(tuple(events), incident.id, incident.version_id, incident.reference)


def _release_tasks_of(
    uow: SqlAlchemyUnitOfWork, incident: Incident, command: ExcludePerson, now: datetime
) -> list[Event]:
    events: list[Event] = []
    for row in uow.tasks.for_incident(incident.id, state="ready"):
        if row.assignee_id != command.user_id:
            continue
        row.assignee_id = None
        uow.audit.add(
            "task.assigned",
            task_target(row.id, row.bpmn_id),
            actor_id=command.actor_id,
            school_id=incident.school_id,
            incident_id=incident.id,
            reason="the assignee was excluded from the incident",
            old_values={"assignee_id": command.user_id},
            new_values={"assignee_id": None},
            occurred_at=now,
        )
        events.append(
            TaskAssigned(incident.school_id, row.role, row.id, incident.id, row.bpmn_id, None)
        )
    return events
