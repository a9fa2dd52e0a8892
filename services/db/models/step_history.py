"""Completed steps, kept here once the engine state no longer holds them.

The engine prunes finished work from an instance's state (workflow/spiff_prune.py); each
command hands back the steps it dropped, and the same transaction that saves the smaller
state writes them here. History readers merge these rows with the steps the state still
holds (services/domain/history_steps.py). The connections travelled stay in the state: there
are at most as many as the diagram has, however long the incident runs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from services.db.column_types import UTCDateTime, computed_text, json_type
from services.db.models.base import Base
from services.db.models.incidents import Incident


class StepRecord(Base):
    """One completed step (a person's answers, a decision's outputs) of an incident."""

    __tablename__ = "completed_steps"
    __table_args__ = (Index("ix_completed_steps_incident_id_sequence", "incident_id", "sequence"),)

    incident_id: Mapped[str] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True, info=computed_text("uuid")
    )
    # The engine's task id.
    task_id: Mapped[str] = mapped_column(String(64), primary_key=True, info=computed_text("uuid"))
    sequence: Mapped[int] = mapped_column(Integer)  # its place in the completion order
    bpmn_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    lane: Mapped[str] = mapped_column(String(50), default="")
    actor: Mapped[str | None] = mapped_column(String(64))
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    data: Mapped[dict[str, Any]] = mapped_column(json_type())

    # Declared so a flush writes the incident first (the unit of work orders by relationships).
    incident: Mapped[Incident] = relationship()
