"""Accepting an invitation: the one-time link lets the invited person choose a password."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for

from services.domain import people
from services.web.admin.forms import AcceptInvitationForm
from services.web.admin.views import Page, now
from services.web.auth import passwords
from services.web.auth.forms import error_summary_items
from services.web.auth.identity import end_session
from services.web.extensions import unit_of_work

public = Blueprint("invitations", __name__)
_TOKEN_LIMIT = 100


@public.route("/invitations/<token>", methods=["GET", "POST"])
def accept(token: str) -> Page:
    """Ask for a new password; on success, send the person to sign in (and set up a code)."""
    if len(token) > _TOKEN_LIMIT:
        return _gone()
    with unit_of_work() as uow:
        invitation = uow.invitations.find_open(token, now())
        school = uow.schools.get(invitation.school_id) if invitation else None
    if invitation is None or school is None:
        return _gone()
    form = AcceptInvitationForm()
    if form.validate_on_submit():
        try:
            with unit_of_work() as uow:
                people.accept_invitation(
                    uow, token, passwords.hash_password(form.password.data), at=now()
                )
                uow.commit()
        except people.PeopleRefused:
            return _gone()
        end_session()  # whoever was signed in here, the invited person signs in next
        return redirect(url_for("auth.sign_in", invited="1"))
    html = render_template(
        "admin/accept_invitation.html",
        form=form,
        errors=error_summary_items(form),
        invitation=invitation,
        school=school,
    )
    return html, 422 if form.errors else 200


def _gone() -> tuple[str, int]:
    return render_template("admin/invitation_gone.html"), 404
