"""Deliver a message to an incident's process (a new concern, say): one commit with its audit.

Anyone who can see the incident may raise it (the reporter included). The tasks the message
stopped are marked cancelled with the reason in the audit trail, so the history says why;
the DSLs are told at once by a MessageReceived event (no answers in it).
"""

from __future__ import annotations

from datetime import datetime

from services.db import SqlAlchemyUnitOfWork
from services.db.models import HumanTask, Incident
from services.domain.access import can_view_incident
from services.domain.commands import DeliverMessage
from services.domain.dependencies import Dependencies
from services.domain.errors import AccessDenied, Conflict, NotFound
from services.domain.events import Event, MessageReceived, TaskCancelled
from services.domain.handlers.common import (
    check_version,
    enforce,
    jsonable,
    lock_incident,
    task_target,
    user_facts,
    write_outbox,
)
from services.domain.handlers.progress import Step, record_progress
from services.domain.history_answers import record_completion
from services.domain.queries import MessageForm
from services.domain.results import Outcome
from services.domain.step_access import READ_ONLY_ROLES
from workflow import engine
from workflow.formdata import validate_submission
from workflow.model import InstanceStatus, MessageView


class MessageNotAccepted(Conflict):
    """The incident's process declares the message but cannot take it now (it has ended)."""


def deliver_message(command: DeliverMessage, deps: Dependencies) -> Outcome:
    """Validate the message's form, run the engine, record stops with their reason; one commit."""
    now = deps.clock.now()
    with deps.uow_factory() as uow:
        incident = lock_incident(uow, command.incident_id)
        facts = user_facts(uow, incident, command.actor_id)
        _may_raise(facts.roles, facts.is_involved, facts.is_excluded, command.incident_id)
        check_version(incident, command.expected_incident_version)
        definition = deps.definitions.get(uow, incident.definition_version_id)
        try:
            view = engine.message(definition, command.name)
            after = engine.deliver_message(
                definition,
                incident.state,
                command.name,
                command.values,
                now,
                actor=str(command.actor_id),
                calendar=deps.calendar,
            )
        except engine.MessageUnknown as error:
            raise NotFound(f"incident {incident.reference}: {error}") from None
        except engine.MessageNotAvailable as error:
            raise MessageNotAccepted(f"incident {incident.reference}: {error}") from None
        rows = uow.tasks.for_incident(incident.id, state="ready")
        events = _record(uow, incident, rows, view, after, command, now)
        events += record_progress(
            uow,
            incident,
            [r for r in rows if r.state == "ready"],
            after,
            Step(now, command.actor_id, None, deps.calendar),
        )
        events.append(
            MessageReceived(incident.school_id, incident.id, command.name, command.actor_id)
        )
        write_outbox(uow, events)
        uow.commit()
        return Outcome(tuple(events), incident.id, incident.version_id, incident.reference)


def message_form(query: MessageForm, deps: Dependencies) -> MessageView:
    """The form of a message the incident's process takes, for someone who can see it."""
    with deps.uow_factory() as uow:
        incident = uow.incidents.get(query.incident_id)
        if incident is None:
            raise NotFound(f"incident {query.incident_id} not found")
        facts = user_facts(uow, incident, query.actor_id)
        _may_raise(facts.roles, facts.is_involved, facts.is_excluded, query.incident_id)
        definition = deps.definitions.get(uow, incident.definition_version_id)
        try:
            return engine.message(definition, query.name)
        except engine.MessageUnknown as error:
            raise NotFound(f"incident {incident.reference}: {error}") from None


def _may_raise(roles: frozenset[str], involved: bool, excluded: bool, incident_id: str) -> None:
    # Anyone who can see the incident (the reporter included), but auditors only read.
    enforce(can_view_incident(roles, involved, excluded), f"incident {incident_id}")
    if not set(roles) - READ_ONLY_ROLES:
        raise AccessDenied(
            f"incident {incident_id}: auditors read records; they do not raise concerns"
        )


def stop_reason(view: MessageView, task_name: str) -> str:
    """Why a task stopped, in words, for the history."""
    return (
        f"{view.subprocess_name}: “{task_name}” no longer applies and was stopped "
        f"(the process's “{view.name_of_event}” event)"
    )


def _record(
    uow: SqlAlchemyUnitOfWork,
    incident: Incident,
    rows: list[HumanTask],
    view: MessageView,
    after: InstanceStatus,
    command: DeliverMessage,
    now: datetime,
) -> list[Event]:
    values = jsonable(validate_submission(view.form, command.values))
    start_id = _start_task_id(after, view)
    uow.audit.add(
        "task.completed",
        task_target(start_id, view.bpmn_id),
        actor_id=command.actor_id,
        school_id=incident.school_id,
        incident_id=incident.id,
        new_values=values,
        occurred_at=now,
    )
    record_completion(
        uow,
        incident,
        task_id=start_id,
        bpmn_id=view.bpmn_id,
        lane=view.lane,
        values=values,
        actor_id=command.actor_id,
        now=now,
    )
    stopped = {c.id for c in after.cancelled_now}
    events: list[Event] = []
    for row in rows:
        if row.id not in stopped:
            continue
        row.state, row.completed_at = "cancelled", now
        uow.audit.add(
            "task.cancelled",
            task_target(row.id, row.bpmn_id),
            actor_id=command.actor_id,
            school_id=incident.school_id,
            incident_id=incident.id,
            old_values={"state": "ready", "assignee_id": row.assignee_id},
            new_values={"state": "cancelled", "stopped_by": command.name},
            reason=stop_reason(view, row.name),
            occurred_at=now,
        )
        events.append(TaskCancelled(incident.school_id, row.role, row.id, incident.id, row.bpmn_id))
    return events


def _start_task_id(after: InstanceStatus, view: MessageView) -> str:
    # The engine stamps the message's start event as a completed step; its id is the target.
    return after.message_task_id or view.bpmn_id
