"""Sign-in pages: email and password, then (dsl, headteacher, admin) an authenticator code."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from services.db.models.accounts import normalise_email
from services.web.auth import totp
from services.web.auth.forms import CodeForm, SignInForm, error_summary_items
from services.web.auth.identity import (
    current_user,
    end_every_session,
    end_session,
    safe_next,
    start_session,
)
from services.web.auth.rate_limit import LoginLimit
from services.web.auth.signin import (
    Attempt,
    SignInLocked,
    SignInRefused,
    check_code,
    check_password,
)
from services.web.extensions import runtime, unit_of_work

bp = Blueprint("auth", __name__)

WRONG_CREDENTIALS = "Enter a correct email address and password"
WRONG_CODE = "The code is not right or has expired: enter the code the app shows now"
# How long someone has between a right password and entering their code.
PENDING_LIFETIME = timedelta(minutes=10)
_UK = ZoneInfo("Europe/London")
Page = Response | tuple[str, int] | str


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Page:
    """Ask for email and password; sign in, or go on to the code or its set-up."""
    if current_user() is not None:
        return redirect(safe_next(request.args.get("next")) or url_for("home.index"))
    form = SignInForm()
    if not form.validate_on_submit():
        return _sign_in_page(form)
    attempt = attempt_from_request(form.email.data or "")
    try:
        accepted = check_password(unit_of_work(), attempt, form.password.data or "", _limit())
    except SignInLocked as locked:
        return _locked_page(form, locked.until, attempt.at)
    except SignInRefused:
        form.password.errors = [WRONG_CREDENTIALS]
        return _sign_in_page(form)
    next_url = safe_next(request.args.get("next"))
    if not accepted.needs_code:
        start_session(accepted.user_id, accepted.session_generation, attempt.at)
        return redirect(next_url or url_for("home.index"))
    session.clear()  # nothing from before the password carries over
    session["pending"] = {
        "user_id": accepted.user_id,
        "email": attempt.email,
        "since": attempt.at.timestamp(),
        "next": next_url,
    }
    step = "auth.code" if accepted.enrolled else "auth.set_up_authenticator"
    return redirect(url_for(step))


@bp.route("/sign-in/code", methods=["GET", "POST"])
def code() -> Page:
    """Ask for the authenticator code of someone whose password was right."""
    pending = _pending()
    if pending is None:
        return redirect(url_for("auth.sign_in"))
    form = CodeForm()
    if form.validate_on_submit():
        done = _confirm_code(form, pending, enrolling_secret=None)
        if done is not None:
            return done
    return render_template("auth/code.html", form=form, errors=error_summary_items(form))


@bp.route("/sign-in/set-up-authenticator", methods=["GET", "POST"])
def set_up_authenticator() -> Page:
    """Show a new TOTP secret (as text and an otpauth URI) and enrol it once a code matches."""
    pending = _pending()
    if pending is None:
        return redirect(url_for("auth.sign_in"))
    secret = pending.get("secret")
    if not isinstance(secret, str):
        secret = totp.new_secret()
        session["pending"] = {**pending, "secret": secret}
    form = CodeForm()
    if form.validate_on_submit():
        done = _confirm_code(form, pending, enrolling_secret=secret)
        if done is not None:
            return done
    return render_template(
        "auth/set_up_authenticator.html",
        form=form,
        errors=error_summary_items(form),
        email=pending["email"],
        secret_grouped=totp.grouped(secret),
        otpauth_uri=totp.provisioning_uri(secret, pending["email"]),
    )


@bp.post("/sign-out")
def sign_out() -> Response:
    """Sign out on every device, copies of the cookie included (a POST with the CSRF token)."""
    user = current_user()
    if user is not None:
        with unit_of_work() as uow:
            end_every_session(uow, user.id)
            uow.audit.add(
                "auth.signed_out",
                f"user:{user.id}",
                actor_id=user.id,
                new_values={"address": _address()},
                occurred_at=runtime().clock.now(),
            )
            uow.commit()
    end_session()
    return redirect(url_for("auth.signed_out"))


@bp.get("/signed-out")
def signed_out() -> str:
    """Say the session has ended, with the sign-in form ready."""
    return render_template("auth/sign_in.html", form=SignInForm(), errors=[], signed_out=True)


def _confirm_code(
    form: CodeForm, pending: dict[str, Any], *, enrolling_secret: str | None
) -> Page | None:
    attempt = attempt_from_request(pending["email"])
    try:
        generation = check_code(
            unit_of_work(),
            attempt,
            pending["user_id"],
            form.code.data or "",
            _limit(),
            enrolling_secret=enrolling_secret,
        )
    except SignInLocked as locked:
        session.pop("pending", None)
        return _locked_page(SignInForm(email=pending["email"]), locked.until, attempt.at)
    except SignInRefused:
        form.code.errors = [WRONG_CODE]
        return None
    start_session(pending["user_id"], generation, attempt.at, second_factor=True)
    return redirect(pending.get("next") or url_for("home.index"))


def _pending() -> dict[str, Any] | None:
    """The half-finished sign-in in the session, if any and not too old."""
    pending = session.get("pending")
    if not isinstance(pending, dict):
        return None
    since = pending.get("since")
    now = runtime().clock.now().timestamp()
    if not isinstance(since, float | int) or now - since > PENDING_LIFETIME.total_seconds():
        session.pop("pending", None)
        return None
    return pending


def _sign_in_page(form: SignInForm) -> Page:
    return render_template("auth/sign_in.html", form=form, errors=error_summary_items(form))


def _locked_page(form: SignInForm, until: datetime, now: datetime) -> Response:
    message = lockout_message(until, now)
    html = render_template("auth/sign_in.html", form=form, errors=[{"text": message}])
    wait = max(1, math.ceil((until - now).total_seconds()))
    return Response(html, status=429, headers={"Retry-After": str(wait)}, mimetype="text/html")


def lockout_message(until: datetime, now: datetime) -> str:
    """Say when to try again, in seconds or minutes and as a UK clock time ("after 2:32pm")."""
    seconds = max(1, math.ceil((until - now).total_seconds()))
    if seconds < 60:
        unit = "second" if seconds == 1 else "seconds"
        return f"You have tried to sign in too many times. Try again in {seconds} {unit}."
    minutes = math.ceil(seconds / 60)
    local = until.astimezone(_UK)
    clock = f"{local.hour % 12 or 12}:{local.minute:02d}{'am' if local.hour < 12 else 'pm'}"
    unit = "minute" if minutes == 1 else "minutes"
    return (
        f"You have tried to sign in too many times. Try again in {minutes} {unit}, after {clock}."
    )


def attempt_from_request(email: str) -> Attempt:
    """A sign-in attempt for this email from this request's address, at the app's time."""
    app_runtime = runtime()
    return Attempt.make(
        app_runtime.settings.secret_key,
        normalise_email(email),
        _address(),
        app_runtime.clock.now(),
    )


def _address() -> str:
    return request.remote_addr or "unknown"


def _limit() -> LoginLimit:
    settings = runtime().settings
    return LoginLimit(
        max_failures=settings.login_max_failures,
        window=timedelta(minutes=settings.login_window_minutes),
        address_max_failures=settings.login_address_max_failures,
        email_on=settings.smtp is not None,
    )
