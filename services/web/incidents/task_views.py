"""A task's form: guidance above it, GOV.UK errors, and a completion that never overwrites."""

from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from forms import TaskForm, apply_errors
from services.db.errors import ConcurrentUpdate
from services.domain.commands import CompleteTask
from services.domain.errors import BreakGlassReasonRequired, Conflict
from services.domain.read_models import ReadyTask
from services.web.auth.identity import current_user, login_required
from services.web.incidents.blueprint import bp
from services.web.incidents.case_views import open_incident
from services.web.incidents.pages import error_page, task_gone_page, tell
from services.web.incidents.task_forms import (
    is_valid_submission,
    new_task_form,
    submitted_version,
)
from services.web.incidents.web_bus import bus
from workflow.errors import TaskDataInvalid

Page = Response | tuple[str, int] | str


@bp.route("/incidents/<id:incident_id>/tasks/<id:task_id>", methods=["GET", "POST"])
@login_required
def task(incident_id: str, task_id: str) -> Page:
    """Show the task's form; on POST complete it at the version the form was read at."""
    user = current_user()
    assert user is not None
    incident_url = url_for("incidents.incident", incident_id=incident_id)
    try:
        page = open_incident(incident_id)
    except BreakGlassReasonRequired:
        return redirect(incident_url)  # the incident page asks for the reason
    ready = next((t for t in page.view.ready_tasks if t.task.id == task_id), None)
    if ready is None and not page.view.reads_record:
        abort(403)  # they see only their own tasks: whether this one waits is not theirs to know
    if ready is None:
        return task_gone_page(posted=request.method == "POST", incident_url=incident_url)
    if not ready.can_complete:
        abort(403)
    form = new_task_form(ready.task.form, page.view.version)
    if is_valid_submission(form):
        version = submitted_version(form)
        if version is None:  # the hidden field was lost or altered: never guess a version
            stale = ConcurrentUpdate((incident_id,), "the form carried no incident version")
            return error_page(stale, incident_url=incident_url, lost_answers=True)
        try:
            bus().handle(CompleteTask(task_id, user.id, form.typed_data(), version))
        except (ConcurrentUpdate, Conflict) as changed:
            return error_page(changed, incident_url=incident_url, lost_answers=True)
        except TaskDataInvalid as invalid:
            apply_errors(form, invalid.errors)
        else:
            tell(f"You completed “{ready.task.name}”.")
            return redirect(incident_url)
    # Record readers get the children's page beside the form: each child's chronology is
    # where the incident is recorded (a closing step asks them to check it there).
    children_url = (
        url_for("children.incident_children", incident_id=incident_id)
        if page.view.reads_record
        else None
    )
    return _form_page(page.view.reference, ready, form, incident_url, children_url)


def _form_page(
    reference: str,
    ready: ReadyTask,
    form: TaskForm,
    incident_url: str,
    children_url: str | None = None,
) -> Page:
    html = render_template(
        "incidents/task.html",
        reference=reference,
        ready=ready,
        form=form,
        incident_url=incident_url,
        children_url=children_url,
        has_errors=bool(form.error_summary_items()),
    )
    return html, 422 if form.is_submitted() else 200
