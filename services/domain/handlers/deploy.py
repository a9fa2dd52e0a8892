"""Deploy a bundle of BPMN/DMN files as a new, immutable version of its process."""

from __future__ import annotations

from sqlalchemy import select

from services.db import SqlAlchemyUnitOfWork
from services.db.models import DefinitionVersion, Membership, ProcessDefinition
from services.domain.access import can_deploy_definitions
from services.domain.commands import DeployDefinitions
from services.domain.dependencies import Dependencies
from services.domain.events import DefinitionDeployed
from services.domain.handlers.common import enforce, write_outbox
from services.domain.results import Deployed
from workflow.definition import load_definition


def deploy_definitions(command: DeployDefinitions, deps: Dependencies) -> Deployed:
    """Check the files (DefinitionInvalid lists every problem) and store them as a version.

    Deploying files identical to a deployed version returns that version and writes nothing.
    """
    now = deps.clock.now()
    with deps.uow_factory() as uow:
        if command.actor_id is not None:
            roles = _roles_anywhere(uow, command.actor_id)
            enforce(can_deploy_definitions(roles), "process definitions")
        # Parsing and linting run before anything is written; a bad bundle raises here.
        definition = load_definition(command.files)
        known = _version_with_digest(uow, definition.process_id, definition.digest)
        version = uow.definitions.deploy(
            definition.process_id,
            definition.name,
            definition.digest,
            definition.spec,
            command.files,
            deployed_by=command.actor_id,
        )
        result = Deployed(
            definition.process_id, version.version, version.id, version.digest, known is None
        )
        if known is not None:
            return result
        uow.audit.add(
            "definition.deployed",
            f"definition:{definition.process_id}:v{version.version}",
            actor_id=command.actor_id,
            new_values={
                "process_id": definition.process_id,
                "version": version.version,
                "digest": definition.digest,
                "files": [source.name for source in command.files],
            },
            occurred_at=now,
        )
        event = DefinitionDeployed(definition.process_id, version.version, definition.digest)
        write_outbox(uow, [event])
        uow.commit()
        return result


def _roles_anywhere(uow: SqlAlchemyUnitOfWork, user_id: int) -> frozenset[str]:
    query = select(Membership.role).where(Membership.user_id == user_id).distinct()
    return frozenset(uow.session.scalars(query))


def _version_with_digest(uow: SqlAlchemyUnitOfWork, process_id: str, digest: str) -> int | None:
    query = (
        select(DefinitionVersion.id)
        .join(ProcessDefinition)
        .where(ProcessDefinition.process_id == process_id, DefinitionVersion.digest == digest)
    )
    return uow.session.scalar(query)
