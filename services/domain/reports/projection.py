"""The report rows: one narrow row per incident, kept in step with the case tables on read.

Every change to an incident appends to the audit trail in the change's own transaction, so the
incidents whose audit events came after `report_progress.last_audit_id` are exactly those whose
rows may be stale; incidents with no row at all (made before this table, or written in bulk)
are added too (the last OVERLAP ids are read again, for transactions that were still open at
the previous refresh). A refresh rebuilds those rows from the case tables in batches and moves the
mark, in the transaction of the read that asked for it. Deleted incidents take their rows with
them (ON DELETE CASCADE).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Float, delete, func, insert, select
from sqlalchemy.orm import Session

from services.db.models import (
    AuditEvent,
    CaseAnswer,
    HumanTask,
    Incident,
    IncidentCaseFacts,
    IncidentReportRow,
    ReportProgress,
)

REVIEW_STEP = "initial_review"
PARENTS_STEP = "inform_parents_and_carers"
OUTCOME_STEP = "record_agency_outcome"
DELETION_STEP = "confirm_deletion"
BATCH = 500
OVERLAP = 200  # audit ids read again each refresh (see refresh)
PROGRESS_ID = 1


def refresh(session: Session, school_ids: Iterable[int]) -> int:
    """Bring the schools' report rows up to date; return how many were rebuilt."""
    schools = sorted(set(school_ids))
    marks = {
        mark.id: mark
        for mark in session.scalars(
            select(ReportProgress).where(ReportProgress.id.in_(schools)).with_for_update()
        )
    }
    for school_id in schools:
        if school_id not in marks:
            marks[school_id] = ReportProgress(id=school_id, last_audit_id=0)
            session.add(marks[school_id])
    newest = session.scalar(select(func.max(AuditEvent.id))) or 0
    # Read by the primary key from the lowest mark (after the first refresh, only the events
    # since the last one), OVERLAP ids further back: ids are taken before commit, so an event
    # with an id below the newest may become visible only after this read.
    low = max(0, min(mark.last_audit_id for mark in marks.values()) - OVERLAP)
    events = session.execute(
        select(AuditEvent.incident_id, AuditEvent.school_id, AuditEvent.id).where(
            AuditEvent.id > low, AuditEvent.id <= newest, AuditEvent.incident_id.is_not(None)
        )
    )
    moved = {
        str(incident_id)
        for incident_id, school_id, event_id in events
        if school_id is None
        or (school_id in marks and event_id > marks[school_id].last_audit_id - OVERLAP)
    }
    missing = (
        select(Incident.id)
        .outerjoin(IncidentReportRow, IncidentReportRow.incident_id == Incident.id)
        .where(Incident.school_id.in_(schools), IncidentReportRow.incident_id.is_(None))
    )
    todo = sorted(moved | set(session.scalars(missing)))
    for start in range(0, len(todo), BATCH):
        batch = todo[start : start + BATCH]
        session.execute(delete(IncidentReportRow).where(IncidentReportRow.incident_id.in_(batch)))
        rows = build_rows(session, batch)
        if rows:
            session.execute(insert(IncidentReportRow), rows)
    for mark in marks.values():
        mark.last_audit_id = newest
    return len(todo)


def _hours(dialect: str) -> ColumnElement[float]:
    if dialect == "postgresql":
        seconds = func.extract("epoch", HumanTask.completed_at - Incident.created_at)
        return (seconds / 3600.0).cast(Float)
    days = func.julianday(HumanTask.completed_at) - func.julianday(Incident.created_at)
    return (days * 24.0).cast(Float)


def build_rows(session: Session, incident_ids: list[str]) -> list[dict[str, Any]]:
    """The report rows of these incidents, from their facts, tasks and standing answers."""
    rows: dict[str, dict[str, Any]] = {}
    query = (
        select(
            Incident.id,
            Incident.school_id,
            Incident.created_at,
            Incident.status,
            IncidentCaseFacts.route,
            IncidentCaseFacts.referral_criteria,
        )
        .outerjoin(IncidentCaseFacts, IncidentCaseFacts.incident_id == Incident.id)
        .where(Incident.id.in_(incident_ids))
    )
    for incident_id, school_id, created_at, status, route, criteria in session.execute(query):
        rows[incident_id] = {
            "incident_id": incident_id,
            "school_id": school_id,
            "created_at": created_at,
            "month": created_at.strftime("%Y-%m"),
            "status": status,
            "route": route or "undecided",
            "criteria": criteria or "",
            "review_state": None,
            "review_hours": None,
            "review_on_time": None,
            "parents": None,
            "parents_reason": False,
            "police_outcome": None,
            "deletion": None,
        }
    _tasks(session, rows)
    _answers(session, rows)
    return list(rows.values())


def _tasks(session: Session, rows: dict[str, dict[str, Any]]) -> None:
    dialect = session.get_bind().dialect.name
    on_time = HumanTask.completed_at <= HumanTask.due_at
    query = (
        select(
            HumanTask.incident_id,
            HumanTask.bpmn_id,
            HumanTask.state,
            _hours(dialect),
            on_time,
        )
        .join(Incident, Incident.id == HumanTask.incident_id)
        .where(
            HumanTask.incident_id.in_(list(rows)),
            HumanTask.bpmn_id.in_((REVIEW_STEP, DELETION_STEP)),
        )
        .order_by(HumanTask.created_at)  # the latest task of a step counts
    )
    for incident_id, bpmn_id, state, hours, punctual in session.execute(query):
        row = rows[incident_id]
        if bpmn_id == REVIEW_STEP:
            done = state == "completed"
            row["review_state"] = state
            row["review_hours"] = float(hours) if done and hours is not None else None
            row["review_on_time"] = bool(punctual) if done and punctual is not None else None
        elif state == "cancelled":
            row["deletion"] = "deadline_passed"
        elif state == "ready":
            row["deletion"] = "waiting"
        else:
            row["deletion"] = None  # completed: the answer says how


def _answers(session: Session, rows: dict[str, dict[str, Any]]) -> None:
    latest = (
        select(func.max(CaseAnswer.id))
        .where(
            CaseAnswer.incident_id.in_(list(rows)),
            CaseAnswer.bpmn_id.in_((PARENTS_STEP, OUTCOME_STEP, DELETION_STEP)),
        )
        .group_by(CaseAnswer.incident_id, CaseAnswer.bpmn_id)
    )
    query = select(CaseAnswer.incident_id, CaseAnswer.bpmn_id, CaseAnswer.answers).where(
        CaseAnswer.id.in_(latest)
    )
    for incident_id, bpmn_id, answers in session.execute(query):
        row = rows[incident_id]
        if bpmn_id == PARENTS_STEP:
            inform = answers.get("inform_parents")
            if isinstance(inform, bool):
                row["parents"] = "informed" if inform else "not_informed"
            reason = answers.get("parents_not_informed_reason")
            row["parents_reason"] = (
                inform is False and isinstance(reason, str) and bool(reason.strip())
            )
        elif bpmn_id == OUTCOME_STEP:
            outcome = answers.get("police_outcome")
            row["police_outcome"] = (
                outcome if isinstance(outcome, str) and outcome else "not_recorded"
            )
        else:
            confirmed = answers.get("deletion_confirmed")
            if row["deletion"] is None and isinstance(confirmed, bool):
                row["deletion"] = "confirmed_by_deadline" if confirmed else "not_confirmed"


def now_month(moment: datetime) -> str:
    """A moment's UTC month, as the rows keep it."""
    return moment.strftime("%Y-%m")
