"""The incident page, the break-glass page in front of it, and excluding a person from a case."""

from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from services.domain.access import can_exclude_person
from services.domain.commands import ExcludePerson
from services.domain.errors import AlreadyExcluded, BreakGlassReasonRequired, RequestInvalid
from services.domain.queries import ViewIncident
from services.web.auth.break_glass import break_glass_reasons as server_break_glass_reasons
from services.web.auth.break_glass import grant_break_glass
from services.web.auth.identity import SignedInUser, current_user, login_required
from services.web.cases.history_lines import case_timeline
from services.web.cases.summary import case_summary
from services.web.extensions import runtime
from services.web.incidents.blueprint import bp
from services.web.incidents.forms import BreakGlassForm, ExcludePersonForm
from services.web.incidents.pages import tell
from services.web.incidents.presenter import history_lines, step_sections, task_lines
from services.web.incidents.reads import IncidentPage, IncidentPageData
from services.web.incidents.web_bus import bus

Page = Response | tuple[str, int] | str


@bp.get("/incidents/<id:incident_id>")
@login_required
def incident(incident_id: str) -> Page:
    """Summary, current tasks, completed steps and history; break-glass outside need-to-know."""
    try:
        page = open_incident(incident_id, audit_after_id=request.args.get("after", type=int))
    except BreakGlassReasonRequired:
        return _break_glass_page(incident_id, BreakGlassForm(formdata=None), 403)
    roles = _user().roles_in(page.view.school_id)
    # Summary, path and what comes next: the record's, for those who read it (need-to-know).
    deps = runtime().bus.dependencies
    case = case_summary(page, deps, roles) if page.view.reads_record else None
    return render_template(
        "incidents/incident.html",
        page=page,
        view=page.view,
        case=case,
        timeline=case_timeline(page, case),
        tasks=task_lines(page),
        steps=step_sections(page, case.criteria_words if case else None),
        history=history_lines(page),
        is_case_lead=_may_exclude(page),
        reported_by=page.name_of(page.view.created_by),
    )


@bp.post("/incidents/<id:incident_id>/break-glass")
@login_required
def break_glass(incident_id: str) -> Page:
    """Keep the reason on the server for a while; every page of the record then logs it."""
    form = BreakGlassForm()
    if not form.validate_on_submit():
        return _break_glass_page(incident_id, form, 422)
    if not grant_break_glass(incident_id, form.reason.data.strip()):
        abort(404)
    return redirect(url_for("incidents.incident", incident_id=incident_id))


@bp.route("/incidents/<id:incident_id>/exclude", methods=["GET", "POST"])
@login_required
def exclude(incident_id: str) -> Page:
    """A DSL or the headteacher keeps a named person out of the case, with a reason."""
    user = _user()
    page = open_incident(incident_id)
    if not _may_exclude(page):
        abort(403)
    form = ExcludePersonForm()
    people = [p for p in page.people.values() if p.id != user.id]
    form.person.choices = [("", "Choose a person")] + [(str(p.id), p.name) for p in people]
    if form.validate_on_submit():
        person_id = int(form.person.data)
        try:
            bus().handle(ExcludePerson(incident_id, user.id, person_id, form.reason.data))
        except (AlreadyExcluded, RequestInvalid) as refused:
            form.person.errors = [_refusal(refused, page.name_of(person_id))]
        else:
            tell(f"{page.name_of(person_id)} can no longer see this incident.")
            return redirect(url_for("incidents.incident", incident_id=incident_id))
    html = render_template("incidents/exclude.html", view=page.view, form=form)
    return html, 422 if form.is_submitted() else 200


def open_incident(incident_id: str, *, audit_after_id: int | None = None) -> IncidentPageData:
    """Open the incident for this page (logged), with this session's break-glass reason."""
    query = IncidentPage(
        ViewIncident(
            incident_id,
            _user().id,
            break_glass_reasons().get(incident_id),
            audit_after_id=audit_after_id,
        )
    )
    return bus().handle(query)


def break_glass_reasons() -> dict[str, str]:
    """Incident id -> the reason this person gave to open it outside the need to know."""
    return server_break_glass_reasons()  # held on the server, never in the cookie


def _break_glass_page(incident_id: str, form: BreakGlassForm, status: int) -> tuple[str, int]:
    html = render_template("incidents/break_glass.html", incident_id=incident_id, form=form)
    return html, status


def _may_exclude(page: IncidentPageData) -> bool:
    return can_exclude_person(_user().roles_in(page.view.school_id), False).allowed


def _refusal(error: Exception, name: str) -> str:
    if isinstance(error, AlreadyExcluded):
        return f"{name or 'That person'} is already excluded from this incident"
    return "Select someone who belongs to this school"


def _user() -> SignedInUser:
    user = current_user()
    assert user is not None  # login_required let the request through
    return user
