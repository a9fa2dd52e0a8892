"""Name the children of an incident, confirm or merge them, and read a child's chronology."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from services.domain.children.access import CHRONOLOGY_ROLES
from services.domain.children.messages import (
    AddParty,
    ConfirmChild,
    MergeChildren,
    NameChild,
    PeopleOfIncident,
    ReadChronology,
    SchoolChildren,
)
from services.domain.errors import Conflict, RequestInvalid
from services.domain.history_queries import fingerprint
from services.web.auth.identity import SignedInUser, current_user, login_required
from services.web.cases.views import text_key
from services.web.incidents.pages import register_domain_errors, tell
from services.web.incidents.web_bus import bus

bp = Blueprint("children", __name__)
register_domain_errors(bp)

Page = Response | tuple[str, int] | str
ROLE_NAMES = {
    "pictured": "Pictured",
    "shared": "Shared the image",
    "received": "Received the image",
    "disclosed": "Disclosed or reported",
}
PARTY_KINDS = {
    "adult": "An adult (18 or over)",
    "staff_or_volunteer": "A member of staff or a volunteer",
    "parent_or_carer": "A parent or carer",
    "other": "Someone else",
}


def _user() -> SignedInUser:
    user = current_user()
    assert user is not None  # login_required ran first
    return user


def _people_page(incident_id: str, errors: dict[str, str] | None = None, status: int = 200) -> Page:
    user = _user()
    people = bus().handle(PeopleOfIncident(incident_id, user.id))
    known = []
    if CHRONOLOGY_ROLES & user.roles_in(people.school_id):
        known = bus().handle(SchoolChildren(people.school_id, user.id))
    html = render_template(
        "children/incident_children.html",
        people=people,
        known=known,
        roles=ROLE_NAMES,
        party_kinds=PARTY_KINDS,
        errors=errors or {},
        form=request.form if request.method == "POST" else {},
    )
    return html, status


@bp.get("/incidents/<id:incident_id>/children")
@login_required
def incident_children(incident_id: str) -> Page:
    """The children and adults of an incident, with forms to name more (logged)."""
    return _people_page(incident_id)


@bp.post("/incidents/<id:incident_id>/children")
@login_required
def name_child(incident_id: str) -> Page:
    """Name a new child, or (DSL, headteacher) link a child the school knows."""
    form = request.form
    child_id = form.get("child_id", "").strip()
    errors: dict[str, str] = {}
    born: date | None = None
    if form.get("date_of_birth", "").strip():
        try:
            born = date.fromisoformat(form["date_of_birth"].strip())
        except ValueError:
            errors["date_of_birth"] = "Enter the date of birth as YYYY-MM-DD"
    if form.get("role") not in ROLE_NAMES:
        errors["role"] = "Choose how the child is involved"
    if child_id and not child_id.isdigit():
        errors["child_id"] = "Choose a child from the list"
    if errors:
        return _people_page(incident_id, errors, 422)
    command = NameChild(
        incident_id,
        _user().id,
        form["role"],
        name=None if child_id else form.get("name", ""),
        date_of_birth=None if child_id else born,
        year_group=None if child_id else form.get("year_group") or None,
        child_id=int(child_id) if child_id else None,
    )
    try:
        bus().handle(command)
    except (RequestInvalid, Conflict) as refused:
        field = str(refused).partition(":")[0] if ":" in str(refused) else "name"
        key = field if field in {"name", "date_of_birth", "year_group"} else "name"
        return _people_page(incident_id, {key: _sentence(str(refused))}, 422)
    tell("The child has been recorded.")
    return redirect(url_for("children.incident_children", incident_id=incident_id))


@bp.post("/incidents/<id:incident_id>/parties")
@login_required
def add_party(incident_id: str) -> Page:
    """Record an adult involved in the incident."""
    form = request.form
    try:
        bus().handle(
            AddParty(incident_id, _user().id, form.get("description", ""), form.get("kind", ""))
        )
    except RequestInvalid as refused:
        return _people_page(incident_id, {"description": _sentence(str(refused))}, 422)
    tell("The adult has been recorded.")
    return redirect(url_for("children.incident_children", incident_id=incident_id))


@bp.post("/children/<int:child_id>/confirm")
@login_required
def confirm(child_id: int) -> Page:
    """A DSL confirms a child named by the person reporting."""
    bus().handle(ConfirmChild(child_id, _user().id))
    tell("The child is confirmed.")
    return redirect(request.form.get("back") or url_for("children.chronology", child_id=child_id))


@bp.route("/children/<int:child_id>/merge", methods=["GET", "POST"])
@login_required
def merge(child_id: int) -> Page:
    """A DSL merges a duplicate into the child the school already knows, with a reason."""
    user = _user()
    chronology = bus().handle(ReadChronology(child_id, user.id))
    if chronology.child.id != child_id:
        return redirect(url_for("children.chronology", child_id=chronology.child.id))
    known = [
        c
        for c in bus().handle(SchoolChildren(chronology.child.school_id, user.id))
        if c.id != child_id
    ]
    errors: dict[str, str] = {}
    if request.method == "POST":
        into = request.form.get("into", "")
        if not into.isdigit():
            errors["into"] = "Choose the child this record duplicates"
        else:
            try:
                survivor = bus().handle(
                    MergeChildren(child_id, int(into), user.id, request.form.get("reason", ""))
                )
            except RequestInvalid as refused:
                errors["reason"] = _sentence(str(refused))
            else:
                tell("The two records are now one.")
                return redirect(url_for("children.chronology", child_id=survivor))
    html = render_template(
        "children/merge.html",
        child=chronology.child,
        known=known,
        errors=errors,
        form=request.form,
    )
    return html, 422 if errors else 200


@bp.get("/children/<int:child_id>")
@login_required
def chronology(child_id: int) -> Page:
    """A child's chronology across incidents (DSL and headteacher; the read is logged)."""
    found = bus().handle(ReadChronology(child_id, _user().id))
    if found.child.id != child_id:
        return redirect(url_for("children.chronology", child_id=found.child.id))
    may_lead = "dsl" in _user().roles_in(found.child.school_id)
    return render_template("children/chronology.html", chronology=found, may_lead=may_lead)


@bp.get("/children")
@login_required
def school_children() -> Page:
    """The children a school knows (DSL and headteacher), searchable by name."""
    user = _user()
    schools = [s for s in user.schools if CHRONOLOGY_ROLES & set(s.roles)]
    if not schools:
        abort(403)
    wanted = request.args.get("school", type=int)
    school = next((s for s in schools if s.school_id == wanted), schools[0])
    search = request.args.get("q", "")[:100]
    typed = fingerprint(text_key(), search) if search.strip() else None
    children = bus().handle(SchoolChildren(school.school_id, user.id, search, typed))
    return render_template(
        "children/school_children.html",
        school=school,
        schools=schools,
        children=children,
        search=search,
    )


def _sentence(text: str) -> str:
    reason = text.partition(": ")[2] if ": " in text else text
    reason = reason.strip()
    return (reason[:1].upper() + reason[1:]) if reason else text
