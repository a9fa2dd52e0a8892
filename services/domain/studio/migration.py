"""Moving running incidents to a newer version of their process: a preview, then the move.

The preview (process admins and auditors) says per open incident what changes for it, and why
it cannot move when it cannot; no personal details. The move (a process admin of the
incident's school) runs one transaction per incident: the state is migrated by the engine,
the inbox rows follow it, and the move is audited with what moved. An incident that changed
since the preview was read is refused, and nothing of it is written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.orm import undefer

from services.db import SqlAlchemyUnitOfWork
from services.db.errors import ConcurrentUpdate
from services.db.models import (
    CaseAnswer,
    DefinitionVersion,
    HumanTask,
    Incident,
    IncidentExclusion,
    School,
)
from services.db.repositories.studio import StudioRepository
from services.domain.errors import AccessDenied, NotFound, RequestInvalid
from services.domain.events import Event, TaskReady
from services.domain.handlers.common import incident_target, task_target, write_outbox
from services.domain.handlers.progress import Step, record_progress
from services.domain.studio.drafts import Studio
from services.domain.studio.policy import require_author, require_reader, schools_where
from workflow import engine
from workflow.definition import Definition
from workflow.errors import SafeguardError
from workflow.model import CompletedStep, InstanceStatus
from workflow.spiff_migration import (
    MigrationBlocked,
    MigrationPreview,
    migrate_state,
    preview_migration,
)

MAX_INCIDENTS = 200  # per preview or request, as the impact page lists them
AUTHOR_ROLE = "process_admin"
MAX_ANSWER_ROWS = 5_000  # answer rows read per incident (a completion or correction each)


class MigrationRefused(Exception):
    """One incident was not moved; the message says why (nothing of it was written)."""

    def __init__(self, reference: str, message: str) -> None:
        self.reference = reference
        super().__init__(message)


def preview(studio: Studio, actor_id: int, process_id: str, number: int, to: int) -> dict[str, Any]:
    """What moving each open incident of version `number` to version `to` would do."""
    with studio.deps.uow_factory() as uow:
        require_reader(uow, actor_id)
        source, target = _versions(uow, process_id, number, to)
        old = studio.deps.definitions.get(uow, source.id)
        new = studio.deps.definitions.get(uow, target.id)
        admin_of = set(schools_where(uow, actor_id, AUTHOR_ROLE))
        # Need-to-know: incidents of the schools where the caller reads the studio, no others.
        readable = admin_of | set(schools_where(uow, actor_id, "auditor"))
        schools = _school_names(uow)
        incidents = []
        shown: dict[int, list[str]] = {}
        listed = _open_incidents(uow, source.id, readable, actor_id)
        elsewhere = _open_count(uow, source.id) - _open_count(uow, source.id, readable, actor_id)
        for incident in listed:
            shown.setdefault(incident.school_id, []).append(incident.id)
            found = _preview_of(old, incident.state, new, _answered_steps(uow, incident.id))
            incidents.append(
                {
                    "id": incident.id,
                    "reference": incident.reference,
                    "school_id": incident.school_id,
                    "school": schools.get(incident.school_id, ""),
                    "started": incident.created_at.date().isoformat(),
                    "incident_version": incident.version_id,
                    "migratable": found.migratable,
                    "may_migrate": incident.school_id in admin_of,
                    **_preview_json(found),
                }
            )
        for school_id, incident_ids in sorted(shown.items()):
            uow.audit.add(  # a read of these incidents' steps: logged, per school's chain
                "incidents.migration_previewed",
                f"process:{process_id}:{number}",
                actor_id=actor_id,
                school_id=school_id,
                new_values={"to_version": to, "incident_ids": incident_ids},
                occurred_at=studio.deps.clock.now(),
            )
        uow.commit()
        return {
            "process_key": process_id,
            "from_version": number,
            "to_version": to,
            "versions": [v.version for v in StudioRepository(uow.session).versions(process_id)],
            "incidents": incidents,
            "migratable": sum(1 for i in incidents if i["migratable"]),
            "open_not_shown": elsewhere,  # other schools' or excluded from: counted, not listed
        }


def migrate(
    studio: Studio,
    actor_id: int,
    process_id: str,
    number: int,
    to: int,
    incident_ids: Sequence[str] | None,
    expected: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """Move the named incidents (None: every one that can) of version `number` to `to`.

    `expected` maps incident ids to the incident version the caller's preview showed: an
    incident that changed since is refused. Each incident moves in its own transaction.
    """
    with studio.deps.uow_factory() as uow:
        require_author(uow, actor_id)
        source, target = _versions(uow, process_id, number, to)
        admin_of = set(schools_where(uow, actor_id, AUTHOR_ROLE))
        if incident_ids is None:
            query = (
                select(Incident.id)
                .where(
                    Incident.definition_version_id == source.id,
                    Incident.status == "open",
                    Incident.school_id.in_(sorted(admin_of)),
                    _not_excluded(actor_id),
                )
                .order_by(Incident.created_at, Incident.id)
                .limit(MAX_INCIDENTS)
            )
            chosen = list(uow.session.scalars(query))
        else:
            chosen = _checked_ids(uow, incident_ids, admin_of, actor_id)
    migrated: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    for incident_id in chosen:
        expected_version = (expected or {}).get(incident_id)
        try:
            migrated.append(
                _migrate_one(studio, actor_id, incident_id, source, target, expected_version)
            )
        except (MigrationRefused, MigrationBlocked, ConcurrentUpdate) as error:
            # Another command committed first (SQLite has no row lock): nothing was written.
            refused.append({"id": incident_id, **_refusal(error)})
    return {
        "process_key": process_id,
        "from_version": number,
        "to_version": to,
        "migrated": migrated,
        "refused": refused,
    }


def _migrate_one(
    studio: Studio,
    actor_id: int,
    incident_id: str,
    source: DefinitionVersion,
    target: DefinitionVersion,
    expected_version: int | None,
) -> dict[str, Any]:
    deps = studio.deps
    now = deps.clock.now()
    with deps.uow_factory() as uow:
        incident = uow.incidents.get_for_update(incident_id)
        if incident is None:
            raise MigrationRefused("", f"incident {incident_id} no longer exists")
        reference = incident.reference
        if incident.definition_version_id != source.id or incident.status != "open":
            raise MigrationRefused(
                reference,
                f"{reference} is no longer an open incident on version {source.version}",
            )
        if expected_version is not None and incident.version_id != expected_version:
            raise MigrationRefused(
                reference,
                f"{reference} changed since the preview was read (it was at version "
                f"{expected_version}, it is now at {incident.version_id}): preview again",
            )
        old = deps.definitions.get(uow, source.id)
        new = deps.definitions.get(uow, target.id)
        answered = _answered_steps(uow, incident.id)
        found = _preview_of(old, incident.state, new, answered)
        try:
            state = migrate_state(old, incident.state, new, answered)
        except MigrationBlocked as error:
            raise MigrationRefused(reference, f"{reference} cannot move: {error}") from None
        status = engine.get_status(new, state, now)
        incident.definition_version_id = target.id
        rows = uow.tasks.for_incident(incident.id, state="ready")
        step = Step(now, actor_id, None, deps.calendar)
        events = _move_rows(uow, incident, rows, status, step)
        events += record_progress(uow, incident, rows, status, step)
        uow.audit.add(
            "incident.migrated",
            incident_target(incident.id),
            actor_id=actor_id,
            school_id=incident.school_id,
            incident_id=incident.id,
            old_values={"process_key": source.definition.process_id, "version": source.version},
            new_values={
                "process_key": target.definition.process_id,
                "version": target.version,
                "tasks": [
                    {"bpmn_id": t.bpmn_id, "outcome": t.outcome, "changes": list(t.changes)}
                    for t in found.tasks
                ],
                "answers_kept": sum(a.answers for a in found.answers),
            },
            occurred_at=now,
        )
        write_outbox(uow, events)
        uow.commit()
        return {"id": incident_id, "reference": reference, **_preview_json(found)}


def _move_rows(
    uow: SqlAlchemyUnitOfWork,
    incident: Incident,
    rows: Sequence[HumanTask],
    status: InstanceStatus,
    step: Step,
) -> list[Event]:
    """Ready rows whose task the new version puts in another lane follow it there."""
    events: list[Event] = []
    views = {view.id: view for view in status.ready}
    for row in rows:
        view = views.get(row.id)
        if view is None or (view.lane == row.role and view.name[:255] == row.name):
            continue
        old = {"role": row.role, "name": row.name, "assignee_id": row.assignee_id}
        moved = view.lane != row.role
        row.name = view.name[:255]
        if moved:
            # Whoever claimed it held the old role: the task goes back to its new lane.
            row.role, row.assignee_id = view.lane, None
        uow.audit.add(
            "task.migrated",
            task_target(row.id, row.bpmn_id),
            actor_id=step.actor_id,
            school_id=incident.school_id,
            incident_id=incident.id,
            old_values=old,
            new_values={"role": row.role, "name": row.name, "assignee_id": row.assignee_id},
            occurred_at=step.now,
        )
        if moved:
            events.append(
                TaskReady(
                    incident.school_id,
                    view.lane,
                    view.id,
                    incident.id,
                    view.bpmn_id,
                    view.candidate_groups,
                    row.due_at,
                )
            )
    return events


def _versions(
    uow: SqlAlchemyUnitOfWork, process_id: str, number: int, to: int
) -> tuple[DefinitionVersion, DefinitionVersion]:
    repo = StudioRepository(uow.session)
    source = repo.version(process_id, number)
    if source is None:
        raise NotFound(f"process {process_id!r} has no version {number}")
    target = repo.version(process_id, to)
    if target is None:
        raise NotFound(f"process {process_id!r} has no version {to}")
    if to <= number:
        raise RequestInvalid(f"incidents move to a newer version: {to} is not newer than {number}")
    return source, target


def _not_excluded(actor_id: int) -> ColumnElement[bool]:
    # Need-to-know: someone excluded from an incident neither sees nor moves it here.
    return ~exists().where(
        IncidentExclusion.incident_id == Incident.id, IncidentExclusion.user_id == actor_id
    )


def _open_of(
    version_id: int, schools: set[int] | None, actor_id: int | None
) -> list[ColumnElement[bool]]:
    where = [Incident.definition_version_id == version_id, Incident.status == "open"]
    if schools is not None:
        where.append(Incident.school_id.in_(sorted(schools)))
    if actor_id is not None:
        where.append(_not_excluded(actor_id))
    return where


def _open_incidents(
    uow: SqlAlchemyUnitOfWork, version_id: int, schools: set[int], actor_id: int
) -> list[Incident]:
    # Filtered before the cap, so other schools' incidents never take the caller's places.
    query = (
        select(Incident)
        .where(*_open_of(version_id, schools, actor_id))
        .options(undefer(Incident.state))
        .order_by(Incident.created_at, Incident.id)
        .limit(MAX_INCIDENTS)
    )
    return list(uow.session.scalars(query))


def _open_count(
    uow: SqlAlchemyUnitOfWork,
    version_id: int,
    schools: set[int] | None = None,
    actor_id: int | None = None,
) -> int:
    query = (
        select(func.count()).select_from(Incident).where(*_open_of(version_id, schools, actor_id))
    )
    return int(uow.session.scalar(query) or 0)


def _checked_ids(
    uow: SqlAlchemyUnitOfWork, incident_ids: Sequence[str], admin_of: set[int], actor_id: int
) -> list[str]:
    """The named incidents, each known, not excluded from, of a school the actor admins."""
    if not incident_ids:
        raise RequestInvalid("name at least one incident, or ask for all")
    if len(incident_ids) > MAX_INCIDENTS:
        raise RequestInvalid(f"at most {MAX_INCIDENTS} incidents per request")
    unique = list(dict.fromkeys(incident_ids))
    query = select(Incident).where(Incident.id.in_(unique), _not_excluded(actor_id))
    found = {i.id: i for i in uow.session.scalars(query)}
    for incident_id in unique:
        incident = found.get(incident_id)
        if incident is None:  # unknown, or excluded from: the same answer
            raise NotFound(f"incident {incident_id} not found")
        if incident.school_id not in admin_of:
            raise AccessDenied(
                f"incident {incident.reference}: only a process admin of its school moves it"
            )
    return unique


def _answered_steps(uow: SqlAlchemyUnitOfWork, incident_id: str) -> list[CompletedStep]:
    """Every step answered so far (corrections folded in), from the answers kept per step.

    The engine state may hold only part of the history (finished work is pruned from it):
    these rows hold all of it, so the move is judged against every answer ever given.
    """
    query = (
        select(CaseAnswer)
        .where(CaseAnswer.incident_id == incident_id)
        .order_by(CaseAnswer.id)
        .limit(MAX_ANSWER_ROWS)
    )
    steps: dict[str, CompletedStep] = {}
    for row in uow.session.scalars(query):
        known = steps.get(row.task_id)
        data = {**(known.data if known else {}), **(row.answers or {})}
        steps[row.task_id] = CompletedStep(row.task_id, row.bpmn_id, row.bpmn_id, row.lane, data)
    return list(steps.values())


def _preview_of(
    old: Definition, state: str, new: Definition, answered: Sequence[CompletedStep]
) -> MigrationPreview:
    try:
        return preview_migration(old, state, new, answered)
    except SafeguardError as error:  # an unreadable state: shown as the reason, not a 500
        return MigrationPreview((), (f"the incident's state cannot be read: {error}",), ())


def _preview_json(found: MigrationPreview) -> dict[str, Any]:
    return {
        "blocked": list(found.blocked),
        "tasks": [{**asdict(t), "changes": list(t.changes)} for t in found.tasks],
        "answers": [asdict(a) for a in found.answers],
    }


def _refusal(error: Exception) -> dict[str, Any]:
    reference = error.reference if isinstance(error, MigrationRefused) else ""
    return {"reference": reference, "reason": str(error)}


def _school_names(uow: SqlAlchemyUnitOfWork) -> dict[int, str]:
    return {s.id: s.name for s in uow.session.scalars(select(School).limit(500))}
