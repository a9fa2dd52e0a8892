"""Case history tables: the facts list filters need, and the answers of every completion.

`incident_case_facts` mirrors, one row per incident, what the process decided (route,
immediate referral and the criteria that held, classification) so the incidents list can
filter without loading engine state. `case_answers` keeps the answers of each completion and
each correction (never updated, never deleted while the incident lives): the field-level
history and the free-text search read it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from services.db.column_types import UTCDateTime, big_id_type, computed_text, json_type, utcnow
from services.db.models.base import Base, in_list
from services.db.models.incidents import Incident

ANSWER_KINDS = ("completion", "correction")


class IncidentCaseFacts(Base):
    """What the process has decided about one incident, for lists and filters."""

    __tablename__ = "incident_case_facts"
    __table_args__ = (
        Index("ix_incident_case_facts_school_id_route", "school_id", "route"),
        Index("ix_incident_case_facts_school_id_immediate", "school_id", "immediate_referral"),
    )

    incident_id: Mapped[str] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    school_id: Mapped[int] = mapped_column(Integer)
    route: Mapped[str | None] = mapped_column(String(20))  # "referral", "in_house" or None
    immediate_referral: Mapped[bool | None] = mapped_column(Boolean)
    # The criteria that held, as ",adult_involved,coercion_or_grooming," (LIKE '%,id,%').
    referral_criteria: Mapped[str] = mapped_column(String(1000), default="")
    classification: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    # Declared so a flush writes the incident first (the unit of work orders by relationships).
    incident: Mapped[Incident] = relationship()


class CaseAnswer(Base):
    """The answers one completion (or one correction) gave, kept per completion."""

    __tablename__ = "case_answers"
    __table_args__ = (
        CheckConstraint(in_list("kind", ANSWER_KINDS), name="kind_known"),
        Index("ix_case_answers_incident_id_id", "incident_id", "id"),
    )

    id: Mapped[int] = mapped_column(big_id_type(), primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), info=computed_text("uuid")
    )
    task_id: Mapped[str] = mapped_column(String(64), info=computed_text("uuid"))
    bpmn_id: Mapped[str] = mapped_column(String(255))
    lane: Mapped[str] = mapped_column(String(50), default="")
    kind: Mapped[str] = mapped_column(String(12), default="completion")
    actor_id: Mapped[int | None] = mapped_column(Integer)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    answers: Mapped[dict[str, Any]] = mapped_column(json_type())
    previous: Mapped[dict[str, Any] | None] = mapped_column(json_type(nullable=True))
    reason: Mapped[str | None] = mapped_column(Text)
    # Lower-cased text of the answers, for free-text search (never shown as it is).
    search_text: Mapped[str] = mapped_column(Text, default="")

    incident: Mapped[Incident] = relationship()


# The incidents list pages a school's incidents by when they were reported or closed; the
# incidents table's own (school, status, created_at) index serves only a status filter.
Index("ix_incidents_school_id_created_at", Incident.school_id, Incident.created_at)
Index("ix_incidents_school_id_closed_at", Incident.school_id, Incident.closed_at)
