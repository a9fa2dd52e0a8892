"""The inbox page and its actions: claim, hand back, reassign. Each sends one domain command."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from services.db.errors import ConcurrentUpdate
from services.domain.access import READ_ONLY_ROLES, can_assign_tasks
from services.domain.commands import AssignTask, ClaimTask, UnclaimTask
from services.domain.errors import Conflict, RequestInvalid
from services.domain.queries import Inbox
from services.domain.read_models import ReadyTask
from services.web.auth.identity import (
    SchoolRoles,
    SignedInUser,
    current_user,
    login_required,
    safe_next,
)
from services.web.home.views import role_label
from services.web.inbox.forms import BACK_TO_ROLE, AssignForm
from services.web.incidents.case_views import open_incident
from services.web.incidents.pages import error_page, register_domain_errors, task_gone_page, tell
from services.web.incidents.reads import IncidentPageData
from services.web.incidents.web_bus import bus

bp = Blueprint("inbox", __name__)
register_domain_errors(bp)

PAGE_SIZE = 25
MAX_PAGE = 10_000
Page = Response | tuple[str, int] | str


@bp.get("/inbox")
@login_required
def index() -> Page:
    """One school's tasks for me: claimed by me, and my roles' unclaimed ones; overdue first."""
    user = _user()
    school = _chosen_school(user)
    if school is None:
        return render_template("inbox/index.html", school=None, schools=user.schools)
    page = min(max(1, request.args.get("page", 1, type=int)), MAX_PAGE)
    query = Inbox(user.id, school.school_id, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    items = bus().handle(query)
    shown = items[:PAGE_SIZE]
    return render_template(
        "inbox/index.html",
        school=school,
        schools=user.schools,
        mine=[item for item in shown if item.assignee_id == user.id],
        pool=[item for item in shown if item.assignee_id != user.id],
        acts=bool(set(school.roles) - READ_ONLY_ROLES),
        page=page,
        previous_url=_page_url(school, page - 1) if page > 1 else None,
        next_url=_page_url(school, page + 1) if len(items) > PAGE_SIZE else None,
    )


@bp.post("/inbox/tasks/<id:task_id>/claim")
@login_required
def claim(task_id: str) -> Response:
    """Take a task for oneself (audited); back to where the button was."""
    outcome = bus().handle(ClaimTask(task_id, _user().id))
    tell(f"You have claimed a task of incident {outcome.reference}.")
    return redirect(_back())


@bp.post("/inbox/tasks/<id:task_id>/unclaim")
@login_required
def unclaim(task_id: str) -> Response:
    """Hand a claimed task back to its role (audited)."""
    outcome = bus().handle(UnclaimTask(task_id, _user().id))
    tell(f"You have handed a task of incident {outcome.reference} back to its role.")
    return redirect(_back())


@bp.route("/inbox/incidents/<id:incident_id>/tasks/<id:task_id>/assign", methods=["GET", "POST"])
@login_required
def assign(incident_id: str, task_id: str) -> Page:
    """A DSL or the headteacher gives a task to someone else, or back to its role, with why."""
    user = _user()
    incident_url = url_for("incidents.incident", incident_id=incident_id)
    page = open_incident(incident_id)  # outside the need to know: 403, as nobody there may assign
    if not can_assign_tasks(user.roles_in(page.view.school_id), False).allowed:
        abort(403)
    ready = next((t for t in page.view.ready_tasks if t.task.id == task_id), None)
    if ready is None:
        return task_gone_page(posted=request.method == "POST", incident_url=incident_url)
    form = AssignForm()
    form.assignee.choices = _assignee_choices(page, ready)
    if form.validate_on_submit():
        chosen = None if form.assignee.data == BACK_TO_ROLE else int(form.assignee.data)
        try:
            bus().handle(AssignTask(task_id, user.id, chosen, form.reason.data))
        except RequestInvalid as refused:
            form.assignee.errors = [_sentence(str(refused))]
        except (Conflict, ConcurrentUpdate) as changed:
            return error_page(changed, incident_url=incident_url)
        else:
            role = f"the {role_label(ready.task.lane)} role"
            who = page.name_of(chosen) if chosen is not None else role
            tell(f"“{ready.task.name}” is now with {who}.")
            return redirect(incident_url)
    html = render_template("inbox/assign.html", view=page.view, ready=ready, form=form)
    return html, 422 if form.is_submitted() else 200


def _assignee_choices(page: IncidentPageData, ready: ReadyTask) -> list[tuple[str, str]]:
    roles = {ready.task.lane, *ready.task.candidate_groups}
    eligible = [
        person
        for person in page.people.values()
        if roles.intersection(set(person.roles) - READ_ONLY_ROLES)
    ]
    back = (BACK_TO_ROLE, f"Nobody: back to the {role_label(ready.task.lane)} role")
    return [back, *((str(p.id), p.name) for p in eligible if p.id != ready.assignee_id)]


def _chosen_school(user: SignedInUser) -> SchoolRoles | None:
    wanted = request.args.get("school", type=int)
    if wanted is not None:
        found = next((s for s in user.schools if s.school_id == wanted), None)
        if found is None:
            abort(404)
        return found
    acting = [s for s in user.schools if set(s.roles) - READ_ONLY_ROLES]
    candidates = acting or list(user.schools)
    return candidates[0] if candidates else None


def _page_url(school: SchoolRoles, page: int) -> str:
    return url_for("inbox.index", school=school.school_id, page=page)


def _back() -> str:
    return safe_next(request.form.get("next")) or url_for("inbox.index")


def _sentence(text: str) -> str:
    reason = text.partition(": ")[2] or text
    return reason[:1].upper() + reason[1:]


def _user() -> SignedInUser:
    user = current_user()
    assert user is not None  # login_required let the request through
    return user
