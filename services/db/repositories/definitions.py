"""Deployed process definitions: versions are added, found and listed, never updated."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.db.models import DefinitionVersion, ProcessDefinition
from services.db.repositories.paging import check_page
from workflow.model import SourceFile


class DefinitionRepository:
    """Process definitions and their immutable versions."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def deploy(
        self,
        process_id: str,
        name: str,
        digest: str,
        spec: str,
        sources: Sequence[SourceFile],
        deployed_by: int | None = None,
    ) -> DefinitionVersion:
        """Store a new version of a process, or return the version that has this digest."""
        definition = self._definition(process_id, name)
        existing = self._session.scalar(
            select(DefinitionVersion).where(
                DefinitionVersion.definition_id == definition.id,
                DefinitionVersion.digest == digest,
            )
        )
        if existing is not None:
            return existing
        latest = self._session.scalar(
            select(func.max(DefinitionVersion.version)).where(
                DefinitionVersion.definition_id == definition.id
            )
        )
        version = DefinitionVersion(
            definition_id=definition.id,
            version=(latest or 0) + 1,
            digest=digest,
            spec=spec,
            sources=[_source_json(source) for source in sources],
            deployed_by=deployed_by,
        )
        self._session.add(version)
        self._session.flush()
        return version

    def get_version(self, version_id: int) -> DefinitionVersion | None:
        """Return the definition version with this id, if any."""
        return self._session.get(DefinitionVersion, version_id)

    def latest(self, process_id: str) -> DefinitionVersion | None:
        """Return the highest version of a process, if it was ever deployed."""
        query = (
            select(DefinitionVersion)
            .join(ProcessDefinition)
            .where(ProcessDefinition.process_id == process_id)
            .order_by(DefinitionVersion.version.desc())
            .limit(1)
        )
        return self._session.scalar(query)

    def list_versions(
        self, process_id: str, limit: int, offset: int = 0
    ) -> list[DefinitionVersion]:
        """Return one page of a process's versions, newest first."""
        check_page(limit, offset)
        query = (
            select(DefinitionVersion)
            .join(ProcessDefinition)
            .where(ProcessDefinition.process_id == process_id)
            .order_by(DefinitionVersion.version.desc())
            .limit(limit)
            .offset(offset)
        )
        return list(self._session.scalars(query))

    def _definition(self, process_id: str, name: str) -> ProcessDefinition:
        definition = self._session.scalar(
            select(ProcessDefinition).where(ProcessDefinition.process_id == process_id)
        )
        if definition is None:
            definition = ProcessDefinition(process_id=process_id, name=name)
            self._session.add(definition)
            self._session.flush()
        elif definition.name != name:
            definition.name = name  # the display name follows the latest deployment
        return definition


def _source_json(source: SourceFile) -> dict[str, str]:
    try:
        content = source.content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{source.name}: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from exc
    return {"name": source.name, "content": content}
