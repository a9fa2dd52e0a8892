"""Retention pages: the DSL's review queue, and keep, legal hold or delete one record."""

from __future__ import annotations

from datetime import date

from flask import abort, redirect, render_template, request, url_for

from services.domain.children.messages import (
    DeleteIncident,
    KeepRecord,
    ReadRetention,
    ReviewQueue,
    SetLegalHold,
    SetRetentionYears,
)
from services.domain.errors import Conflict, RequestInvalid
from services.domain.handlers.retention import retention_years
from services.web.auth.identity import login_required
from services.web.children.views import Page, _sentence, _user, bp
from services.web.extensions import runtime
from services.web.incidents.pages import tell
from services.web.incidents.web_bus import bus


@bp.get("/retention")
@login_required
def review_queue() -> Page:
    """Records due for review in one of the DSL's schools, and the school's rule."""
    user = _user()
    schools = [s for s in user.schools if "dsl" in s.roles]
    if not schools:
        abort(403)
    wanted = request.args.get("school", type=int)
    school = next((s for s in schools if s.school_id == wanted), schools[0])
    lines = bus().handle(ReviewQueue(school.school_id, user.id))
    with runtime().unit_of_work() as uow:
        years = retention_years(uow, school.school_id)
    return render_template(
        "children/review_queue.html", school=school, lines=lines, years=years, errors={}
    )


@bp.post("/retention/policy")
@login_required
def set_years() -> Page:
    """Change the school's retention rule (years after the youngest child's birth)."""
    user = _user()
    school_id = request.form.get("school", type=int)
    years = request.form.get("years", type=int)
    if school_id is None or years is None:
        abort(422)
    try:
        bus().handle(SetRetentionYears(school_id, user.id, years))
    except RequestInvalid as refused:
        tell(f"Not changed: {_sentence(str(refused))}.")
    else:
        tell(f"Records are now reviewed {years} years after the youngest child's birth.")
    return redirect(url_for("children.review_queue", school=school_id))


def _decision_page(incident_id: str, errors: dict[str, str], status: int) -> Page:
    line = bus().handle(ReadRetention(incident_id, _user().id))
    html = render_template(
        "children/retention.html",
        line=line,
        errors=errors,
        form=request.form,
        may_decide="dsl" in _user().roles_in(line.school_id),
    )
    return html, status


@bp.get("/incidents/<id:incident_id>/retention")
@login_required
def retention(incident_id: str) -> Page:
    """One record's review date, hold and the decisions a DSL can take."""
    return _decision_page(incident_id, {}, 200)


@bp.post("/incidents/<id:incident_id>/retention/<action>")
@login_required
def decide(incident_id: str, action: str) -> Page:
    """Keep (a reason and a new date), place or lift a legal hold, or delete (a reason)."""
    user, form = _user(), request.form
    reason = form.get("reason", "")
    try:
        if action == "keep":
            try:
                until = date.fromisoformat(form.get("until", "").strip())
            except ValueError:
                return _decision_page(
                    incident_id, {"until": "Enter the next review date as YYYY-MM-DD"}, 422
                )
            bus().handle(KeepRecord(incident_id, user.id, reason, until))
            tell("The record is kept; the reason and the next review date are recorded.")
        elif action in ("hold", "lift"):
            bus().handle(SetLegalHold(incident_id, user.id, action == "hold", reason))
            tell("Legal hold placed." if action == "hold" else "Legal hold lifted.")
        elif action == "delete":
            if form.get("confirm") != "yes":
                return _decision_page(
                    incident_id, {"confirm": "Tick the box to confirm the deletion"}, 422
                )
            reference = bus().handle(DeleteIncident(incident_id, user.id, reason))
            tell(f"Incident {reference} was deleted; the audit trail records that it was.")
            return redirect(url_for("children.review_queue"))
        else:
            abort(404)
    except (RequestInvalid, Conflict) as refused:
        field = str(refused).partition(":")[0]
        key = field if field in ("reason", "until") else "decision"
        return _decision_page(
            incident_id, {key: _sentence(str(refused))}, 422 if key != "decision" else 409
        )
    return redirect(url_for("children.retention", incident_id=incident_id))
