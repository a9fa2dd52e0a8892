"""The API's report summary: the dashboard's headline numbers as JSON (issue 11)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import Response, jsonify, request

from services.domain.reports.figures import CRITERIA, median_and_p90
from services.domain.reports.messages import SMALL_NUMBER, ReadReport, Report
from services.web.api.blueprint import bp
from services.web.api.context import api_user, message_bus
from services.web.api.errors import ApiError
from services.web.api.parsing import MAX_INTEGER, check_query, optional_query_int
from services.web.extensions import runtime


def _date(name: str, default: date) -> date:
    raw = request.args.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        message = "must be a date as YYYY-MM-DD"
        raise ApiError(422, "invalid_request", f"{name} {message}", {name: [message]}) from None


@bp.get("/reports/summary")
def report_summary() -> Response:
    """Headline figures for a school, or every school the caller reports on (trust-wide)."""
    check_query(request.args, frozenset({"from", "to", "school"}))
    school = optional_query_int(request.args, "school", low=1, high=MAX_INTEGER)
    date_to = _date("to", runtime().clock.now().date())
    date_from = _date("from", date_to - timedelta(days=364))
    report = message_bus().handle(ReadReport(api_user().id, date_from, date_to, school))
    return jsonify(summary_json(report))


def summary_json(report: Report) -> dict[str, Any]:
    """The summary: counts (as "<5" when small in a trust-wide view), review hours, scope."""
    figures = report.figures
    hide = report.scope.trust_wide

    def count(value: int) -> int | str:
        return f"<{SMALL_NUMBER}" if hide and 0 < value < SMALL_NUMBER else value

    median, p90 = median_and_p90(figures.review_hours)
    return {
        "from": report.scope.date_from.isoformat(),
        "to": report.scope.date_to.isoformat(),
        "schools": list(report.scope.school_ids),
        "trust_wide": hide,
        "incidents": count(figures.incidents),
        "by_route": {route: count(n) for route, n in sorted(figures.by_route.items())},
        "by_criterion": {c: count(figures.by_criterion.get(c, 0)) for c in CRITERIA},
        "outcome_21": count(figures.police_outcomes.get("outcome_21", 0)),
        "review_hours_median": None if median is None else round(median, 2),
        "review_hours_p90": None if p90 is None else round(p90, 2),
        "reviews_within_one_school_day": count(figures.reviews_on_time),
        "overdue_tasks": count(figures.overdue_tasks),
    }
