"""Drafts: create, save (optimistically), approve (four eyes) and publish as a new version.

Checks run before the transaction opens (they take a second or two on the default process),
so no database lock is held while scenarios run; the revision check inside the transaction
catches anyone who saved meanwhile.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.db import SqlAlchemyUnitOfWork
from services.db.models import ProcessDraft, ProcessRelease, School
from services.db.repositories.studio import StudioRepository
from services.domain.dependencies import Dependencies
from services.domain.errors import AccessDenied, Conflict, NotFound, RequestInvalid
from services.domain.events import DefinitionDeployed
from services.domain.handlers.common import write_outbox
from services.domain.studio.checks import (
    Checked,
    accept_files,
    failures_in_words,
    run_checks,
    sources_of,
)
from services.domain.studio.errors import ChecksFailed, DraftConflict, NotApproved
from services.domain.studio.policy import require_author, require_draft_scope, schools_where
from services.domain.studio.school_scenarios import school_scenarios
from workflow.definition import load_definition
from workflow.process_diff import diff_files

MAX_NOTE = 2000
DIFF_LINES_IN_AUDIT = 200


@dataclass(frozen=True)
class Studio:
    """What the studio's use cases need: the handlers' ports and the process's scenario folder."""

    deps: Dependencies
    local_dir: Path  # the deployed bpmn/ folder: its scenarios/ are the process's own


def _note(note: object) -> str:
    if note is not None and not isinstance(note, str):
        raise RequestInvalid("the note must be text")
    text = (note or "").strip()
    if len(text) > MAX_NOTE:
        raise RequestInvalid(f"the note is {len(text)} characters; at most {MAX_NOTE}")
    if "\x00" in text:
        raise RequestInvalid("the note must not contain a NUL character")
    return text


def _check(studio: Studio, files: Mapping[str, str], process_id: str) -> Checked:
    with studio.deps.uow_factory() as uow:
        school = school_scenarios(uow, process_id)
    return run_checks(files, process_id, studio.local_dir, studio.deps.calendar, school)


def create_draft(
    studio: Studio,
    actor_id: int,
    process_id: str,
    files: Mapping[str, object],
    note: str | None,
) -> int:
    """A new draft of `process_id` from uploaded files; hostile files are refused (422)."""
    with studio.deps.uow_factory() as uow:
        require_author(uow, actor_id)
    accepted = accept_files(files)
    text = _note(note)
    checked = _check(studio, accepted, process_id)
    if checked.process_id and checked.process_id != process_id:
        raise RequestInvalid(
            f"the diagram's executable process is {checked.process_id!r}, not {process_id!r}: "
            "upload it as a draft of that process"
        )
    now = studio.deps.clock.now()
    with studio.deps.uow_factory() as uow:
        repo = StudioRepository(uow.session)
        base = uow.definitions.latest(process_id)
        draft = repo.add_draft(
            ProcessDraft(
                process_id=process_id,
                base_version_id=base.id if base else None,
                files=dict(accepted),
                note=text,
                revision=1,
                state="draft",
                checks=checked.result,
                checked_revision=1,
                created_by=actor_id,
                created_at=now,
                updated_by=actor_id,
                updated_at=now,
            )
        )
        repo.add_save(
            draft.id, 1, actor_id, "created" + (f" from version {base.version}" if base else "")
        )
        uow.audit.add(
            "studio.draft_created",
            f"draft:{draft.id}",
            actor_id=actor_id,
            new_values={"process_id": process_id, "files": sorted(accepted), "note": text},
            occurred_at=now,
        )
        uow.commit()
        return draft.id


