"""Incidents (one run of a process), their human tasks, exclusions and the children involved."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from services.db.column_types import UTCDateTime, computed_text, utcnow
from services.db.models.base import Base, in_list

INCIDENT_STATUSES = ("open", "closed", "failed")
TASK_STATES = ("ready", "completed", "cancelled")


def new_incident_id() -> str:
    """Return a fresh incident id: a UUID4 as its 36-character string."""
    return str(uuid.uuid4())


class Incident(Base):
    """One incident: the engine state of its process run, guarded by an optimistic version."""

    __tablename__ = "incidents"
    __table_args__ = (
        UniqueConstraint("school_id", "reference"),
        CheckConstraint(in_list("status", INCIDENT_STATUSES), name="status_known"),
        Index("ix_incidents_school_id_status_created_at", "school_id", "status", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_incident_id)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    definition_version_id: Mapped[int] = mapped_column(ForeignKey("definition_versions.id"))
    reference: Mapped[str] = mapped_column(String(32))  # e.g. "DS-2026-0001", unique per school
    status: Mapped[str] = mapped_column(String(10), default="open")
    # The serialized engine state (~10-30 KB): deferred so lists and inboxes never load it.
    state: Mapped[str] = mapped_column(Text, deferred=True)
    version_id: Mapped[int] = mapped_column(Integer)
    next_timer_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # Every UPDATE checks and bumps version_id: a stale writer matches no row (StaleDataError).
    __mapper_args__ = {"version_id_col": version_id}  # noqa: RUF012


class HumanTask(Base):
    """A user task of an incident, as the inbox sees it; the id is the engine's task id."""

    __tablename__ = "human_tasks"
    __table_args__ = (
        CheckConstraint(in_list("state", TASK_STATES), name="state_known"),
        # The inbox: one school's ready tasks for a set of roles, most overdue first. Partial
        # (ready tasks only), so it stays as small as the open work however many incidents
        # have closed; school first, so one school's inbox never reads another's rows.
        Index(
            "ix_human_tasks_school_ready",
            "school_id",
            "role",
            "due_at",
            "created_at",
            sqlite_where=text("state = 'ready'"),
            postgresql_where=text("state = 'ready'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True, info=computed_text("uuid"))
    incident_id: Mapped[str] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True, info=computed_text("uuid")
    )
    # The incident's school, kept on the task so the inbox needs no walk through incidents.
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    bpmn_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(50))  # the lane that owns the task
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(12), default="ready")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    incident: Mapped[Incident] = relationship()


class IncidentExclusion(Base):
    """A named person kept out of one incident (they never see it, even with the right role)."""

    __tablename__ = "incident_exclusions"
    __table_args__ = (UniqueConstraint("incident_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Child(Base):
    """A child known to a school; date of birth drives retention (DOB + 25 years).

    A child named by the person reporting stays unconfirmed until a DSL confirms them or
    merges them into a child the school already knows (merged_into_id then points there).
    """

    __tablename__ = "children"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    display_name: Mapped[str] = mapped_column(String(200))
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    year_group: Mapped[str | None] = mapped_column(String(20))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    merged_into_id: Mapped[int | None] = mapped_column(Integer)  # a child id (kept on purpose)
    created_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class IncidentChild(Base):
    """How a child is involved in an incident ('pictured', 'shared', 'received', 'disclosed')."""

    __tablename__ = "incident_children"

    incident_id: Mapped[str] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    # Indexed for a child's chronology across incidents.
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id"), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(20), primary_key=True)
    added_by: Mapped[int | None] = mapped_column(Integer)
    added_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
