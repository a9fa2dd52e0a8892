"""Scenarios a school adds in the studio: they run against every draft of their process.

A process admin of a school adds, replaces or removes the school's scenarios (audited);
process admins and auditors read them. They only warn (statutory: false); the statutory
scenarios and the process's own bpmn/scenarios/ cannot be replaced or removed here.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from services.db import SqlAlchemyUnitOfWork
from services.db.models import ProcessDraft, School
from services.db.repositories.studio import SCENARIO_HOLDER, StudioRepository
from services.domain.errors import AccessDenied, NotFound, RequestInvalid
from services.domain.studio.policy import require_reader, schools_where
from services.domain.studio.scenario_files import read_scenario
from services.domain.studio.scenarios import reserved_names, scenarios_for, statutory_scenarios
from workflow.scenario_check import Scenario, describe_expectation

if TYPE_CHECKING:  # drafts imports this module for the checks
    from services.domain.studio.drafts import Studio

MAX_PER_PROCESS = 200
MAX_KEY = 255 - len(SCENARIO_HOLDER)


def school_scenarios(uow: SqlAlchemyUnitOfWork, process_id: str) -> list[Scenario]:
    """The schools' scenarios of a process, named "<school slug>/<name>", as the checks run them."""
    files = StudioRepository(uow.session).school_scenario_files(process_id)
    if not files:
        return []
    slugs = _school_slugs(uow)
    found = []
    for path, text in sorted(files.items()):
        school_id, name = _split(path)
        body = json.loads(text)
        found.append(Scenario(f"{slugs.get(school_id, str(school_id))}/{name}", False, body))
    return found


def list_scenarios(studio: Studio, actor_id: int, process_id: str) -> dict[str, Any]:
    """The scenarios every draft of the process runs: statutory, the process's own, schools'."""
    with studio.deps.uow_factory() as uow:
        require_reader(uow, actor_id)
        files = StudioRepository(uow.session).school_scenario_files(process_id)
        schools = {s.id: s for s in uow.session.scalars(select(School).limit(5000))}
        admin_of = set(schools_where(uow, actor_id, "process_admin"))
    own = [s for s in scenarios_for(process_id, studio.local_dir) if not s.statutory]
    school = []
    for path, text in sorted(files.items()):
        school_id, name = _split(path)
        body = json.loads(text)
        known = schools.get(school_id)
        school.append(
            {
                "school_id": school_id,
                "school": known.name if known else "",
                "name": name,
                "runs_as": f"{known.slug if known else school_id}/{name}",
                "title": body.get("title", ""),
                "expected": describe_expectation(body.get("expect") or {}),
                "content": text,
                "statutory": False,
                "may_change": school_id in admin_of,
            }
        )
    return {
        "process_key": process_id,
        "statutory": [_summary(s) for s in statutory_scenarios()],
        "process": [_summary(s) for s in own],
        "school": school,
    }


def put_scenario(
    studio: Studio, actor_id: int, school_id: int, process_id: str, name: str, text: object
) -> bool:
    """Add or replace one of the school's scenarios; True when it is new. Refusals are located."""
    if len(process_id) > MAX_KEY:
        raise RequestInvalid(f"process key longer than {MAX_KEY} characters")
    _not_shipped(studio, name, "replaced")
    read_scenario(name, text, process_id)
    assert isinstance(text, str)  # read_scenario refuses anything else
    content = text
    now = studio.deps.clock.now()
    with studio.deps.uow_factory() as uow:
        _require_admin_of(uow, actor_id, school_id)
        repo = StudioRepository(uow.session)
        if uow.definitions.latest(process_id) is None:
            raise NotFound(f"process {process_id!r} is not deployed")
        holder = repo.scenario_holder(process_id, for_update=True) or _new_holder(
            repo, process_id, actor_id, now
        )
        files = dict(holder.files)
        path = f"{school_id}/{name}.json"
        old = files.get(path)
        if old is None and len(files) >= MAX_PER_PROCESS:
            raise RequestInvalid(f"a process may have at most {MAX_PER_PROCESS} school scenarios")
        files[path] = content
        _saved(repo, holder, files, actor_id, now, f"school {school_id}: {name} saved")
        uow.audit.add(
            "studio.scenario_added" if old is None else "studio.scenario_replaced",
            f"scenario:{process_id}:{school_id}:{name}",
            actor_id=actor_id,
            school_id=school_id,
            old_values=_fingerprint(old) if old is not None else None,
            new_values=_fingerprint(content),
            occurred_at=now,
        )
        uow.commit()
        return old is None


