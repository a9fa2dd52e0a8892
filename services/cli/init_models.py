"""What `safeguard init` may deploy from bpmn/: everything on first install, nothing new later.

After the first install a changed model is a change of the process, and a change goes through
the studio's checks and a second process admin's approval (`safeguard process deploy`), so init
leaves the versions as they are and says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from services.db.models import DefinitionVersion, ProcessDefinition
from services.runtime import Runtime
from workflow.definition import load_definition
from workflow.model import SourceFile


@dataclass(frozen=True)
class HeldBack:
    """A bundle init did not deploy: its process and the latest version already there."""

    process_id: str
    latest: int
    files: tuple[str, ...]


def first_install(runtime: Runtime) -> bool:
    """Whether no process version was ever deployed to this database."""
    with runtime.unit_of_work() as uow:
        return not uow.session.scalar(select(func.count()).select_from(DefinitionVersion))


def held_back(runtime: Runtime, files: list[SourceFile]) -> HeldBack | None:
    """None when init may deploy the bundle (unchanged files are a no-op); else why not."""
    definition = load_definition(files)
    with runtime.unit_of_work() as uow:
        versions = select(DefinitionVersion.version, DefinitionVersion.digest).join(
            ProcessDefinition
        )
        rows = uow.session.execute(
            versions.where(ProcessDefinition.process_id == definition.process_id)
        ).all()
    if any(digest == definition.digest for _, digest in rows):
        return None
    latest = max((number for number, _ in rows), default=0)
    return HeldBack(definition.process_id, latest, tuple(f.name for f in files))