def save_draft(
    studio: Studio,
    actor_id: int,
    draft_id: int,
    files: Mapping[str, object],
    expected_revision: int,
    note: str | None = None,
) -> int:
    """Save new files over revision `expected_revision`; DraftConflict if someone saved since.

    Saving voids an approval. Unchanged files save nothing. Returns the new revision.
    """
    with studio.deps.uow_factory() as uow:
        require_author(uow, actor_id)
        current = _draft_or_404(StudioRepository(uow.session), draft_id)
        require_draft_scope(uow, actor_id, current, "change")
        process_id = current.process_id
    accepted = accept_files(files)
    checked = _check(studio, accepted, process_id)
    now = studio.deps.clock.now()
    with studio.deps.uow_factory() as uow:
        repo = StudioRepository(uow.session)
        draft = _draft_or_404(repo, draft_id, for_update=True)
        _editable(draft)
        if draft.revision != expected_revision:
            raise _conflict(uow, draft, expected_revision)
        text = draft.note if note is None else _note(note)
        if dict(draft.files) == dict(accepted) and text == draft.note:
            return draft.revision
        changes = diff_files(sources_of(draft.files), sources_of(accepted))
        summary = "; ".join(c.text for c in changes[:5]) or "no change to the model"
        if len(changes) > 5:
            summary += f"; and {len(changes) - 5} more"
        if draft.state == "approved":
            uow.audit.add(
                "studio.approval_voided",
                f"draft:{draft.id}",
                actor_id=actor_id,
                old_values={"approved_by": draft.approved_by, "revision": draft.revision},
                occurred_at=now,
            )
        draft.state = "draft"
        draft.approved_by = None
        draft.approved_at = None
        draft.approved_revision = None
        draft.revision += 1
        draft.files = dict(accepted)
        draft.note = text
        draft.checks = checked.result
        draft.checked_revision = draft.revision
        draft.updated_by = actor_id
        draft.updated_at = now
        repo.add_save(draft.id, draft.revision, actor_id, summary[:4000])
        uow.audit.add(
            "studio.draft_saved",
            f"draft:{draft.id}",
            actor_id=actor_id,
            new_values={"revision": draft.revision, "changes": [c.text for c in changes][:50]},
            occurred_at=now,
        )
        uow.commit()
        return draft.revision


def approve_draft(
    studio: Studio, actor_id: int, draft_id: int, expected_revision: int | None = None
) -> None:
    """A second process admin approves a draft whose checks pass (they run again here)."""
    with studio.deps.uow_factory() as uow:
        require_author(uow, actor_id)
        repo = StudioRepository(uow.session)
        draft = _draft_or_404(repo, draft_id)
        _four_eyes(uow, repo, draft, actor_id)
        require_draft_scope(uow, actor_id, draft, "approve")
        files, revision, process_id = dict(draft.files), draft.revision, draft.process_id
    checked = _check(studio, files, process_id)
    now = studio.deps.clock.now()
    with studio.deps.uow_factory() as uow:
        repo = StudioRepository(uow.session)
        draft = _draft_or_404(repo, draft_id, for_update=True)
        _editable(draft)
        stale = expected_revision is not None and expected_revision != draft.revision
        if draft.revision != revision or stale:
            raise _conflict(uow, draft, expected_revision or revision)
        draft.checks = checked.result
        draft.checked_revision = draft.revision
        if not checked.result["passed"]:
            uow.commit()  # keep the fresh checks, so the page shows why
            raise ChecksFailed(
                f"draft {draft_id} cannot be approved: {failures_in_words(checked.result)}",
                checked.result,
            )
        changes = _changes_from_base(uow, draft)
        draft.state = "approved"
        draft.approved_by = actor_id
        draft.approved_at = now
        draft.approved_revision = draft.revision
        uow.audit.add(
            "studio.draft_approved",
            f"draft:{draft.id}",
            actor_id=actor_id,
            new_values={"revision": draft.revision, "diff": changes[:DIFF_LINES_IN_AUDIT]},
            occurred_at=now,
        )
        uow.commit()


def publish_draft(
    studio: Studio,
    actor_id: int,
    draft_id: int,
    note: str | None,
    school_ids: Sequence[int] | None = None,
) -> int:
    """Publish an approved draft as a new immutable version; returns its number.

    Schools that had not chosen a version keep the one they ran (nothing changes under them
    silently); the schools named (by default those where the publisher is a process admin)
    start new incidents on the new version.
    """
    now = studio.deps.clock.now()
    with studio.deps.uow_factory() as uow:
        require_author(uow, actor_id)
        repo = StudioRepository(uow.session)
        draft = _draft_or_404(repo, draft_id, for_update=True)
        require_draft_scope(uow, actor_id, draft, "publish")
        if draft.state != "approved" or draft.approved_revision != draft.revision:
            raise NotApproved(
                f"draft {draft_id} is not approved (state: {draft.state}): a second process "
                "admin approves it first, and any change after approval needs approving again"
            )
        text = _note(note) or draft.note
        if not text:
            raise RequestInvalid("give a change note: what changed and why")
        definition = load_definition(sources_of(draft.files))
        previous = uow.definitions.latest(definition.process_id)
        version = uow.definitions.deploy(
            definition.process_id,
            definition.name,
            definition.digest,
            definition.spec,
            list(sources_of(draft.files)),
            deployed_by=actor_id,
        )
        if repo.release(version.id) is None:
            repo.add_release(
                ProcessRelease(
                    version_id=version.id,
                    draft_id=draft.id,
                    note=text,
                    author_id=draft.created_by,
                    approved_by=draft.approved_by,
                    published_by=actor_id,
                    published_at=now,
                )
            )
        if previous is not None and previous.id != version.id:
            _keep_schools_on(uow, repo, definition.process_id, previous.id)
        targets = (
            list(school_ids)
            if school_ids is not None
            else schools_where(uow, actor_id, "process_admin")
        )
        allowed = set(schools_where(uow, actor_id, "process_admin"))
        for school_id in targets:
            if school_id not in allowed:
                raise AccessDenied(f"you are not a process admin of school {school_id}")
            repo.choose(school_id, definition.process_id, version.id, actor_id)
        changes = _changes_from_base(uow, draft)
        draft.state = "published"
        draft.published_version_id = version.id
        uow.audit.add(
            "studio.version_published",
            f"definition:{definition.process_id}:v{version.version}",
            actor_id=actor_id,
            new_values={
                "draft": draft.id,
                "version": version.version,
                "note": text,
                "approved_by": draft.approved_by,
                "schools": targets,
                "diff": changes[:DIFF_LINES_IN_AUDIT],
            },
            occurred_at=now,
        )
        write_outbox(
            uow, [DefinitionDeployed(definition.process_id, version.version, definition.digest)]
        )
        uow.commit()
        return version.version


