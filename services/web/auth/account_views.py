"""Your API tokens: list them (with their last use), create one (shown once), revoke one."""

from __future__ import annotations

from flask import abort, redirect, render_template, session, url_for
from werkzeug.wrappers import Response

from services.web.auth.forms import ApiTokenForm, error_summary_items
from services.web.auth.identity import SignedInUser, current_user, login_required
from services.web.auth.tokens import TokenRefused, issue_api_token, revoke_api_tokens
from services.web.auth.views import bp
from services.web.extensions import runtime, unit_of_work

Page = Response | tuple[str, int] | str
_SHOWN_TOKENS = 50


@bp.route("/account/api-tokens", methods=["GET", "POST"])
@login_required
def api_tokens() -> Page:
    """List the signed-in person's tokens; create one from the form (shown only this once)."""
    user = _user()
    form = ApiTokenForm()
    created: str | None = None
    if _has_second_factor() and form.validate_on_submit():
        try:
            with unit_of_work() as uow:
                created = issue_api_token(
                    uow,
                    user.id,
                    form.label.data.strip(),
                    scope=form.scope.data,
                    days=form.days.data,
                    at=runtime().clock.now(),
                    actor_id=user.id,
                )
                uow.commit()
        except TokenRefused as refused:
            form.label.errors = [str(refused)]
    status = 422 if form.is_submitted() and created is None else 200
    html = render_template(
        "auth/api_tokens.html",
        form=form,
        errors=error_summary_items(form),
        created=created,
        tokens=_tokens_of(user.id),
        may_create=_has_second_factor(),
        now=runtime().clock.now(),
    )
    return html, status


@bp.post("/account/api-tokens/<int:token_id>/revoke")
@login_required
def revoke_api_token(token_id: int) -> Response:
    """Revoke one of the signed-in person's tokens (a POST with the CSRF token)."""
    user = _user()  # CSRFProtect has checked the form's token already
    with unit_of_work() as uow:
        token = uow.tokens.get(token_id)
        if token is None or token.user_id != user.id:
            abort(404)
        revoke_api_tokens(uow, user.id, [token_id], actor_id=user.id, at=runtime().clock.now())
        uow.commit()
    return redirect(url_for("auth.api_tokens"))


def _tokens_of(user_id: int) -> list[object]:
    with unit_of_work() as uow:
        return list(uow.tokens.list_for_user(user_id, limit=_SHOWN_TOKENS))


def _has_second_factor() -> bool:
    # Tokens stand in for a person who signed in with a second factor, never a password alone.
    return session.get("second_factor") is True


def _user() -> SignedInUser:
    user = current_user()
    assert user is not None  # login_required let the request through
    return user
