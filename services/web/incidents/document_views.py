"""The record PDF on the incident page: download it, and retry filing it when the system failed."""

from __future__ import annotations

from flask import redirect, url_for
from werkzeug.wrappers import Response

from services.domain.commands import RetryExternalTask
from services.domain.handlers.external import may_retry
from services.domain.queries import DownloadDocument
from services.domain.read_models import ExternalTaskLine, IncidentView
from services.web.auth.identity import current_user, login_required
from services.web.incidents.blueprint import bp
from services.web.incidents.case_views import break_glass_reasons
from services.web.incidents.pages import tell
from services.web.incidents.web_bus import bus


@bp.get("/incidents/<id:incident_id>/documents/<id:document_id>")
@login_required
def download_document(incident_id: str, document_id: str) -> Response:
    """Send a rendered document as an attachment (access as for the incident; logged)."""
    user = current_user()
    assert user is not None
    reason = break_glass_reasons().get(incident_id)
    document = bus().handle(DownloadDocument(document_id, user.id, reason, incident_id))
    response = Response(document.content, mimetype=document.media_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{document.filename}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.post("/incidents/<id:incident_id>/external-tasks/<id:task_id>/retry")
@login_required
def retry_external_task(incident_id: str, task_id: str) -> Response:
    """Ask the system to do a failed task again (the CSRF token is checked by the app)."""
    user = current_user()
    assert user is not None
    bus().handle(RetryExternalTask(task_id, user.id, incident_id))
    tell("The system will try again. Reload this page in a minute to see the result.")
    return redirect(url_for("incidents.incident", incident_id=incident_id))


@bp.app_template_global("may_retry_external_task")
def may_retry_external_task(view: IncidentView, task: ExternalTaskLine) -> bool:
    """Whether the signed-in person may retry this external task (to show the button)."""
    user = current_user()
    if user is None or task.state not in ("failed", "waiting"):
        return False
    roles = user.roles_in(view.school_id)
    return may_retry(roles, task.role, view.access_via == "assignment", False).allowed
