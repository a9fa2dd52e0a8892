"""The start page: who is signed in, their schools and their roles there."""

from __future__ import annotations

from flask import Blueprint, render_template

from services.web.auth.identity import current_user, login_required

bp = Blueprint("home", __name__)

ROLE_LABELS = {
    "staff": "Staff",
    "dsl": "Designated safeguarding lead",
    "headteacher": "Headteacher",
    "auditor": "Auditor",
    "admin": "Administrator",
    "process_admin": "Process administrator",
}


@bp.get("/")
@login_required
def index() -> str:
    """Show the signed-in user's schools and roles."""
    return render_template("home/index.html", user=current_user())


@bp.app_template_filter("role_label")
def role_label(role: str) -> str:
    """The words for a role, as people at a school say it."""
    return ROLE_LABELS.get(role, role)
