"""Reports: the dashboard with charts, its numbers as CSV (issue 11)."""

from __future__ import annotations

from flask import Flask

from services.web.navigation import add_navigation
from services.web.reports.views import bp, may_read_reports


def register_report_pages(app: Flask) -> None:
    """Add the reports blueprint and its "Reports" link (DSL, headteacher, auditor)."""
    app.register_blueprint(bp)
    add_navigation(app, "Reports", "reports.dashboard", visible=may_read_reports)


__all__ = ["bp", "register_report_pages"]
