"""Versions: which one each school runs (choose, roll back), and what the studio shows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from services.db.models import DefinitionVersion, HumanTask, Incident, ProcessDraft, School
from services.db.repositories.studio import StudioRepository
from services.domain.errors import AccessDenied, NotFound
from services.domain.studio.checks import sources_of
from services.domain.studio.drafts import Studio
from services.domain.studio.policy import (
    in_draft_scope,
    require_reader,
    roles_anywhere,
    schools_where,
)
from workflow.model import SourceFile
from workflow.process_diff import changed_ids, diff_files

MAX_IMPACT = 200


def choose_version(
    studio: Studio, actor_id: int, school_id: int, process_id: str, number: int
) -> None:
    """Make version `number` the one the school runs (choosing an older one is a rollback)."""
    now = studio.deps.clock.now()
    with studio.deps.uow_factory() as uow:
        if school_id not in schools_where(uow, actor_id, "process_admin"):
            if uow.schools.get(school_id) is None:
                raise NotFound(f"school {school_id} not found")
            raise AccessDenied(f"only a process admin of school {school_id} chooses its version")
        repo = StudioRepository(uow.session)
        version = repo.version(process_id, number)
        if version is None:
            raise NotFound(f"process {process_id!r} has no version {number}")
        before_id = repo.current_version_id(school_id, process_id)
        before = uow.definitions.get_version(before_id) if before_id else None
        repo.choose(school_id, process_id, version.id, actor_id)
        rollback = before is not None and before.version > number
        uow.audit.add(
            "studio.version_rolled_back" if rollback else "studio.version_chosen",
            f"definition:{process_id}:v{number}",
            actor_id=actor_id,
            school_id=school_id,
            old_values={"version": before.version if before else None},
            new_values={"version": number},
            occurred_at=now,
        )
        uow.commit()


def list_processes(studio: Studio, actor_id: int) -> list[dict[str, Any]]:
    """Every process with its versions (who, when, why, which schools) and open drafts."""
    with studio.deps.uow_factory() as uow:
        roles = require_reader(uow, actor_id)
        repo = StudioRepository(uow.session)
        schools = list(uow.session.scalars(select(School).order_by(School.name).limit(500)))
        names = _user_names(uow)
        admin_of = set(schools_where(uow, actor_id, "process_admin"))
        found = []
        for process in repo.processes():
            versions = repo.versions(process.process_id)
            running = repo.running_counts([v.id for v in versions])
            current = {s.id: repo.current_version_id(s.id, process.process_id) for s in schools}
            found.append(
                {
                    "process_key": process.process_id,
                    "name": process.name,
                    "versions": [
                        _version_json(repo, v, names, schools, current, running) for v in versions
                    ],
                    "schools": [
                        {
                            "id": s.id,
                            "name": s.name,
                            "version": _number(versions, current[s.id]),
                            "may_choose": s.id in admin_of,
                        }
                        for s in schools
                    ],
                    "drafts": [_draft_summary(d, names) for d in repo.drafts(process.process_id)],
                }
            )
        del roles
        return found


def _version_json(
    repo: StudioRepository,
    version: DefinitionVersion,
    names: dict[int, str],
    schools: list[School],
    current: dict[int, int | None],
    running: dict[int, int],
) -> dict[str, Any]:
    release = repo.release(version.id)
    return {
        "version": version.version,
        "state": "published",
        "author": names.get(release.author_id or 0)
        if release
        else names.get(version.deployed_by or 0),
        "approver": names.get(release.approved_by or 0) if release else None,
        "published_at": (release.published_at if release else version.deployed_at).isoformat(),
        "note": release.note if release else "deployed from the bpmn/ folder",
        "schools": [s.name for s in schools if current.get(s.id) == version.id],
        "running_incidents": running.get(version.id, 0),
    }


def _number(versions: list[DefinitionVersion], version_id: int | None) -> int | None:
    return next((v.version for v in versions if v.id == version_id), None)


def _draft_summary(draft: ProcessDraft, names: dict[int, str]) -> dict[str, Any]:
    checks = draft.checks or {}
    return {
        "id": draft.id,
        "revision": draft.revision,
        "state": draft.state,
        "author": names.get(draft.created_by or 0),
        "updated_by": names.get(draft.updated_by or 0),
        "updated_at": draft.updated_at.isoformat(),
        "note": draft.note,
        "passed": bool(checks.get("passed")) and draft.checked_revision == draft.revision,
    }


def draft_view(studio: Studio, actor_id: int, draft_id: int) -> dict[str, Any]:
    """A draft with its files, checks, saves and approval: the API's and the page's shape."""
    with studio.deps.uow_factory() as uow:
        roles = require_reader(uow, actor_id)
        repo = StudioRepository(uow.session)
        draft = repo.draft(draft_id)
        if draft is None:
            raise NotFound(f"draft {draft_id} not found")
        names = _user_names(uow)
        base = uow.definitions.get_version(draft.base_version_id) if draft.base_version_id else None
        base_files = {s["name"]: s["content"] for s in base.sources} if base else {}
        changes = diff_files(sources_of(base_files), sources_of(draft.files))
        checks = draft.checks or {}
        authors = repo.authors(draft.id) | ({draft.created_by} if draft.created_by else set())
        # A process admin of a school the draft is for (the author's school or trust).
        ours = "process_admin" in roles and in_draft_scope(uow, actor_id, draft)
        return {
            **_draft_summary(draft, names),
            "process_key": draft.process_id,
            "base_version": base.version if base else None,
            "files": dict(draft.files),
            "problems": checks.get("problems", []),
            "scenarios": checks.get("scenarios", []),
            "checked_revision": draft.checked_revision,
            "check_seconds": checks.get("seconds"),
            "approved_by": names.get(draft.approved_by or 0),
            "approved_revision": draft.approved_revision,
            "may_edit": ours and draft.state in ("draft", "approved"),
            "may_approve": ours and actor_id not in authors and draft.state == "draft",
            "may_publish": ours and draft.state == "approved",
            "saves": [
                {
                    "revision": s.revision,
                    "saved_by": names.get(s.saved_by or 0),
                    "saved_at": s.saved_at.isoformat(),
                    "summary": s.summary,
                }
                for s in repo.saves(draft.id)
            ],
            "diff": [c.as_dict() for c in changes],
            "marks": changed_ids(changes),
        }


def version_files(studio: Studio, actor_id: int, process_id: str, number: int) -> dict[str, str]:
    """The files of a published version (for viewing, exporting, or starting a draft)."""
    with studio.deps.uow_factory() as uow:
        require_reader(uow, actor_id)
        version = StudioRepository(uow.session).version(process_id, number)
        if version is None:
            raise NotFound(f"process {process_id!r} has no version {number}")
        return {str(s["name"]): str(s["content"]) for s in version.sources}


def version_diff(
    studio: Studio, actor_id: int, process_id: str, old: int, new: int
) -> dict[str, Any]:
    """What changed between two versions, in words and as marks per element."""
    before = version_files(studio, actor_id, process_id, old)
    after = version_files(studio, actor_id, process_id, new)
    changes = diff_files(_sources(before), _sources(after))
    return {
        "old": old,
        "new": new,
        "diff": [c.as_dict() for c in changes],
        "marks": changed_ids(changes),
        "files": after,
    }


def impact(studio: Studio, actor_id: int, process_id: str, number: int) -> dict[str, Any]:
    """Open incidents on a version and where each stands (ready tasks); no personal details."""
    with studio.deps.uow_factory() as uow:
        require_reader(uow, actor_id)
        version = StudioRepository(uow.session).version(process_id, number)
        if version is None:
            raise NotFound(f"process {process_id!r} has no version {number}")
        incidents = list(
            uow.session.scalars(
                select(Incident)
                .where(Incident.definition_version_id == version.id, Incident.status == "open")
                .order_by(Incident.created_at)
                .limit(MAX_IMPACT)
            )
        )
        ids = [i.id for i in incidents]
        ready: dict[str, list[str]] = {}
        if ids:
            tasks = uow.session.execute(
                select(HumanTask.incident_id, HumanTask.name).where(
                    HumanTask.incident_id.in_(ids), HumanTask.state == "ready"
                )
            )
            for row in tasks:
                ready.setdefault(row[0], []).append(row[1])
        schools = {s.id: s.name for s in uow.session.scalars(select(School).limit(500))}
        return {
            "process_key": process_id,
            "version": number,
            "incidents": [
                {
                    "reference": i.reference,
                    "school": schools.get(i.school_id, ""),
                    "started": i.created_at.date().isoformat(),
                    "ready_tasks": sorted(ready.get(i.id, [])),
                }
                for i in incidents
            ],
        }


def _sources(files: dict[str, str]) -> list[SourceFile]:
    return sources_of(files)


def _user_names(uow: Any) -> dict[int, str]:
    from services.db.models import User

    return {u.id: u.display_name for u in uow.session.scalars(select(User).limit(5000))}


def may_author(studio: Studio, actor_id: int) -> bool:
    """Whether the user may change processes (for showing buttons)."""
    with studio.deps.uow_factory() as uow:
        return "process_admin" in roles_anywhere(uow, actor_id)