def discard_draft(studio: Studio, actor_id: int, draft_id: int) -> None:
    """Set a draft aside (kept, never deleted)."""
    with studio.deps.uow_factory() as uow:
        require_author(uow, actor_id)
        draft = _draft_or_404(StudioRepository(uow.session), draft_id, for_update=True)
        require_draft_scope(uow, actor_id, draft, "discard")
        _editable(draft)
        draft.state = "discarded"
        uow.audit.add("studio.draft_discarded", f"draft:{draft.id}", actor_id=actor_id)
        uow.commit()


def _keep_schools_on(
    uow: SqlAlchemyUnitOfWork, repo: StudioRepository, process_id: str, version_id: int
) -> None:
    """Pin every school without a choice to the version it ran until now."""
    chosen = {c.school_id for c in repo.choices(process_id)}
    for school in uow.session.query(School).all():
        if school.id not in chosen:
            repo.choose(school.id, process_id, version_id, None)


def _changes_from_base(uow: SqlAlchemyUnitOfWork, draft: ProcessDraft) -> list[str]:
    base = uow.definitions.get_version(draft.base_version_id) if draft.base_version_id else None
    old = sources_of({s["name"]: s["content"] for s in base.sources}) if base else []
    return [c.text for c in diff_files(old, sources_of(draft.files))]


def _draft_or_404(
    repo: StudioRepository, draft_id: int, *, for_update: bool = False
) -> ProcessDraft:
    draft = repo.draft(draft_id, for_update=for_update)
    if draft is None:
        raise NotFound(f"draft {draft_id} not found")
    return draft


def _editable(draft: ProcessDraft) -> None:
    if draft.state in ("published", "discarded"):
        raise Conflict(f"draft {draft.id} is {draft.state}: start a new draft from a version")


def _four_eyes(
    uow: SqlAlchemyUnitOfWork, repo: StudioRepository, draft: ProcessDraft, actor_id: int
) -> None:
    authors = repo.authors(draft.id) | ({draft.created_by} if draft.created_by else set())
    if actor_id in authors:
        raise AccessDenied(
            f"you changed draft {draft.id}, so you cannot approve it: another process admin "
            "must approve it (four eyes)"
        )
    # A second account on the same mailbox (Ann@x and ann+2@x) is the same person.
    approver = uow.users.get(actor_id)
    mailboxes = {_mailbox(u.email) for u in map(uow.users.get, authors) if u is not None}
    if approver is not None and _mailbox(approver.email) in mailboxes:
        raise AccessDenied(
            f"draft {draft.id} was changed from an account on your mailbox "
            f"({_mailbox(approver.email)}): another person must approve it (four eyes)"
        )


def _mailbox(email: str) -> str:
    """The mailbox an address delivers to: case and a '+tag' ignored."""
    local, _, domain = email.strip().lower().rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain}"


def _conflict(uow: SqlAlchemyUnitOfWork, draft: ProcessDraft, yours: int) -> DraftConflict:
    saver = uow.users.get(draft.updated_by) if draft.updated_by else None
    name = saver.display_name if saver else "someone"
    theirs: dict[str, Any] = {
        "revision": draft.revision,
        "saved_by": name,
        "saved_at": draft.updated_at.isoformat(),
        "files": dict(draft.files),
    }
    return DraftConflict(
        f"draft {draft.id} was saved by {name} at {draft.updated_at:%H:%M:%S} (revision "
        f"{draft.revision}) after you loaded revision {yours}: nothing of yours was saved; "
        "compare both and save again on top of theirs",
        theirs,
        yours,
    )
