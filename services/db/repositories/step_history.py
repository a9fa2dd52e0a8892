"""Completed steps an incident's pruned engine state no longer holds."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.db.models import StepRecord
from workflow.model import CompletedStep


class StepHistoryRepository:
    """Adds released steps in the command's transaction; reads them back per incident."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, incident_id: str, steps: Sequence[CompletedStep]) -> None:
        """Store steps the engine released (it releases each step once, when it drops it)."""
        # Added, not executed: the flush writes them after a new incident's own row.
        self.session.add_all(
            StepRecord(
                incident_id=incident_id,
                task_id=step.id,
                sequence=step.sequence or 0,
                bpmn_id=step.bpmn_id,
                name=step.name[:255],
                lane=step.lane,
                actor=step.actor,
                completed_at=step.completed_at,
                data=step.data,
            )
            for step in steps
        )

    def steps(self, incident_id: str) -> list[CompletedStep]:
        """The incident's stored steps in completion order (without forms: the spec has them)."""
        records = self.session.scalars(
            select(StepRecord)
            .where(StepRecord.incident_id == incident_id)
            .order_by(StepRecord.sequence)
        )
        return [
            CompletedStep(
                id=r.task_id,
                bpmn_id=r.bpmn_id,
                name=r.name,
                lane=r.lane,
                data=dict(r.data),
                completed_at=r.completed_at,
                actor=r.actor,
                sequence=r.sequence,
            )
            for r in records
        ]
