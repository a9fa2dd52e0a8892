"""One person in one school: roles, deactivate or reactivate, reset the second factor, tokens."""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, redirect, render_template, url_for

from services.db import SqlAlchemyUnitOfWork
from services.db.models import ApiToken, User
from services.domain import people
from services.web.admin.forms import ReasonForm, RolesForm
from services.web.admin.views import Page, audit_read, bp, now, signed_in
from services.web.auth.forms import error_summary_items
from services.web.extensions import unit_of_work

_PERSON = "/schools/<int:school_id>/people/<int:user_id>"


@bp.get(_PERSON)
def person(school_id: int, user_id: int) -> Page:
    """The person's roles here, their sign-in state, their tokens, and what may be done."""
    with unit_of_work() as uow:
        found = _person(uow, school_id, user_id)
        roles = sorted(uow.users.roles_in(user_id, school_id))
        tokens = uow.tokens.list_for_user(user_id, limit=50)
        audit_read(uow, "admin.person_viewed", f"user:{user_id}", signed_in().id, school_id)
    return _page(school_id, found, roles, tokens, RolesForm(roles=roles), ReasonForm(), 200)


@bp.post(_PERSON + "/roles")
def roles(school_id: int, user_id: int) -> Page:
    """Give and take away roles in this school."""
    form = RolesForm()
    chosen = set(form.roles.data or [])

    def change(uow: SqlAlchemyUnitOfWork, actor_id: int) -> None:
        held = uow.users.roles_in(user_id, school_id)
        for role in sorted(chosen ^ held):
            people.set_role(
                uow, user_id, school_id, role, role in chosen, actor_id=actor_id, at=now()
            )

    return _act(school_id, user_id, form, change)


@bp.post(_PERSON + "/deactivate")
def deactivate(school_id: int, user_id: int) -> Page:
    """Stop the person signing in (their sessions and tokens end), with a reason."""
    return _with_reason(school_id, user_id, people.set_active, False)


@bp.post(_PERSON + "/reactivate")
def reactivate(school_id: int, user_id: int) -> Page:
    """Let a deactivated person sign in again, with a reason."""
    return _with_reason(school_id, user_id, people.set_active, True)


@bp.post(_PERSON + "/reset-second-factor")
def reset_second_factor(school_id: int, user_id: int) -> Page:
    """Forget the person's authenticator app (they set up a new one), with a reason."""
    form = ReasonForm()

    def reset(uow: SqlAlchemyUnitOfWork, actor_id: int) -> None:
        people.reset_second_factor(
            uow, user_id, actor_id=actor_id, reason=form.reason.data or "", at=now()
        )

    return _act(school_id, user_id, form, reset)


@bp.post(_PERSON + "/revoke-tokens")
def revoke_tokens(school_id: int, user_id: int) -> Page:
    """Revoke every working API token of the person."""
    form = RolesForm(formdata=None)  # CSRFProtect has checked the token already

    def revoke(uow: SqlAlchemyUnitOfWork, actor_id: int) -> None:
        people.revoke_tokens(uow, user_id, actor_id=actor_id, at=now())

    return _act(school_id, user_id, form, revoke, validate=False)


def _with_reason(school_id: int, user_id: int, action: Callable[..., object], active: bool) -> Page:
    form = ReasonForm()

    def change(uow: SqlAlchemyUnitOfWork, actor_id: int) -> None:
        action(uow, user_id, active, actor_id=actor_id, reason=form.reason.data or "", at=now())

    return _act(school_id, user_id, form, change)


def _act(
    school_id: int,
    user_id: int,
    form: ReasonForm | RolesForm,
    change: Callable[[SqlAlchemyUnitOfWork, int], None],
    *,
    validate: bool = True,
) -> Page:
    actor = signed_in()
    if not validate or form.validate_on_submit():
        try:
            with unit_of_work() as uow:
                _person(uow, school_id, user_id)
                change(uow, actor.id)
                uow.commit()
        except people.PeopleRefused as refused:
            field = refused.field if refused.field in form else next(iter(form)).name
            form[field].errors = [str(refused)]
        else:
            return redirect(url_for("admin.person", school_id=school_id, user_id=user_id))
    with unit_of_work() as uow:
        found = _person(uow, school_id, user_id)
        held = sorted(uow.users.roles_in(user_id, school_id))
        tokens = uow.tokens.list_for_user(user_id, limit=50)
    roles_form = form if isinstance(form, RolesForm) else RolesForm(roles=held, formdata=None)
    reason_form = form if isinstance(form, ReasonForm) else ReasonForm(formdata=None)
    return _page(school_id, found, held, tokens, roles_form, reason_form, 422)


def _person(uow: SqlAlchemyUnitOfWork, school_id: int, user_id: int) -> User:
    try:
        people.require_admin(uow, signed_in().id, school_id)
    except people.PeopleRefused:
        abort(404)
    user = uow.users.get(user_id)
    if user is None or school_id not in uow.users.school_ids_of(user_id):
        abort(404)
    return user


def _page(
    school_id: int,
    person: User,
    roles: list[str],
    tokens: list[ApiToken],
    roles_form: RolesForm,
    reason_form: ReasonForm,
    status: int,
) -> Page:
    with unit_of_work() as uow:
        school = uow.schools.get(school_id)
    errors = error_summary_items(roles_form) + error_summary_items(reason_form)
    html = render_template(
        "admin/person.html",
        school=school,
        person=person,
        roles=roles,
        tokens=tokens,
        roles_form=roles_form,
        reason_form=reason_form,
        errors=errors,
        now=now(),
        is_self=person.id == signed_in().id,
    )
    return html, status