def remove_scenario(
    studio: Studio, actor_id: int, school_id: int, process_id: str, name: str
) -> None:
    """Remove one of the school's scenarios (audited); statutory ones are never removed."""
    _not_shipped(studio, name, "removed")
    now = studio.deps.clock.now()
    with studio.deps.uow_factory() as uow:
        _require_admin_of(uow, actor_id, school_id)
        repo = StudioRepository(uow.session)
        holder = repo.scenario_holder(process_id, for_update=True)
        path = f"{school_id}/{name}.json"
        if holder is None or path not in holder.files:
            raise NotFound(f"school {school_id} has no scenario {name!r} for {process_id!r}")
        files = dict(holder.files)
        old = files.pop(path)
        _saved(repo, holder, files, actor_id, now, f"school {school_id}: {name} removed")
        uow.audit.add(
            "studio.scenario_removed",
            f"scenario:{process_id}:{school_id}:{name}",
            actor_id=actor_id,
            school_id=school_id,
            old_values=_fingerprint(old),
            occurred_at=now,
        )
        uow.commit()


def _not_shipped(studio: Studio, name: str, what: str) -> None:
    if name in {s.name for s in statutory_scenarios()}:
        raise AccessDenied(
            f"{name!r} is a statutory scenario: the guidance's routes are checked on every "
            f"draft and cannot be {what} by a school"
        )
    if name in reserved_names(studio.local_dir):
        raise AccessDenied(
            f"{name!r} is one of the process's own scenarios (bpmn/scenarios/): it cannot be "
            f"{what} in the studio; give your scenario another name"
        )


def _require_admin_of(uow: SqlAlchemyUnitOfWork, actor_id: int, school_id: int) -> None:
    if school_id in schools_where(uow, actor_id, "process_admin"):
        return
    if uow.schools.get(school_id) is None:
        raise NotFound(f"school {school_id} not found")
    raise AccessDenied(f"only a process admin of school {school_id} changes its scenarios")


def _new_holder(repo: StudioRepository, process_id: str, actor_id: int, now: Any) -> ProcessDraft:
    return repo.add_draft(
        ProcessDraft(
            process_id=f"{SCENARIO_HOLDER}{process_id}",
            files={},
            note=f"the schools' scenarios of {process_id} (not a draft)",
            revision=0,
            state="discarded",
            created_by=actor_id,
            created_at=now,
            updated_by=actor_id,
            updated_at=now,
        )
    )


def _saved(
    repo: StudioRepository,
    holder: ProcessDraft,
    files: dict[str, str],
    actor_id: int,
    now: Any,
    summary: str,
) -> None:
    holder.files = files
    holder.revision += 1
    holder.updated_by = actor_id
    holder.updated_at = now
    repo.add_save(holder.id, holder.revision, actor_id, summary)


def _fingerprint(content: str) -> dict[str, Any]:
    body = json.loads(content)
    return {
        "sha256": hashlib.sha256(content.encode("utf-8")).hexdigest(),
        "bytes": len(content.encode("utf-8")),
        "expected": describe_expectation(body.get("expect") or {}),
    }


def _summary(scenario: Scenario) -> dict[str, Any]:
    return {
        "name": scenario.name,
        "title": scenario.body.get("title", ""),
        "statutory": scenario.statutory,
        "expected": describe_expectation(scenario.body.get("expect") or {}),
    }


def _school_slugs(uow: SqlAlchemyUnitOfWork) -> dict[int, str]:
    return {s.id: s.slug for s in uow.session.scalars(select(School).limit(5000))}


def _split(path: str) -> tuple[int, str]:
    school, _, file = path.partition("/")
    return int(school), file.removesuffix(".json")
