"""The dashboard's numbers, counted by the database: a handful of aggregate queries.

Every figure is about the incidents reported (created) in the period in the given schools;
deleted incidents are gone from the tables and so from the figures. Months are UTC months.
"""

from __future__ import annotations

import statistics
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Float, Select, String, and_, case, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from services.db.models import CaseAnswer, HumanTask, Incident, IncidentCaseFacts, IncidentChild
from services.domain.reports.messages import Figures

CRITERIA = (
    "adult_involved",
    "coercion_or_grooming",
    "capacity_to_consent_concern",
    "unusual_or_violent_acts",
    "under_13_sexual_acts",
    "immediate_risk_of_harm",
    "financial_extortion",
)
REVIEW_STEP = "initial_review"
PARENTS_STEP = "inform_parents_and_carers"
OUTCOME_STEP = "record_agency_outcome"
DELETION_STEP = "confirm_deletion"


class Period:
    """The incidents of some schools reported in [start, end)."""

    def __init__(self, school_ids: tuple[int, ...], start: datetime, end: datetime) -> None:
        self.school_ids = school_ids
        self.start = start
        self.end = end

    def where(self) -> ColumnElement[bool]:
        """The condition on Incident."""
        return and_(
            Incident.school_id.in_(self.school_ids),
            Incident.created_at >= self.start,
            Incident.created_at < self.end,
        )


def count_figures(session: Session, period: Period, now: datetime) -> Figures:
    """Every figure of the dashboard for the period."""
    dialect = session.get_bind().dialect.name
    status = _by_status(session, period)
    reviews = _reviews(session, period, dialect)
    parents = _parents(session, period)
    return Figures(
        incidents=sum(status.values()),
        by_status=status,
        per_month=_per_month(session, period, dialect),
        by_route=_by_route(session, period),
        by_criterion=_by_criterion(session, period),
        review_hours=reviews[0],
        reviews_on_time=reviews[1],
        reviews_waiting=reviews[2],
        overdue_by_step=_overdue(session, period, now),
        parents_informed=parents[0],
        parents_not_informed=parents[1],
        parents_not_informed_with_reason=parents[2],
        police_outcomes=_police_outcomes(session, period),
        deletion=_deletion(session, period),
        repeat_children=_repeat_children(session, period),
    )


def _counted(session: Session, query: Executable) -> dict[str, int]:
    return {str(key): int(count) for key, count in session.execute(query)}


def _by_status(session: Session, period: Period) -> dict[str, int]:
    query = select(Incident.status, func.count()).where(period.where()).group_by(Incident.status)
    return _counted(session, query)


def _month_of(dialect: str) -> ColumnElement[str]:
    if dialect == "postgresql":
        utc = func.timezone("UTC", Incident.created_at)
        return func.to_char(utc, "YYYY-MM", type_=String)
    return func.substr(Incident.created_at, 1, 7, type_=String)  # SQLite keeps UTC text


def _per_month(session: Session, period: Period, dialect: str) -> list[tuple[str, int]]:
    month = _month_of(dialect).label("month")
    query = select(month, func.count()).where(period.where()).group_by(month).order_by(month)
    return [(str(m), int(n)) for m, n in session.execute(query)]


def _by_route(session: Session, period: Period) -> dict[str, int]:
    route = func.coalesce(IncidentCaseFacts.route, "undecided")
    query = (
        select(route, func.count())
        .select_from(Incident)
        .outerjoin(IncidentCaseFacts, IncidentCaseFacts.incident_id == Incident.id)
        .where(period.where())
        .group_by(route)
    )
    return _counted(session, query)


def _by_criterion(session: Session, period: Period) -> dict[str, int]:
    column = IncidentCaseFacts.referral_criteria
    sums = [func.sum(case((column.like(f"%,{name},%"), 1), else_=0)) for name in CRITERIA]
    query = select(*sums).join(Incident, Incident.id == IncidentCaseFacts.incident_id)
    row = session.execute(query.where(period.where())).one()
    return {name: int(value or 0) for name, value in zip(CRITERIA, row, strict=True)}


def _hours_between(dialect: str) -> ColumnElement[float]:
    if dialect == "postgresql":
        seconds = func.extract("epoch", HumanTask.completed_at - Incident.created_at)
        return (seconds / 3600.0).cast(Float)
    days = func.julianday(HumanTask.completed_at) - func.julianday(Incident.created_at)
    return (days * 24.0).cast(Float)


