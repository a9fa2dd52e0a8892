"""Drafts, their saves, releases and the version each school runs (the process studio's tables)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.db.models import (
    DefinitionVersion,
    DraftSave,
    Incident,
    ProcessDefinition,
    ProcessDraft,
    ProcessRelease,
    SchoolProcessVersion,
)

MAX_LISTED = 500
# Schools' scenarios of a process are kept, without a table of their own, as the files of one
# set-aside row of process_drafts per process (process_id "scenarios:<key>", never a draft:
# `draft` and `drafts` never return it). Each file is "<school id>/<name>.json"; its saves are
# the history of who changed them.
SCENARIO_HOLDER = "scenarios:"


class StudioRepository:
    """Queries and writes of the studio, in the caller's unit of work."""

    def __init__(self, session: Session) -> None:
        self._session = session

    # --- drafts ---------------------------------------------------------------------------

    def add_draft(self, draft: ProcessDraft) -> ProcessDraft:
        """Store a new draft (flushed, so it has its id)."""
        self._session.add(draft)
        self._session.flush()
        return draft

    def draft(self, draft_id: int, *, for_update: bool = False) -> ProcessDraft | None:
        """The draft with this id; locked for the rest of the transaction when for_update."""
        query = select(ProcessDraft).where(
            ProcessDraft.id == draft_id, ProcessDraft.process_id.not_like(f"{SCENARIO_HOLDER}%")
        )
        if for_update:
            query = query.with_for_update()
        return self._session.scalar(query)

    def drafts(self, process_id: str | None = None) -> list[ProcessDraft]:
        """Drafts not yet published or discarded, newest first."""
        query = select(ProcessDraft).where(ProcessDraft.state.in_(("draft", "approved")))
        if process_id is not None:
            query = query.where(ProcessDraft.process_id == process_id)
        return list(self._session.scalars(query.order_by(ProcessDraft.id.desc()).limit(MAX_LISTED)))

    def add_save(self, draft_id: int, revision: int, saved_by: int | None, summary: str) -> None:
        """Record who saved which revision of a draft."""
        self._session.add(
            DraftSave(draft_id=draft_id, revision=revision, saved_by=saved_by, summary=summary)
        )

    def saves(self, draft_id: int) -> list[DraftSave]:
        """Every save of a draft, oldest first."""
        query = select(DraftSave).where(DraftSave.draft_id == draft_id).order_by(DraftSave.revision)
        return list(self._session.scalars(query.limit(MAX_LISTED)))

    def authors(self, draft_id: int) -> set[int]:
        """Everyone who saved a revision of the draft (none of them may approve it)."""
        query = select(DraftSave.saved_by).where(DraftSave.draft_id == draft_id).distinct()
        return {user for user in self._session.scalars(query) if user is not None}

    # --- schools' scenarios ---------------------------------------------------------------

    def school_scenario_files(self, process_id: str) -> dict[str, str]:
        """The schools' scenario files of a process: "<school id>/<name>.json" -> JSON text."""
        holder = self.scenario_holder(process_id)
        return dict(holder.files) if holder is not None else {}

    def scenario_holder(self, process_id: str, *, for_update: bool = False) -> ProcessDraft | None:
        """The row holding the schools' scenarios of a process, if any school added one."""
        query = (
            select(ProcessDraft)
            .where(ProcessDraft.process_id == f"{SCENARIO_HOLDER}{process_id}")
            .order_by(ProcessDraft.id)
            .limit(1)
        )
        if for_update:
            query = query.with_for_update()
        return self._session.scalar(query)

    # --- versions -------------------------------------------------------------------------

    def processes(self) -> list[ProcessDefinition]:
        """Every deployed process."""
        query = select(ProcessDefinition).order_by(ProcessDefinition.process_id)
        return list(self._session.scalars(query.limit(MAX_LISTED)))

    def versions(self, process_id: str) -> list[DefinitionVersion]:
        """Every version of a process, newest first."""
        query = (
            select(DefinitionVersion)
            .join(ProcessDefinition)
            .where(ProcessDefinition.process_id == process_id)
            .order_by(DefinitionVersion.version.desc())
        )
        return list(self._session.scalars(query.limit(MAX_LISTED)))

    def version(self, process_id: str, number: int) -> DefinitionVersion | None:
        """Version `number` of a process."""
        query = (
            select(DefinitionVersion)
            .join(ProcessDefinition)
            .where(ProcessDefinition.process_id == process_id, DefinitionVersion.version == number)
        )
        return self._session.scalar(query)

    def release(self, version_id: int) -> ProcessRelease | None:
        """Who published a version and why (None for versions deployed by `safeguard init`)."""
        return self._session.get(ProcessRelease, version_id)

    def add_release(self, release: ProcessRelease) -> None:
        """Record a publication."""
        self._session.add(release)

    # --- which version each school runs ---------------------------------------------------

    def choices(self, process_id: str | None = None) -> list[SchoolProcessVersion]:
        """Every school's chosen version (of one process, or of all)."""
        query = select(SchoolProcessVersion)
        if process_id is not None:
            query = query.where(SchoolProcessVersion.process_id == process_id)
        return list(self._session.scalars(query.limit(10 * MAX_LISTED)))

    def choice(self, school_id: int, process_id: str) -> SchoolProcessVersion | None:
        """The version a school chose for a process, if it chose one."""
        return self._session.get(SchoolProcessVersion, (school_id, process_id))

    def choose(
        self, school_id: int, process_id: str, version_id: int, chosen_by: int | None
    ) -> SchoolProcessVersion:
        """Make `version_id` the version the school runs (insert or update its choice)."""
        row = self.choice(school_id, process_id)
        if row is None:
            row = SchoolProcessVersion(school_id=school_id, process_id=process_id)
            self._session.add(row)
        row.version_id = version_id
        row.chosen_by = chosen_by
        self._session.flush()
        return row

    def current_version_id(self, school_id: int, process_id: str) -> int | None:
        """The version new incidents of the school start on: its choice, else the latest."""
        chosen = self.choice(school_id, process_id)
        if chosen is not None:
            return chosen.version_id
        query = (
            select(DefinitionVersion.id)
            .join(ProcessDefinition)
            .where(ProcessDefinition.process_id == process_id)
            .order_by(DefinitionVersion.version.desc())
            .limit(1)
        )
        return self._session.scalar(query)

    def running_counts(self, version_ids: Sequence[int]) -> dict[int, int]:
        """Open incidents per version."""
        if not version_ids:
            return {}
        query = (
            select(Incident.definition_version_id, func.count())
            .where(Incident.definition_version_id.in_(version_ids), Incident.status == "open")
            .group_by(Incident.definition_version_id)
        )
        return {row[0]: row[1] for row in self._session.execute(query)}
