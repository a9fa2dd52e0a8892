"""An incident's completed steps: those its engine state still holds and those stored apart.

The engine prunes finished work from the state; the command that pruned a step stored it in
`completed_steps` (services/domain/handlers/progress.py). Every history reader goes through
here, so incidents saved before pruning (whole history in the state) read the same as new ones.
"""

from __future__ import annotations

from services.db import SqlAlchemyUnitOfWork
from services.db.models import Incident
from services.db.repositories.step_history import StepHistoryRepository
from workflow import engine
from workflow.definition import Definition
from workflow.model import CompletedStep


def incident_steps(
    uow: SqlAlchemyUnitOfWork, definition: Definition, incident: Incident
) -> list[CompletedStep]:
    """The incident's completed steps in completion order, with their forms."""
    stored = StepHistoryRepository(uow.session).steps(incident.id)
    return engine.completed_steps(definition, incident.state, stored)
