"""Administration pages: the schools you administer, one school's people and invitations."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Flask, abort, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from services.db import SqlAlchemyUnitOfWork
from services.db.models import Membership, School, User
from services.domain import people
from services.web.admin.forms import InviteForm, SchoolForm, SettingsForm
from services.web.auth.forms import error_summary_items
from services.web.auth.identity import SignedInUser, current_user
from services.web.extensions import runtime, unit_of_work
from services.web.navigation import add_navigation

bp = Blueprint("admin", __name__, url_prefix="/admin")
Page = Response | tuple[str, int] | str


def register_admin_pages(app: Flask) -> None:
    """Register the blueprint (with the person pages) and its menu link, for administrators."""
    from services.web.admin import invitation_views, person_views  # noqa: F401  # their routes

    app.register_blueprint(bp)
    app.register_blueprint(invitation_views.public)
    add_navigation(app, "Administration", "admin.index", visible=is_administrator)


def is_administrator(user: SignedInUser) -> bool:
    """Whether the person holds the admin role in any school."""
    return any("admin" in school.roles for school in user.schools)


@bp.before_request
def _administrators_only() -> Response | None:
    user = current_user()
    if user is None:
        return redirect(url_for("auth.sign_in", next=request.full_path.rstrip("?")))
    if not is_administrator(user):
        abort(403)
    return None


@bp.route("/", methods=["GET", "POST"])
def index() -> Page:
    """The schools you administer, and a form to add one."""
    user = signed_in()
    form = SchoolForm()
    if form.validate_on_submit():
        try:
            with unit_of_work() as uow:
                school = people.add_school(
                    uow, form.name.data, form.slug.data, actor_id=user.id, at=now()
                )
                uow.commit()
        except people.PeopleRefused as refused:
            form[refused.field].errors = [str(refused)]
        else:
            return redirect(url_for("admin.school", school_id=school.id))
    with unit_of_work() as uow:
        schools = [uow.schools.get(i) for i in people.administered_school_ids(uow, user.id)]
    html = render_template(
        "admin/index.html", schools=schools, form=form, errors=error_summary_items(form)
    )
    return html, 422 if form.errors else 200


@bp.route("/schools/<int:school_id>", methods=["GET", "POST"])
def school(school_id: int) -> Page:
    """One school: its people and their roles, invitations, and its sign-in setting."""
    user = signed_in()
    form = InviteForm()
    invited_link: str | None = None
    if form.validate_on_submit():
        try:
            invited_link = _invite(user, school_id, form)
        except people.PeopleRefused as refused:
            field = refused.field if refused.field in form else "email"
            form[field].errors = [str(refused)]
        else:
            form = InviteForm(formdata=None)  # done: an empty form for the next person
    with unit_of_work() as uow:
        found = _administered(uow, user, school_id)
        members = _members(uow, school_id)
        invitations = uow.invitations.list_for_schools([school_id], limit=50)
        audit_read(uow, "admin.school_viewed", f"school:{school_id}", user.id, school_id)
    settings_form = SettingsForm(staff_second_factor=found.staff_second_factor, formdata=None)
    html = render_template(
        "admin/school.html",
        school=found,
        members=members,
        invitations=invitations,
        form=form,
        settings_form=settings_form,
        errors=error_summary_items(form),
        invited_link=invited_link,
        now=now(),
    )
    return html, 422 if form.errors else 200


@bp.post("/schools/<int:school_id>/settings")
def school_settings(school_id: int) -> Response:
    """Save the school's sign-in setting."""
    user = signed_in()
    form = SettingsForm()
    with unit_of_work() as uow:
        _administered(uow, user, school_id)
        people.set_staff_second_factor(
            uow, school_id, bool(form.staff_second_factor.data), actor_id=user.id, at=now()
        )
        uow.commit()
    return redirect(url_for("admin.school", school_id=school_id))


def _invite(user: SignedInUser, school_id: int, form: InviteForm) -> str | None:
    app_runtime = runtime()
    with unit_of_work() as uow:
        invited = people.invite(
            uow,
            email=form.email.data,
            display_name=form.display_name.data,
            school_id=school_id,
            role=form.role.data,
            actor_id=user.id,
            at=now(),
        )
        link = None
        if invited is not None:
            school = uow.schools.get(school_id)
            assert school is not None  # invite() checked it
            link = f"{app_runtime.settings.base_url}/invitations/{invited.token}"
            people.tell_invitee(
                uow, invited, school, link, email_on=app_runtime.settings.smtp is not None, at=now()
            )
        uow.commit()
    return link


def _administered(uow: SqlAlchemyUnitOfWork, user: SignedInUser, school_id: int) -> School:
    try:
        return people.require_admin(uow, user.id, school_id)
    except people.PeopleRefused:
        abort(404)


def _members(uow: SqlAlchemyUnitOfWork, school_id: int) -> list[tuple[User, list[str]]]:
    query = (
        select(User, Membership.role)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.school_id == school_id)
        .order_by(User.display_name, User.id)
    )
    by_user: dict[int, tuple[User, list[str]]] = {}
    for person, role in uow.session.execute(query):
        by_user.setdefault(person.id, (person, []))[1].append(role)
    return list(by_user.values())


def audit_read(
    uow: SqlAlchemyUnitOfWork, action: str, target: str, actor_id: int, school_id: int
) -> None:
    """Record that an administrator read people's details (every read is audited)."""
    uow.audit.add(action, target, actor_id=actor_id, school_id=school_id, occurred_at=now())
    uow.commit()


def signed_in() -> SignedInUser:
    """The signed-in administrator (the blueprint's check let the request through)."""
    user = current_user()
    assert user is not None
    return user


def now() -> datetime:
    """The app's clock."""
    return runtime().clock.now()
