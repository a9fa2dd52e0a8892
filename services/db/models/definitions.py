"""Deployed process definitions and their immutable versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, Mapper, mapped_column, relationship

from services.db.column_types import UTCDateTime, json_type, utcnow
from services.db.errors import ImmutableRecord
from services.db.models.base import Base


class ProcessDefinition(Base):
    """A process by its BPMN process id; its versions hold the content."""

    __tablename__ = "process_definitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(String(255))


class DefinitionVersion(Base):
    """One deployed version: written once, never updated (incidents keep pointing at it)."""

    __tablename__ = "definition_versions"
    __table_args__ = (
        UniqueConstraint("definition_id", "version"),
        UniqueConstraint("definition_id", "digest"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definitions.id"))
    version: Mapped[int]
    digest: Mapped[str] = mapped_column(String(64))
    spec: Mapped[str] = mapped_column(Text)
    # [{"name": "x.bpmn", "content": "<xml ...>"}]: only read when someone views the sources.
    sources: Mapped[list[dict[str, Any]]] = mapped_column(json_type(), deferred=True)
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    deployed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    definition: Mapped[ProcessDefinition] = relationship(lazy="joined")


@event.listens_for(DefinitionVersion, "before_update")
def _refuse_version_update(_mapper: Mapper[Any], _conn: Any, target: DefinitionVersion) -> None:
    raise ImmutableRecord(
        f"definition version {target.id} (version {target.version}) is immutable: "
        "deploy a new version instead of changing it"
    )
