"""Raise a message on an incident (a new concern): a form built from the message's start event."""

from __future__ import annotations

from flask import abort, redirect, render_template, url_for
from werkzeug.wrappers import Response

from forms import TaskForm, apply_errors
from services.db.errors import ConcurrentUpdate
from services.domain.commands import DeliverMessage
from services.domain.errors import BreakGlassReasonRequired, Conflict, DomainError, NotFound
from services.domain.queries import MessageForm
from services.web.auth.identity import current_user, login_required
from services.web.incidents.blueprint import bp
from services.web.incidents.case_views import open_incident
from services.web.incidents.pages import error_page, tell
from services.web.incidents.task_forms import (
    is_valid_submission,
    new_task_form,
    submitted_version,
)
from services.web.incidents.web_bus import bus
from workflow.errors import TaskDataInvalid
from workflow.model import MessageView

Page = Response | tuple[str, int] | str


@bp.route("/incidents/<id:incident_id>/messages/<name>", methods=["GET", "POST"])
@login_required
def raise_message(incident_id: str, name: str) -> Page:
    """Show the message's form; on POST raise it at the version the form was read at."""
    user = current_user()
    assert user is not None
    if not name.isidentifier() or len(name) > 100:
        abort(404)
    incident_url = url_for("incidents.incident", incident_id=incident_id)
    try:
        page = open_incident(incident_id)
        message = bus().handle(MessageForm(incident_id, name, user.id))
    except BreakGlassReasonRequired:
        return redirect(incident_url)  # the incident page asks for the reason
    except NotFound:
        abort(404)
    except DomainError as refused:
        return error_page(refused, incident_url=incident_url)
    if page.view.status == "closed":
        return error_page(Conflict("this incident is closed"), incident_url=incident_url)
    form = new_task_form(message.form, page.view.version)
    if is_valid_submission(form):
        version = submitted_version(form)
        if version is None:  # the hidden field was lost or altered: never guess a version
            stale = ConcurrentUpdate((incident_id,), "the form carried no incident version")
            return error_page(stale, incident_url=incident_url, lost_answers=True)
        try:
            bus().handle(DeliverMessage(incident_id, name, user.id, form.typed_data(), version))
        except (ConcurrentUpdate, Conflict) as changed:
            return error_page(changed, incident_url=incident_url, lost_answers=True)
        except TaskDataInvalid as invalid:
            apply_errors(form, invalid.errors)
        else:
            tell(f"{raised_words(message)}. The designated safeguarding leads are told.")
            return redirect(incident_url)
    return _form_page(page.view.reference, message, form, incident_url)


def _form_page(reference: str, message: MessageView, form: TaskForm, incident_url: str) -> Page:
    html = render_template(
        "incidents/message.html",
        reference=reference,
        message=message,
        heading=heading_of(message),
        form=form,
        incident_url=incident_url,
        has_errors=bool(form.error_summary_items()),
    )
    return html, 422 if form.is_submitted() else 200


def heading_of(message: MessageView) -> str:
    """The form's heading, as an action: the event's name reads as what happened."""
    if message.name == "new_concern":
        return "Raise a new concern"
    return f"Raise: {message.name_of_event}"


def raised_words(message: MessageView) -> str:
    """What the success banner says was done."""
    if message.name == "new_concern":
        return "You raised a new concern"
    return f"You raised “{message.name_of_event}”"
