"""The dashboard's numbers, counted by the database: a handful of aggregate queries.

Every figure is about the incidents reported (created) in the period in the given schools;
deleted incidents are gone from the tables and so from the figures. Months are UTC months.
"""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import datetime

from sqlalchemy import ColumnElement, Float, String, and_, case, func, select
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
    """Every figure of the dashboard for the period (five queries)."""
    dialect = session.get_bind().dialect.name
    shape = _shape(session, period, dialect)
    reviews = _reviews(session, period, dialect)
    answers = _answers(session, period)
    return Figures(
        incidents=sum(shape["status"].values()),
        by_status=dict(shape["status"]),
        per_month=sorted(shape["month"].items()),
        by_route=dict(shape["route"]),
        by_criterion={name: shape["criteria"].get(name, 0) for name in CRITERIA},
        review_hours=reviews[0],
        reviews_on_time=reviews[1],
        reviews_waiting=reviews[2],
        overdue_by_step=_overdue(session, period, now),
        parents_informed=answers["parents"].get("informed", 0),
        parents_not_informed=answers["parents"].get("not_informed", 0),
        parents_not_informed_with_reason=answers["parents"].get("with_reason", 0),
        police_outcomes=dict(answers["police"]),
        deletion=_deletion(session, period, answers["deletion"]),
        repeat_children=_repeat_children(session, period),
    )


def _month_of(dialect: str) -> ColumnElement[str]:
    if dialect == "postgresql":
        utc = func.timezone("UTC", Incident.created_at)
        return func.to_char(utc, "YYYY-MM", type_=String)
    return func.substr(Incident.created_at, 1, 7, type_=String)  # SQLite keeps UTC text


def _shape(session: Session, period: Period, dialect: str) -> dict[str, Counter[str]]:
    # One pass: month, status, route and criteria of every incident, counted by the database.
    month = _month_of(dialect).label("month")
    route = func.coalesce(IncidentCaseFacts.route, "undecided").label("route")
    criteria = func.coalesce(IncidentCaseFacts.referral_criteria, "").label("criteria")
    query = (
        select(month, Incident.status, route, criteria, func.count())
        .select_from(Incident)
        .outerjoin(IncidentCaseFacts, IncidentCaseFacts.incident_id == Incident.id)
        .where(period.where())
        .group_by(month, Incident.status, route, criteria)
    )
    counted: dict[str, Counter[str]] = {key: Counter() for key in ("month", "status", "route")}
    counted["criteria"] = Counter()
    for month_, status, route_, criteria_, count in session.execute(query):
        counted["month"][str(month_)] += count
        counted["status"][str(status)] += count
        counted["route"][str(route_)] += count
        for name in str(criteria_).strip(",").split(","):
            if name:
                counted["criteria"][name] += count
    return counted


def _hours_between(dialect: str) -> ColumnElement[float]:
    if dialect == "postgresql":
        seconds = func.extract("epoch", HumanTask.completed_at - Incident.created_at)
        return (seconds / 3600.0).cast(Float)
    days = func.julianday(HumanTask.completed_at) - func.julianday(Incident.created_at)
    return (days * 24.0).cast(Float)


def _reviews(session: Session, period: Period, dialect: str) -> tuple[list[float], int, int]:
    # The initial review's due time is one school day after the disclosure (the BPMN's P1D on
    # the school-day calendar), so "on time" is completed_at <= due_at.
    on_time = case((HumanTask.completed_at <= HumanTask.due_at, 1), else_=0)
    query = (
        select(HumanTask.state, _hours_between(dialect), on_time)
        .join(Incident, Incident.id == HumanTask.incident_id)
        .where(period.where(), HumanTask.bpmn_id == REVIEW_STEP)
    )
    hours: list[float] = []
    in_time = waiting = 0
    for state, taken, punctual in session.execute(query):
        if state == "completed" and taken is not None:
            hours.append(float(taken))
            in_time += int(punctual or 0)
        elif state == "ready":
            waiting += 1
    return sorted(hours), in_time, waiting


