"""Deploy a bundle of BPMN/DMN files as a new, immutable version of its process."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from services.db import SqlAlchemyUnitOfWork
from services.db.models import DefinitionVersion, Membership, ProcessDefinition
from services.domain.access import can_deploy_definitions
from services.domain.commands import DeployDefinitions
from services.domain.dependencies import Dependencies
from services.domain.events import DefinitionDeployed
from services.domain.handlers.common import enforce, write_outbox
from services.domain.results import Deployed
from services.domain.studio.policy import TASK_ROLES
from services.domain.studio.scenarios import scenarios_for
from workflow.definition import load_definition
from workflow.draft_check import check_draft
from workflow.errors import DefinitionInvalid, DiagramProblem

NO_LOCAL_DIR = Path("/nonexistent")  # only the statutory scenarios gate a command-line deploy


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
        if known is None and uow.definitions.latest(definition.process_id) is not None:
            # A later deploy of changed files: the statutory scenarios must still pass
            # (the studio and `safeguard process deploy` add four eyes on top).
            _statutory_gate(definition.process_id, command, deps)
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


def _statutory_gate(process_id: str, command: DeployDefinitions, deps: Dependencies) -> None:
    scenarios = [s for s in scenarios_for(process_id, NO_LOCAL_DIR) if s.statutory]
    check, _ = check_draft(command.files, scenarios, TASK_ROLES, deps.calendar)
    failed = [s for s in check.scenarios if not s.passed]
    bpmn = next((f.name for f in command.files if f.name.endswith(".bpmn")), "")
    problems = list(check.problems) + [
        DiagramProblem(
            bpmn,
            None,
            s.element_ids[0] if s.element_ids else "",
            f"statutory scenario {s.name!r} failed: expected {s.expected}; the files took "
            f"{s.taken} ({s.message})",
        )
        for s in failed
    ]
    if problems:
        raise DefinitionInvalid(problems)


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
