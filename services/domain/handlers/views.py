"""Reads: open an incident (access-checked and audited in one transaction) and the inbox."""

from __future__ import annotations

from datetime import datetime

from services.db import SqlAlchemyUnitOfWork
from services.db.models import AuditEvent, Document, ExternalTask, Incident
from services.domain.access import Decision, can_complete_task, can_view_incident, clean_reason
from services.domain.dependencies import Dependencies
from services.domain.errors import NotFound
from services.domain.events import BreakGlassUsed
from services.domain.handlers.common import (
    UserFacts,
    enforce,
    incident_target,
    user_facts,
    write_outbox,
)
from services.domain.history_steps import incident_steps
from services.domain.queries import Inbox, ViewIncident
from services.domain.read_models import (
    AuditEntry,
    DocumentSummary,
    ExternalTaskLine,
    InboxItem,
    IncidentView,
    ReadyTask,
)
from services.domain.step_access import (
    Relationship,
    Viewer,
    needs_of,
    readable_completed_steps,
    readable_facts,
    reads_every_step,
    reads_record,
    step_facts,
)
from services.domain.visibility import inbox_tasks, is_overdue
from workflow import engine
from workflow.model import InstanceStatus
from workflow.process_graph import task_readers


def view_incident(query: ViewIncident, deps: Dependencies) -> IncidentView:
    """Check access, log the read ('incident.viewed', break-glass with its reason), return it.

    What comes back is cut to what this person may read (services/domain/step_access.py).
    """
    now = deps.clock.now()
    with deps.uow_factory() as uow:
        incident = uow.incidents.get(query.incident_id)
        if incident is None:
            raise NotFound(f"incident {query.incident_id} not found")
        facts = user_facts(uow, incident, query.actor_id)
        decision = can_view_incident(
            facts.roles, facts.is_involved, facts.is_excluded, query.break_glass_reason
        )
        enforce(decision, f"incident {query.incident_id}")
        definition = deps.definitions.get(uow, incident.definition_version_id)
        status = engine.get_status(definition, incident.state, now)
        steps = incident_steps(uow, definition, incident)
        ready = _ready_tasks(uow, incident, status, query.actor_id, facts, now)
        viewer = incident_viewer(incident, query.actor_id, facts, decision, ready)
        readable = readable_completed_steps(viewer, steps)
        whole = reads_record(viewer)
        if not whole:  # the reporter or an assignee: their steps and what is asked of them
            ready = tuple(task for task in ready if task.can_complete)
        school = uow.schools.get(incident.school_id)
        external: tuple[ExternalTaskLine, ...] = ()
        documents: tuple[DocumentSummary, ...] = ()
        if whole:
            external = tuple(
                _external_line(t) for t in uow.external_tasks.for_incident(incident.id)
            )
            documents = tuple(_document(d, n) for d, n in uow.documents.for_incident(incident.id))
        # Written after the reads, so SQLite's write lock is held only for the insert.
        _log_view(uow, incident, query, decision, now)
        events = []
        if whole:
            events = uow.audit.list_for_incident(
                incident.id, query.audit_limit + 1, query.audit_after_id
            )
        uow.commit()
        page = events[: query.audit_limit]
        more = len(events) > query.audit_limit
        kept = {step.id for step in readable}
        hidden = frozenset(step.bpmn_id for step in steps if step.id not in kept)
        assert decision.via is not None  # allowed decisions always say by what
        return IncidentView(
            id=incident.id,
            reference=incident.reference,
            status=incident.status,
            school_id=incident.school_id,
            school_name=school.name if school is not None else "",
            process_name=definition.name,
            created_at=incident.created_at,
            created_by=incident.created_by,
            closed_at=incident.closed_at,
            version=incident.version_id,
            ready_tasks=ready,
            completed_steps=readable,
            audit=tuple(_entry(event, hidden) for event in page),
            audit_next_after_id=page[-1].id if more and page else None,
            access_via=decision.via,
            external_tasks=external,
            documents=documents,
            reads_record=whole,
            reads_every_step=reads_every_step(
                viewer, [step_facts(step, is_report=i == 0) for i, step in enumerate(steps)]
            ),
            readable_facts=readable_facts(viewer, task_readers(definition))
            if whole
            else frozenset(),
        )


