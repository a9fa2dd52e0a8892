"""What follows the child: adults named as parties, file transfers, retention (issue 11)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.db.column_types import UTCDateTime, big_id_type, utcnow
from services.db.models.base import Base, in_list
from services.db.models.cases import CaseAnswer
from services.db.models.incidents import HumanTask, Incident

CHILD_ROLES = ("pictured", "shared", "received", "disclosed")
TRANSFER_STATES = ("sent", "received")
TRANSFER_METHODS = ("in_app", "secure_email", "by_hand", "recorded_post", "other")
DEFAULT_RETENTION_YEARS = 25


class IncidentParty(Base):
    """An adult involved in an incident, kept in the case tables only (never a person row)."""

    __tablename__ = "incident_parties"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[str] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    description: Mapped[str] = mapped_column(String(200))  # e.g. "Adult, 19, not staff"
    kind: Mapped[str] = mapped_column(String(40))  # e.g. "adult", "staff", "parent"
    added_by: Mapped[int | None] = mapped_column(Integer)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class FileTransfer(Base):
    """A child protection file sent to another school: what, how, when, and its receipt.

    `due_at` is five school days after sending; the scheduler escalates a transfer still
    'sent' after it (escalated_at records that it did, once).
    """

    __tablename__ = "file_transfers"
    __table_args__ = (
        CheckConstraint(in_list("status", TRANSFER_STATES), name="status_known"),
        Index("ix_file_transfers_status_due_at", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id"), index=True)
    from_school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    to_school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id"))  # same trust
    to_school_name: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(20))
    what_sent: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_by: Mapped[int | None] = mapped_column(Integer)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(10), default="sent")
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    received_by: Mapped[str | None] = mapped_column(String(200))  # name and role at the new school
    receipt_recorded_by: Mapped[int | None] = mapped_column(Integer)
    received_child_id: Mapped[int | None] = mapped_column(Integer)  # the child at the new school
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class IncidentRetention(Base):
    """Retention decisions on one incident: a kept-until date and a legal hold."""

    __tablename__ = "incident_retention"

    incident_id: Mapped[str] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    review_date: Mapped[date | None] = mapped_column(Date)  # set by a "keep" decision
    keep_reason: Mapped[str | None] = mapped_column(Text)
    legal_hold_reason: Mapped[str | None] = mapped_column(Text)  # not null: hold in force
    updated_by: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RetentionPolicy(Base):
    """A school's retention rule: review records this many years after the youngest child's DOB."""

    __tablename__ = "retention_policies"

    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), primary_key=True)
    years_after_birth: Mapped[int] = mapped_column(Integer, default=DEFAULT_RETENTION_YEARS)


# Indexes the reports read through (migration 0012). SQLite keeps an incident's engine state
# inside its row, before created_at: without (id, school_id, created_at) every join to an
# incident would read its whole state to reach the date. The other two find one step's tasks
# and answers without scanning every task and answer.
Index(
    "ix_incidents_id_school_id_created_at",
    Incident.__table__.c.id,
    Incident.__table__.c.school_id,
    Incident.__table__.c.created_at,
)
Index(
    "ix_human_tasks_bpmn_id_incident_id_state",
    HumanTask.__table__.c.bpmn_id,
    HumanTask.__table__.c.incident_id,
    HumanTask.__table__.c.state,
)
Index(
    "ix_case_answers_bpmn_id_incident_id_id",
    CaseAnswer.__table__.c.bpmn_id,
    CaseAnswer.__table__.c.incident_id,
    CaseAnswer.__table__.c.id,
)


class IncidentReportRow(Base):
    """One incident as the reports count it: a narrow row, refreshed from the case tables.

    The dashboard counts these instead of reading incidents, tasks and answers (at 100,000
    incidents that is the difference between milliseconds and seconds). services.domain.
    reports.projection rebuilds an incident's row in the transaction that audits a change to
    it, and adds the rows of incidents that have none (bulk copies, older databases).
    """

    __tablename__ = "incident_report_rows"
    __table_args__ = (
        Index("ix_incident_report_rows_school_id_created_at", "school_id", "created_at"),
    )

    incident_id: Mapped[str] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    school_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    month: Mapped[str] = mapped_column(String(7))  # "2026-09", UTC
    status: Mapped[str] = mapped_column(String(10))
    route: Mapped[str] = mapped_column(String(20))  # referral, in_house, undecided
    criteria: Mapped[str] = mapped_column(String(1000), default="")  # ",adult_involved,"
    review_state: Mapped[str | None] = mapped_column(String(12))  # the initial review's task
    review_hours: Mapped[float | None] = mapped_column(Float)
    review_on_time: Mapped[bool | None] = mapped_column(Boolean)
    parents: Mapped[str | None] = mapped_column(String(16))  # informed, not_informed
    parents_reason: Mapped[bool] = mapped_column(Boolean, default=False)
    police_outcome: Mapped[str | None] = mapped_column(String(64))
    deletion: Mapped[str | None] = mapped_column(String(24))


class ReportProgress(Base):
    """How far a school's report rows had read the audit trail (no longer read or written).

    Rows are now kept in step in each writing transaction; the table stays until a migration
    drops it, so that downgrading past that change still finds it.
    """

    __tablename__ = "report_progress"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # the school's id
    last_audit_id: Mapped[int] = mapped_column(big_id_type(), default=0)
