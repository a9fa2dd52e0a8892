"""The dashboard page and its CSV download."""

from __future__ import annotations

import csv
import io
import time

from flask import Blueprint, Response, abort, current_app, render_template, request

from services.domain.reports.messages import ReadReport, Report
from services.web.auth.identity import SignedInUser, current_user, login_required
from services.web.extensions import runtime
from services.web.incidents.pages import register_domain_errors
from services.web.incidents.web_bus import bus
from services.web.reports.filters import Filters, read_filters, report_schools
from services.web.reports.presenter import csv_rows, hours, sections

bp = Blueprint("reports", __name__)
register_domain_errors(bp)


def may_read_reports(user: SignedInUser) -> bool:
    """Whether the person reads reports somewhere: DSL, headteacher or auditor."""
    return bool(report_schools(user))


def _user() -> SignedInUser:
    user = current_user()
    assert user is not None  # login_required ran first
    if not may_read_reports(user):
        abort(403)
    return user


def _report(user: SignedInUser, filters: Filters) -> Report:
    return bus().handle(
        ReadReport(user.id, filters.date_from, filters.date_to, school_id=filters.school_id)
    )


@bp.get("/reports")
@login_required
def dashboard() -> tuple[str, int]:
    """Charts with their numbers beside them, for a period and a school (or all of them)."""
    user = _user()
    filters = read_filters(request.args, user, runtime().clock.now().date())
    schools = report_schools(user)
    if filters.errors:
        page = render_template(
            "reports/dashboard.html",
            filters=filters,
            schools=schools,
            report=None,
            sections=[],
            query="",
        )
        return page, 422
    began = time.perf_counter()
    report = _report(user, filters)
    shown = sections(report)
    current_app.logger.info("dashboard counted in %.0f ms", (time.perf_counter() - began) * 1000)
    page = render_template(
        "reports/dashboard.html",
        filters=filters,
        schools=schools,
        report=report,
        sections=shown,
        hours=hours,
        query=request.query_string.decode("ascii", "replace"),
    )
    return page, 200


@bp.get("/reports/dashboard.csv")
@login_required
def dashboard_csv() -> Response:
    """The dashboard's numbers as CSV (small numbers hidden exactly as on the page)."""
    user = _user()
    filters = read_filters(request.args, user, runtime().clock.now().date())
    if filters.errors:
        message = "; ".join(f"{k}: {v}" for k, v in filters.errors.items())
        return Response(message + "\n", status=422, mimetype="text/plain")

    out = io.StringIO()
    csv.writer(out).writerows(_safe(row) for row in csv_rows(_report(user, filters)))
    name = f"safeguard-report-{filters.date_from}-{filters.date_to}.csv"
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _safe(row: list[str]) -> list[str]:
    # A cell starting with = + - @ would run as a formula in a spreadsheet: quote it.
    return ["'" + cell if cell[:1] in ("=", "+", "-", "@") else cell for cell in row]
