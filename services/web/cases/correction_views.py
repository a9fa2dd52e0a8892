"""The DSL's "correct an answer" page: pick an answer, give the new one and the reason."""

from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from forms.answers import in_words
from services.domain.errors import RequestInvalid
from services.domain.history_corrections import (
    CORRECTING_ROLES,
    CorrectAnswer,
    correct_answer,
    correctable_field,
)
from services.web.auth.identity import current_user, login_required
from services.web.cases.blueprint import bp
from services.web.extensions import runtime
from services.web.incidents.case_views import open_incident
from services.web.incidents.pages import tell
from services.web.incidents.reads import IncidentPageData
from workflow.errors import TaskDataInvalid
from workflow.model import CompletedStep, FieldSpec

Page = Response | tuple[str, int] | str


def _choices(page: IncidentPageData) -> list[tuple[str, str, CompletedStep, FieldSpec]]:
    found = []
    for step in page.view.completed_steps:
        for spec in step.form.fields if step.form else ():
            if correctable_field(step, spec.id) is not None and step.data.get(spec.id) not in (
                None,
                "",
            ):
                found.append((f"{step.id}|{spec.id}", f"{step.name}: {spec.label}", step, spec))
    return found


@bp.route("/incidents/<id:incident_id>/correct", methods=["GET", "POST"])
@login_required
def correct(incident_id: str) -> Page:
    """Choose an answer to correct, then give the new answer and a reason (DSL only)."""
    user = current_user()
    assert user is not None
    page = open_incident(incident_id)
    if not CORRECTING_ROLES.intersection(user.roles_in(page.view.school_id)):
        abort(403)
    choices = _choices(page)
    chosen_key = request.values.get("answer", "")
    chosen = next((c for c in choices if c[0] == chosen_key), None)
    errors: dict[str, str] = {}
    if request.method == "POST" and chosen is None:
        errors["answer"] = "Select the answer to correct"
    elif request.method == "POST" and chosen is not None:
        _key, _label, step, spec = chosen
        try:
            done = correct_answer(
                CorrectAnswer(
                    incident_id,
                    user.id,
                    step.id,
                    spec.id,
                    request.form.get("value", ""),
                    request.form.get("reason", ""),
                ),
                runtime().bus.dependencies,
            )
        except TaskDataInvalid as invalid:
            errors["value"] = " ".join(m for ms in invalid.errors.values() for m in ms)
        except RequestInvalid as refused:
            message = str(refused)
            target = "reason" if "reason" in message else "value"
            errors[target] = message.partition(": ")[2] or message
        else:
            tell(f"You corrected “{done.label}”. The original answer stays in the history.")
            return redirect(url_for("cases.history", incident_id=incident_id) + "#changes")
    current = ""
    if chosen is not None:
        current = in_words(chosen[3], chosen[2].data.get(chosen[3].id))
    html = render_template(
        "cases/correct.html",
        view=page.view,
        choices=[(key, label) for key, label, _s, _f in choices],
        chosen=chosen,
        current=current,
        errors=errors,
        form=request.form,
    )
    return html, 422 if errors else 200