def incident_viewer(
    incident: Incident,
    user_id: int,
    facts: UserFacts,
    decision: Decision,
    ready: tuple[ReadyTask, ...],
) -> Viewer:
    """The step policy's facts about a person opening an incident (they may open it)."""
    relationship: Relationship = "none"
    if facts.is_excluded:
        relationship = "excluded"
    elif incident.created_by == user_id:
        relationship = "reporter"
    elif facts.is_involved:
        relationship = "assignee"
    held = [task.task.form for task in ready if task.can_complete]
    return Viewer(
        user_id=user_id,
        roles=frozenset(facts.roles),
        relationship=relationship,
        break_glass=decision.via == "break_glass",
        needs=needs_of(held),
        holds_task=bool(held),
    )


def reads_whole_record(
    uow: SqlAlchemyUnitOfWork,
    deps: Dependencies,
    incident: Incident,
    user_id: int,
    facts: UserFacts,
    decision: Decision,
) -> bool:
    """May someone who may open the incident have all of it (its PDF, its exports)?"""
    viewer = incident_viewer(incident, user_id, facts, decision, ())
    if not reads_record(viewer):
        return False
    definition = deps.definitions.get(uow, incident.definition_version_id)
    steps = incident_steps(uow, definition, incident)
    return reads_every_step(viewer, [step_facts(step) for step in steps])


def _log_view(
    uow: SqlAlchemyUnitOfWork,
    incident: Incident,
    query: ViewIncident,
    decision: Decision,
    now: datetime,
) -> None:
    break_glass = decision.via == "break_glass"
    uow.audit.add(
        "incident.viewed",
        incident_target(incident.id),
        actor_id=query.actor_id,
        school_id=incident.school_id,
        incident_id=incident.id,
        reason=clean_reason(query.break_glass_reason) if break_glass else None,
        new_values={"via": decision.via, "break_glass": break_glass},
        occurred_at=now,
    )
    if break_glass:
        write_outbox(uow, [BreakGlassUsed(incident.school_id, incident.id, query.actor_id)])


def _ready_tasks(
    uow: SqlAlchemyUnitOfWork,
    incident: Incident,
    status: InstanceStatus,
    actor_id: int,
    facts: UserFacts,
    now: datetime,
) -> tuple[ReadyTask, ...]:
    rows = {row.id: row for row in uow.tasks.for_incident(incident.id, state="ready")}
    ready: list[ReadyTask] = []
    for view in status.ready:
        row = rows.get(view.id)
        assignee = row.assignee_id if row is not None else None
        due_at = row.due_at if row is not None else None
        decision = can_complete_task(
            actor_id,
            facts.roles,
            view.lane,
            view.candidate_groups,
            assignee,
            is_involved=facts.is_involved,
            is_excluded=facts.is_excluded,
        )
        ready.append(ReadyTask(view, assignee, due_at, is_overdue(due_at, now), decision.allowed))
    return tuple(ready)


def _external_line(task: ExternalTask) -> ExternalTaskLine:
    return ExternalTaskLine(
        id=task.id,
        bpmn_id=task.bpmn_id,
        name=task.name,
        topic=task.topic,
        role=task.role,
        state=task.state,
        attempts=task.attempts,
        last_error=task.last_error,
        created_at=task.created_at,
        finished_at=task.finished_at,
    )


def _document(document: Document, size: int) -> DocumentSummary:
    return DocumentSummary(
        id=document.id,
        kind=document.kind,
        filename=document.filename,
        sha256=document.sha256,
        size=size,
        created_at=document.created_at,
    )


def _entry(event: AuditEvent, hidden: frozenset[str] = frozenset()) -> AuditEntry:
    # A step the viewer may not read keeps its line in the trail, without its values or reason.
    secret = event.target.startswith("task:") and event.target.split(":")[1] in hidden
    return AuditEntry(
        id=event.id,
        occurred_at=event.occurred_at,
        actor_id=event.actor_id,
        action=event.action,
        target=event.target,
        reason=None if secret else event.reason,
        old_values=None if secret else event.old_values,
        new_values=None if secret else event.new_values,
    )


def inbox(query: Inbox, deps: Dependencies) -> list[InboxItem]:
    """The ready tasks a person can act on in a school: theirs and their roles' unclaimed ones."""
    now = deps.clock.now()
    with deps.uow_factory() as uow:
        roles = uow.users.roles_in(query.user_id, query.school_id)
        rows = inbox_tasks(
            uow.session,
            query.user_id,
            query.school_id,
            roles,
            limit=query.limit,
            offset=query.offset,
        )
        return [
            InboxItem(
                task_id=row.id,
                incident_id=row.incident_id,
                reference=row.incident.reference,
                bpmn_id=row.bpmn_id,
                name=row.name,
                role=row.role,
                assignee_id=row.assignee_id,
                due_at=row.due_at,
                overdue=is_overdue(row.due_at, now),
                created_at=row.created_at,
            )
            for row in rows
        ]
