"""Register the incident pages and the inbox in an app, with their menu links."""

from __future__ import annotations

from flask import Flask

from services.domain.access import can_start_incident
from services.web.auth.identity import SignedInUser
from services.web.inbox import bp as inbox_bp
from services.web.incidents.blueprint import bp as incidents_bp
from services.web.navigation import add_navigation


def register_case_pages(app: Flask) -> None:
    """Add the incidents and inbox blueprints and their links ("Your tasks", "Report a concern")."""
    app.register_blueprint(incidents_bp)
    app.register_blueprint(inbox_bp)
    add_navigation(app, "Your tasks", "inbox.index")
    # The incident and task pages belong to "Incidents" (cases), not to "Report a concern".
    add_navigation(app, "Report a concern", "incidents.report", visible=may_report, areas=())


def may_report(user: SignedInUser) -> bool:
    """Whether the person may report a concern in at least one of their schools."""
    return any(can_start_incident(school.roles).allowed for school in user.schools)
