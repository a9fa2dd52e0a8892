"""Report a concern: start an incident and record its disclosure in one go, then confirm."""

from __future__ import annotations

from flask import abort, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from forms import apply_errors, build_form_class
from services.domain.access import can_start_incident
from services.domain.commands import StartIncident
from services.web.auth.identity import SignedInUser, current_user, login_required
from services.web.incidents.blueprint import bp
from services.web.incidents.reads import ReportForm
from services.web.incidents.task_forms import is_valid_submission
from services.web.incidents.web_bus import bus
from workflow.errors import TaskDataInvalid

REPORTED_KEY = "reported"
Page = Response | tuple[str, int] | str


@bp.route("/report", methods=["GET", "POST"])
@login_required
def report() -> Page:
    """The disclosure form; on a valid submission the incident starts and the DSL is told."""
    user = _user()
    schools = [s for s in user.schools if can_start_incident(s.roles).allowed]
    if not schools:
        abort(403)
    school_id = request.args.get("school", type=int)
    if school_id is None:
        if len(schools) > 1:
            return render_template("incidents/choose_school.html", schools=schools)
        school_id = schools[0].school_id
    start = bus().handle(ReportForm(school_id, user.id))
    form = build_form_class(start.task.form)()
    if is_valid_submission(form):
        try:
            outcome = bus().handle(StartIncident(school_id, user.id, form.typed_data()))
        except TaskDataInvalid as invalid:
            apply_errors(form, invalid.errors)
        else:
            session[REPORTED_KEY] = {"id": outcome.incident_id, "reference": outcome.reference}
            return redirect(url_for("incidents.reported"))
    page = render_template(
        "incidents/report.html",
        start=start,
        form=form,
        action=url_for("incidents.report", school=school_id),
        several_schools=len(schools) > 1,
    )
    return page, 422 if form.is_submitted() else 200


@bp.get("/report/confirmation")
@login_required
def reported() -> Page:
    """The reference of the concern just reported, and that the DSL has been told."""
    done = session.get(REPORTED_KEY)
    if not isinstance(done, dict) or not done.get("reference"):
        return redirect(url_for("incidents.report"))
    return render_template("incidents/reported.html", reference=done["reference"], id=done["id"])


def _user() -> SignedInUser:
    user = current_user()
    assert user is not None  # login_required let the request through
    return user