def _reviews(session: Session, period: Period, dialect: str) -> tuple[list[float], int, int]:
    # The initial review's due time is one school day after the disclosure (the BPMN's P1D on
    # the school-day calendar), so "on time" is completed_at <= due_at.
    base = (
        select()
        .select_from(HumanTask)
        .join(Incident, Incident.id == HumanTask.incident_id)
        .where(period.where(), HumanTask.bpmn_id == REVIEW_STEP)
    )
    done = base.where(HumanTask.state == "completed")
    hours = sorted(float(h) for h in session.scalars(done.add_columns(_hours_between(dialect))))
    on_time_column = func.sum(case((HumanTask.completed_at <= HumanTask.due_at, 1), else_=0))
    on_time = session.scalar(done.add_columns(on_time_column)) or 0
    waiting = session.scalar(base.where(HumanTask.state == "ready").add_columns(func.count()))
    return hours, int(on_time), int(waiting or 0)


def _overdue(session: Session, period: Period, now: datetime) -> dict[str, int]:
    query = (
        select(HumanTask.name, func.count())
        .join(Incident, Incident.id == HumanTask.incident_id)
        .where(period.where(), HumanTask.state == "ready", HumanTask.due_at < now)
        .group_by(HumanTask.name)
        .order_by(func.count().desc(), HumanTask.name)
    )
    return _counted(session, query)


def _latest_answers(period: Period, bpmn_id: str) -> Select[Any]:
    # The answers that stand: the last completion or correction of the step per incident.
    return (
        select(func.max(CaseAnswer.id))
        .join(Incident, Incident.id == CaseAnswer.incident_id)
        .where(period.where(), CaseAnswer.bpmn_id == bpmn_id)
        .group_by(CaseAnswer.incident_id)
    )


def _parents(session: Session, period: Period) -> tuple[int, int, int]:
    inform = CaseAnswer.answers["inform_parents"].as_boolean()
    reason = func.trim(
        func.coalesce(CaseAnswer.answers["parents_not_informed_reason"].as_string(), "")
    )
    query = select(
        func.sum(case((inform.is_(True), 1), else_=0)),
        func.sum(case((inform.is_(False), 1), else_=0)),
        func.sum(case((and_(inform.is_(False), reason != ""), 1), else_=0)),
    ).where(CaseAnswer.id.in_(_latest_answers(period, PARENTS_STEP)))
    informed, not_informed, with_reason = session.execute(query).one()
    return int(informed or 0), int(not_informed or 0), int(with_reason or 0)


def _police_outcomes(session: Session, period: Period) -> dict[str, int]:
    outcome = func.coalesce(CaseAnswer.answers["police_outcome"].as_string(), "not_recorded")
    query = (
        select(outcome, func.count())
        .where(CaseAnswer.id.in_(_latest_answers(period, OUTCOME_STEP)))
        .group_by(outcome)
    )
    return _counted(session, query)


def _deletion(session: Session, period: Period) -> dict[str, int]:
    # confirm_deletion waits for the children's confirmation; its boundary timer cancels it
    # when the deadline passes (the incident then goes to referral).
    states = _counted(
        session,
        select(HumanTask.state, func.count())
        .join(Incident, Incident.id == HumanTask.incident_id)
        .where(period.where(), HumanTask.bpmn_id == DELETION_STEP)
        .group_by(HumanTask.state),
    )
    confirmed = CaseAnswer.answers["deletion_confirmed"].as_boolean()
    yes, no = session.execute(
        select(
            func.sum(case((confirmed.is_(True), 1), else_=0)),
            func.sum(case((confirmed.is_(False), 1), else_=0)),
        ).where(CaseAnswer.id.in_(_latest_answers(period, DELETION_STEP)))
    ).one()
    return {
        "confirmed_by_deadline": int(yes or 0),
        "not_confirmed": int(no or 0),
        "deadline_passed": states.get("cancelled", 0),
        "waiting": states.get("ready", 0),
    }


def _repeat_children(session: Session, period: Period) -> dict[str, int]:
    incidents = func.count(func.distinct(IncidentChild.incident_id))
    query = (
        select(incidents)
        .join(Incident, Incident.id == IncidentChild.incident_id)
        .where(period.where())
        .group_by(IncidentChild.child_id)
        .having(incidents >= 2)
    )
    buckets = {"2": 0, "3": 0, "4+": 0}
    for count in session.scalars(query):
        buckets["4+" if count >= 4 else str(count)] += 1
    return buckets


def median_and_p90(sorted_values: list[float]) -> tuple[float | None, float | None]:
    """The median and 90th percentile (interpolated, inclusive); None for no values."""
    if not sorted_values:
        return None, None
    if len(sorted_values) == 1:
        return sorted_values[0], sorted_values[0]
    deciles = statistics.quantiles(sorted_values, n=10, method="inclusive")
    return statistics.median(sorted_values), deciles[8]
