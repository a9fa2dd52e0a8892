"""The dashboard's numbers, counted by the database from the report rows (see projection.py).

Every figure is about the incidents reported (created) in the period in the given schools;
deleted incidents are gone from the tables and so from the figures. Months are UTC months.
Overdue tasks are counted live (they depend on the time of the read). The database does the
counting (GROUP BY and conditional sums) and ranks the review times (a window): Python only
receives a few hundred grouped rows and the four review times the median and 90th percentile
are interpolated from, whatever the number of incidents.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session

from services.db.models import HumanTask, IncidentChild, IncidentReportRow
from services.domain.reports.messages import REVIEW_LIMITS, Figures, ReviewHours
from services.domain.reports.projection import add_missing

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
        """The condition on IncidentReportRow (served by its (school_id, created_at) index)."""
        return and_(
            IncidentReportRow.school_id.in_(self.school_ids),
            IncidentReportRow.created_at >= self.start,
            IncidentReportRow.created_at < self.end,
        )


def count_figures(session: Session, period: Period, now: datetime) -> Figures:
    """Every figure of the dashboard for the period, from the report rows."""
    add_missing(session, period.school_ids)
    counted = _counted_rows(session, period)
    deletion = counted["deletion"]
    return Figures(
        incidents=sum(counted["status"].values()),
        by_status=dict(counted["status"]),
        per_month=sorted(counted["month"].items()),
        by_route=dict(counted["route"]),
        by_criterion={name: counted["criteria"].get(name, 0) for name in CRITERIA},
        review_hours=_review_hours(session, period),
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
    # Reviews reduced to the two facts counted, so rows that differ only in hours group together.
    review = case(
        (row.review_state == "ready", "ready"),
        (and_(row.review_state == "completed", row.review_on_time.is_(True)), "on_time"),
        else_="",
    )
    reason = and_(row.parents == "not_informed", row.parents_reason.is_(True))
    columns = (
        row.month,
        row.status,
        row.route,
        row.criteria,
        review,
        row.parents,
        case((reason, 1), else_=0),
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
        reviewed,
        parents,
        with_reason,
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
        if reviewed:
            counted["review"][reviewed] += n
        if parents:
            counted["parents"][parents] += n
            counted["parents"]["with_reason"] += n if with_reason else 0
        if police:
            counted["police"][police] += n
        if deletion:
            counted["deletion"][deletion] += n
    return counted


def _review_hours(session: Session, period: Period) -> ReviewHours:
    hours = IncidentReportRow.review_hours
    measured = and_(period.rows(), hours.is_not(None))
    below = [
        func.coalesce(func.sum(case((hours < limit, 1), else_=0)), 0) for limit in REVIEW_LIMITS
    ]
    done, *under = session.execute(select(func.count(), *below).where(measured)).one()
    done = int(done)
    if done == 0:
        return ReviewHours()
    ranks = sorted(set(_median_ranks(done) + _p90_ranks(done)))
    ranked = (
        select(hours.label("hours"), (func.row_number().over(order_by=hours) - 1).label("rank"))
        .where(measured)
        .subquery()
    )
    picked = select(ranked.c.rank, ranked.c.hours).where(ranked.c.rank.in_(ranks))
    values = {int(rank): float(value) for rank, value in session.execute(picked)}
    cumulative = [int(n) for n in under] + [done]
    buckets = tuple(b - a for a, b in zip([0, *cumulative[:-1]], cumulative, strict=True))
    return ReviewHours(done, _median(done, values), _p90(done, values), buckets)


# The same order statistics and arithmetic as statistics.median and
# statistics.quantiles(n=10, method="inclusive")[8], so the figures equal Python's on the list.


def _median_ranks(n: int) -> list[int]:
    return [n // 2] if n % 2 else [n // 2 - 1, n // 2]


def _median(n: int, at: dict[int, float]) -> float:
    return at[n // 2] if n % 2 else (at[n // 2 - 1] + at[n // 2]) / 2


def _p90_ranks(n: int) -> list[int]:
    if n == 1:
        return [0]
    j = (9 * (n - 1)) // 10
    return [j, j + 1]


def _p90(n: int, at: dict[int, float]) -> float:
    if n == 1:
        return at[0]
    j, delta = divmod(9 * (n - 1), 10)
    return (at[j] * (10 - delta) + at[j + 1] * delta) / 10


def _overdue(session: Session, period: Period, now: datetime) -> dict[str, int]:
    # From the (few) ready tasks of the schools, through their partial index, each checked
    # against its incident's report row by primary key. As a join, SQLite drove it from the
    # period's 100k rows, probing a million tasks: 5.7 s instead of 20 ms.
    in_period = (
        select(IncidentReportRow.incident_id)
        .where(IncidentReportRow.incident_id == HumanTask.incident_id, period.rows())
        .exists()
    )
    query = (
        select(HumanTask.name, func.count())
        .where(
            HumanTask.school_id.in_(period.school_ids),
            HumanTask.state == "ready",
            HumanTask.due_at < now,
            in_period,
        )
        .group_by(HumanTask.name)
        .order_by(func.count().desc(), HumanTask.name)
    )
    return {str(name): int(count) for name, count in session.execute(query)}


def _repeat_children(session: Session, period: Period) -> dict[str, int]:
    incidents = func.count(func.distinct(IncidentChild.incident_id))
    per_child = (
        select(case((incidents >= 4, 4), else_=incidents).label("times"))
        .join(IncidentReportRow, IncidentReportRow.incident_id == IncidentChild.incident_id)
        .where(period.rows())
        .group_by(IncidentChild.child_id)
        .having(incidents >= 2)
        .subquery()
    )
    buckets = {"2": 0, "3": 0, "4+": 0}
    query = select(per_child.c.times, func.count()).group_by(per_child.c.times)
    for times, count in session.execute(query):
        buckets["4+" if times >= 4 else str(times)] += int(count)
    return buckets


def median_and_p90(hours: ReviewHours | Sequence[float]) -> tuple[float | None, float | None]:
    """The median and 90th percentile (interpolated, inclusive); None for no values."""
    if isinstance(hours, ReviewHours):
        return hours.median, hours.p90
    values = sorted(hours)
    if not values:
        return None, None
    at = dict(enumerate(values))
    return _median(len(values), at), _p90(len(values), at)
