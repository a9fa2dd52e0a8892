"""The report rows: one narrow row per incident, written in the transaction that changes it.

Every change to an incident appends an audit event naming it in the change's own transaction.
`install()` listens on every Session: the incidents named by the audit events a transaction
flushes (audited reads aside: viewed, listed, exported) have their rows rebuilt from the case
tables just before it commits, by upsert, so two transactions touching one incident never
collide. So the rows never lag the case tables and no read has to catch up on changes.
Deleted incidents take their rows with them (ON DELETE CASCADE). Incidents written without an
audit event of their own (copied in bulk, or made before the table existed) have no row:
`add_missing` adds them, and tells there are none from two index-only counts, so a read pays
almost nothing for asking.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Float, Select, bindparam, delete, event, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from services.db.audit_chaining import held_back
from services.db.models import (
    AuditEvent,
    CaseAnswer,
    HumanTask,
    Incident,
    IncidentCaseFacts,
    IncidentReportRow,
)

REVIEW_STEP = "initial_review"
PARENTS_STEP = "inform_parents_and_carers"
OUTCOME_STEP = "record_agency_outcome"
DELETION_STEP = "confirm_deletion"
BATCH = 500
ANALYZE_AFTER = 1000  # rows added at once, after which PostgreSQL's statistics are refreshed
READ_VERBS = ("viewed", "listed", "exported", "downloaded")
_PENDING = "report_rows_pending"  # Session.info key: incidents whose rows this transaction owes


def install() -> None:
    """Keep report rows in step on every Session (idempotent)."""
    for name, listener in (
        ("before_flush", _note_audited_incidents),
        ("before_commit", _project_before_commit),
        ("after_rollback", _forget),
    ):
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)


def _note_audited_incidents(session: Session, _context: Any, _instances: Any) -> None:
    named = {
        e.incident_id
        for e in session.new
        if isinstance(e, AuditEvent) and e.incident_id and not _is_read(e.action)
    }
    if named:
        session.info.setdefault(_PENDING, set()).update(named)


def _is_read(action: str) -> bool:
    # Audited reads ("incident.viewed") change nothing a row holds: viewing pays nothing.
    return action.rsplit(".", 1)[-1].endswith(READ_VERBS)


def _project_before_commit(session: Session) -> None:
    # Everything but the new audit events is written first, then the events (their flush
    # claims the school's chain head and notes their incidents), then the rows. The head's
    # lock is then held for the events, the rows and the commit only, and still before the
    # rows are read: one school's projections wait for each other, so none reads an
    # incident as it was before another's commit, and the lock order stays incident, head,
    # report row (services.db.audit_chaining.held_back).
    with held_back(session):
        session.flush()
    session.flush()
    pending: set[str] = session.info.pop(_PENDING, set())
    if pending:
        project(session, sorted(pending))


def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)


def project(session: Session, incident_ids: list[str]) -> None:
    """Rebuild these incidents' rows (upsert); drop the rows of those that no longer exist."""
    for start in range(0, len(incident_ids), BATCH):
        batch = incident_ids[start : start + BATCH]
        rows = build_rows(session, batch)
        if rows:
            # Core, not the ORM's bulk insert: that splits the batch wherever the next row's
            # None columns differ (~280 statements for 500 rows); this is one executemany.
            session.connection().execute(_upsert(session), rows)
        gone = set(batch) - {row["incident_id"] for row in rows}
        if gone:
            session.execute(
                delete(IncidentReportRow).where(IncidentReportRow.incident_id.in_(sorted(gone)))
            )


def _upsert(session: Session) -> Any:
    return _upsert_for(session.get_bind().dialect.name)


@cache
def _upsert_for(dialect: str) -> Any:
    # Built once per dialect: building it cost more than running it.
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(IncidentReportRow)
    columns = [c.name for c in IncidentReportRow.__table__.columns if c.name != "incident_id"]
    return statement.on_conflict_do_update(
        index_elements=["incident_id"], set_={name: statement.excluded[name] for name in columns}
    )


def add_missing(session: Session, school_ids: Iterable[int]) -> int:
    """Add the rows of the schools' incidents that have none; return how many were added."""
    schools = sorted(set(school_ids))
    incidents = select(func.count()).select_from(Incident).where(Incident.school_id.in_(schools))
    rows = (
        select(func.count())
        .select_from(IncidentReportRow)
        .where(IncidentReportRow.school_id.in_(schools))
    )
    # Every row belongs to an incident of its school (the foreign key; rows are only ever
    # built from their incident), so equal counts mean no incident lacks one.
    if session.scalar(incidents) == session.scalar(rows):
        return 0
    # In the order incidents were reported: rows then lie on disk in the order the period
    # index reads them (as rows written with each new incident do), not scattered by id.
    missing = (
        select(Incident.id)
        .outerjoin(IncidentReportRow, IncidentReportRow.incident_id == Incident.id)
        .where(Incident.school_id.in_(schools), IncidentReportRow.incident_id.is_(None))
        .order_by(Incident.created_at, Incident.id)
    )
    todo = list(session.scalars(missing))
    project(session, todo)
    if len(todo) >= ANALYZE_AFTER and session.get_bind().dialect.name == "postgresql":
        # Fresh statistics for the planner, or it keeps the estimate of an empty table and
        # walks the whole period for each overdue task (8 s at 100k). Autovacuum would do it
        # in time where it runs; a role that does not own the table gets a warning, no error.
        session.execute(text("ANALYZE incident_report_rows"))
    return len(todo)


def refresh(session: Session, school_ids: Iterable[int]) -> int:
    """Bring the schools' report rows up to date (see add_missing); return how many were added."""
    return add_missing(session, school_ids)