def _overdue(session: Session, period: Period, now: datetime) -> dict[str, int]:
    # From the (small) ready tasks of the schools, through their partial index, then to their
    # incidents: starting from the incidents would read every task of every incident.
    ready = (
        select(HumanTask.name, HumanTask.incident_id)
        .where(
            HumanTask.school_id.in_(period.school_ids),
            HumanTask.state == "ready",
            HumanTask.due_at < now,
        )
        .subquery()
    )
    query = (
        select(ready.c.name, func.count())
        .select_from(ready)
        .join(Incident, Incident.id == ready.c.incident_id)
        .where(period.where())
        .group_by(ready.c.name)
        .order_by(func.count().desc(), ready.c.name)
    )
    return _counted(session, query)


def _counted(session: Session, query: Executable) -> dict[str, int]:
    return {str(key): int(count) for key, count in session.execute(query)}


def _answers(session: Session, period: Period) -> dict[str, Counter[str]]:
    # The answers that stand (the last completion or correction of each step per incident) of
    # the three steps the dashboard reads, in one pass.
    latest = (
        select(func.max(CaseAnswer.id).label("id"))
        .join(Incident, Incident.id == CaseAnswer.incident_id)
        .where(period.where(), CaseAnswer.bpmn_id.in_((PARENTS_STEP, OUTCOME_STEP, DELETION_STEP)))
        .group_by(CaseAnswer.incident_id, CaseAnswer.bpmn_id)
        .subquery()
    )
    answers, step = CaseAnswer.answers, CaseAnswer.bpmn_id
    reason = func.trim(func.coalesce(answers["parents_not_informed_reason"].as_string(), ""))
    # One JSON read per answer (two for parents): each row is read for its own step's field.
    value = case(
        (step == PARENTS_STEP, answers["inform_parents"].as_string()),
        (step == OUTCOME_STEP, answers["police_outcome"].as_string()),
        else_=answers["deletion_confirmed"].as_string(),
    ).label("value")
    has_reason = case((and_(step == PARENTS_STEP, reason != ""), 1), else_=0).label("has_reason")
    query = (
        select(step, value, has_reason, func.count())
        .select_from(latest)
        .join(CaseAnswer, CaseAnswer.id == latest.c.id)
        .group_by(step, value, has_reason)
    )
    found: dict[str, Counter[str]] = {
        "parents": Counter(),
        "police": Counter(),
        "deletion": Counter(),
    }
    for bpmn_id, raw, with_reason, count in session.execute(query):
        if bpmn_id == OUTCOME_STEP:
            found["police"][str(raw) if raw else "not_recorded"] += count
            continue
        answer = _yes_no(raw)
        if bpmn_id == PARENTS_STEP and answer is not None:
            found["parents"]["informed" if answer else "not_informed"] += count
            found["parents"]["with_reason"] += count if with_reason and not answer else 0
        elif bpmn_id == DELETION_STEP and answer is not None:
            found["deletion"]["confirmed_by_deadline" if answer else "not_confirmed"] += count
    return found


def _yes_no(raw: object) -> bool | None:
    # A JSON boolean as each database hands it back as text: "true"/"false" or 1/0.
    text_value = str(raw).strip().lower() if raw is not None else ""
    if text_value in ("true", "1"):
        return True
    if text_value in ("false", "0"):
        return False
    return None


def _deletion(session: Session, period: Period, answered: Counter[str]) -> dict[str, int]:
    # confirm_deletion waits for the children's confirmation; its boundary timer cancels it
    # when the deadline passes (the incident then goes to referral).
    states = _counted(
        session,
        select(HumanTask.state, func.count())
        .join(Incident, Incident.id == HumanTask.incident_id)
        .where(period.where(), HumanTask.bpmn_id == DELETION_STEP)
        .group_by(HumanTask.state),
    )
    return {
        "confirmed_by_deadline": answered.get("confirmed_by_deadline", 0),
        "not_confirmed": answered.get("not_confirmed", 0),
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
