"""The dashboard's numbers, counted by the database from the report rows (see projection.py).

Every figure is about the incidents reported (created) in the period in the given schools;
deleted incidents are gone from the tables and so from the figures. Months are UTC months.
Overdue tasks are counted live (they depend on the time of the read).
"""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from services.db.models import HumanTask, Incident, IncidentChild, IncidentReportRow
from services.domain.reports.messages import Figures
from services.domain.reports.projection import refresh

CRITERIA = (
    "adult_involved",
    "coercion_or_grooming",
    "capacity_to_consent_concern",
    "unusual_or_violent_acts",
    "under_13_sexual_acts",
    "immediate_risk_of_harm",
    "financial_extortion",
)
DELETION_STATES = ("confirmed_by_deadline", "not_confirmed", "deadline_passed", "waiting")


class Period:
    """The incidents of some schools reported in [start, end)."""

    def __init__(self, school_ids: tuple[int, ...], start: datetime, end: datetime) -> None:
        self.school_ids = school_ids
        self.start = start
        self.end = end

    def rows(self) -> ColumnElement[bool]:
        """The condition on IncidentReportRow."""
        return and_(
            IncidentReportRow.school_id.in_(self.school_ids),
            IncidentReportRow.created_at >= self.start,
            IncidentReportRow.created_at < self.end,
        )

    def where(self) -> ColumnElement[bool]:
        """The condition on Incident."""
        return and_(
            Incident.school_id.in_(self.school_ids),
            Incident.created_at >= self.start,
            Incident.created_at < self.end,
        )


def count_figures(session: Session, period: Period, now: datetime) -> Figures:
    """Every figure of the dashboard for the period, from the report rows (refreshed first)."""
    refresh(session, period.school_ids)
    counted = _counted_rows(session, period)
    hours = sorted(
        float(h)
        for h in session.scalars(
            select(IncidentReportRow.review_hours).where(
                period.rows(), IncidentReportRow.review_hours.is_not(None)
            )
        )
        if h is not None
    )
    deletion = counted["deletion"]
    return Figures(
        incidents=sum(counted["status"].values()),
        by_status=dict(counted["status"]),
        per_month=sorted(counted["month"].items()),
        by_route=dict(counted["route"]),
        by_criterion={name: counted["criteria"].get(name, 0) for name in CRITERIA},
        review_hours=hours,
        reviews_on_time=counted["review"].get("on_time", 0),
        reviews_waiting=counted["review"].get("ready", 0),
        overdue_by_step=_overdue(session, period, now),
        parents_informed=counted["parents"].get("informed", 0),
        parents_not_informed=counted["parents"].get("not_informed", 0),
        parents_not_informed_with_reason=counted["parents"].get("with_reason", 0),
        police_outcomes=dict(counted["police"]),
        deletion={key: deletion.get(key, 0) for key in DELETION_STATES},
        repeat_children=_repeat_children(session, period),
    )


def _counted_rows(session: Session, period: Period) -> dict[str, Counter[str]]:
    row = IncidentReportRow
    columns = (
        row.month,
        row.status,
        row.route,
        row.criteria,
        row.review_state,
        row.review_on_time,
        row.parents,
        row.parents_reason,
        row.police_outcome,
        row.deletion,
    )
    query = select(*columns, func.count()).where(period.rows()).group_by(*columns)
    counted: dict[str, Counter[str]] = {
        key: Counter()
        for key in (
            "month",
            "status",
            "route",
            "criteria",
            "review",
            "parents",
            "police",
            "deletion",
        )
    }
    for (
        month,
        status,
        route,
        criteria,
        review,
        on_time,
        parents,
        reason,
        police,
        deletion,
        n,
    ) in session.execute(query):
        counted["month"][month] += n
        counted["status"][status] += n
        counted["route"][route] += n
        for name in str(criteria).strip(",").split(","):
            if name:
                counted["criteria"][name] += n
        if review == "ready":
            counted["review"]["ready"] += n
        elif review == "completed" and on_time:
            counted["review"]["on_time"] += n
        if parents:
            counted["parents"][parents] += n
            counted["parents"]["with_reason"] += n if parents == "not_informed" and reason else 0
        if police:
            counted["police"][police] += n
        if deletion:
            counted["deletion"][deletion] += n
    return counted


def _overdue(session: Session, period: Period, now: datetime) -> dict[str, int]:
    # From the (small) ready tasks of the schools, through their partial index, then to their
    # incidents' report rows.
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
        .join(IncidentReportRow, IncidentReportRow.incident_id == ready.c.incident_id)
        .where(period.rows())
        .group_by(ready.c.name)
        .order_by(func.count().desc(), ready.c.name)
    )
    return {str(name): int(count) for name, count in session.execute(query)}


def _repeat_children(session: Session, period: Period) -> dict[str, int]:
    incidents = func.count(func.distinct(IncidentChild.incident_id))
    query = (
        select(incidents)
        .join(IncidentReportRow, IncidentReportRow.incident_id == IncidentChild.incident_id)
        .where(period.rows())
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