def _hours(dialect: str, task: Any) -> ColumnElement[float]:
    if dialect == "postgresql":
        seconds = func.extract("epoch", task.completed_at - Incident.created_at)
        return (seconds / 3600.0).cast(Float)
    days = func.julianday(task.completed_at) - func.julianday(Incident.created_at)
    return (days * 24.0).cast(Float)


def _latest_task(bpmn_id: str) -> Any:
    # The latest task of a step counts (ties on created_at: the larger id, as good as any).
    return (
        select(HumanTask.id)
        .where(HumanTask.incident_id == Incident.id, HumanTask.bpmn_id == bpmn_id)
        .order_by(HumanTask.created_at.desc(), HumanTask.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def _latest_answer(bpmn_id: str) -> Any:
    # The standing answers of a step: its latest row (the largest id).
    return (
        select(func.max(CaseAnswer.id))
        .where(CaseAnswer.incident_id == Incident.id, CaseAnswer.bpmn_id == bpmn_id)
        .scalar_subquery()
    )


@cache
def _rows_query(dialect: str, one: bool) -> Select[*tuple[Any, ...]]:
    # Built once per dialect: its aliases cost more to build than the statement to run. One
    # incident (each commit's case) is matched by `=`, which skips expanding an IN list.
    where = (
        Incident.id == bindparam("incident_id")
        if one
        else Incident.id.in_(bindparam("incident_ids", expanding=True))
    )
    return _rows_select(dialect).where(where)


def _rows_select(dialect: str) -> Select[*tuple[Any, ...]]:
    review, deletion = aliased(HumanTask), aliased(HumanTask)
    parents, outcome, confirmed = aliased(CaseAnswer), aliased(CaseAnswer), aliased(CaseAnswer)
    return (
        select(
            Incident.id,
            Incident.school_id,
            Incident.created_at,
            Incident.status,
            IncidentCaseFacts.route,
            IncidentCaseFacts.referral_criteria,
            review.state,
            _hours(dialect, review),
            review.completed_at <= review.due_at,
            deletion.state,
            parents.answers,
            outcome.answers,
            confirmed.answers,
        )
        .outerjoin(IncidentCaseFacts, IncidentCaseFacts.incident_id == Incident.id)
        .outerjoin(review, review.id == _latest_task(REVIEW_STEP))
        .outerjoin(deletion, deletion.id == _latest_task(DELETION_STEP))
        .outerjoin(parents, parents.id == _latest_answer(PARENTS_STEP))
        .outerjoin(outcome, outcome.id == _latest_answer(OUTCOME_STEP))
        .outerjoin(confirmed, confirmed.id == _latest_answer(DELETION_STEP))
    )


def build_rows(session: Session, incident_ids: list[str]) -> list[dict[str, Any]]:
    """The report rows of these incidents, from their facts, tasks and standing answers.

    One statement: each incident joined to its facts, its latest review and deletion tasks
    and its latest answers of the three steps the rows read.
    """
    if session.autoflush:
        session.flush()  # as session.execute would: the rows read what this session wrote
    one = len(incident_ids) == 1
    query = _rows_query(session.get_bind().dialect.name, one)
    parameters = {"incident_id": incident_ids[0]} if one else {"incident_ids": incident_ids}
    rows: list[dict[str, Any]] = []
    # On the session's connection, not session.execute: the ORM's layer around a plain
    # column select cost more than the statement (nothing listens for ORM executes).
    for found in session.connection().execute(query, parameters):
        (incident_id, school_id, created_at, status, route, criteria) = found[:6]
        row = {
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
        _review(row, *found[6:9])
        _deletion(row, found[9])
        _parents(row, found[10])
        _outcome(row, found[11])
        _confirmed(row, found[12])
        rows.append(row)
    return rows


def _review(row: dict[str, Any], state: str | None, hours: Any, punctual: Any) -> None:
    if state is None:
        return
    done = state == "completed"
    row["review_state"] = state
    # Rounded to about 4 ms: SQLite's julianday arithmetic leaves 4 hours as 3.9999999,
    # which would count a review at exactly 4 hours as "under 4 hours".
    row["review_hours"] = round(float(hours), 6) if done and hours is not None else None
    row["review_on_time"] = bool(punctual) if done and punctual is not None else None


def _deletion(row: dict[str, Any], state: str | None) -> None:
    if state == "cancelled":
        row["deletion"] = "deadline_passed"
    elif state == "ready":
        row["deletion"] = "waiting"
    # completed (or no task): the answer says how


def _parents(row: dict[str, Any], answers: dict[str, Any] | None) -> None:
    if answers is None:
        return
    inform = answers.get("inform_parents")
    if isinstance(inform, bool):
        row["parents"] = "informed" if inform else "not_informed"
    reason = answers.get("parents_not_informed_reason")
    row["parents_reason"] = inform is False and isinstance(reason, str) and bool(reason.strip())


def _outcome(row: dict[str, Any], answers: dict[str, Any] | None) -> None:
    if answers is None:
        return
    outcome = answers.get("police_outcome")
    row["police_outcome"] = outcome if isinstance(outcome, str) and outcome else "not_recorded"


def _confirmed(row: dict[str, Any], answers: dict[str, Any] | None) -> None:
    if answers is None:
        return
    confirmed = answers.get("deletion_confirmed")
    if row["deletion"] is None and isinstance(confirmed, bool):
        row["deletion"] = "confirmed_by_deadline" if confirmed else "not_confirmed"


def now_month(moment: datetime) -> str:
    """A moment's UTC month, as the rows keep it."""
    return moment.strftime("%Y-%m")
