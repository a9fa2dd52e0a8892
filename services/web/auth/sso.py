"""Single sign-on with OpenID Connect (Authlib): people are matched to accounts by verified email.

The provider (SAFEGUARD_OIDC_ISSUER) proves who someone is; Authlib checks the ID token's
signature (the provider's published keys), issuer, audience, expiry and nonce. We then need an
active account with that email, and the provider must say the email is verified: nobody gets an
account by signing in. People whose role needs a second factor still enter our code, unless the
school trusts the provider's (SAFEGUARD_OIDC_TRUST_MFA and an `amr` claim naming one).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Flask, abort, current_app, redirect, render_template, session, url_for
from joserfc.errors import JoseError
from requests import RequestException
from werkzeug.wrappers import Response

from services.config import OidcSettings
from services.db import SqlAlchemyUnitOfWork
from services.db.models.accounts import normalise_email
from services.web.auth.identity import start_session
from services.web.auth.rate_limit import SIGN_IN_FAILED
from services.web.auth.signin import (
    Attempt,
    needs_second_factor,
    record_signed_in,
    user_target,
)
from services.web.auth.views import attempt_from_request, bp
from services.web.extensions import unit_of_work

logger = logging.getLogger(__name__)
OAUTH_KEY = "safeguard.oauth"
# amr values (RFC 8176) that mean the provider checked more than a password.
SECOND_FACTOR_AMR = frozenset({"mfa", "otp", "hwk", "swk", "fido"})
SSO_REFUSED = (
    "We could not sign you in with {name}: {why}. Sign in with your password, or ask your "
    "administrator."
)


def init_sso(app: Flask, oidc: OidcSettings | None) -> None:
    """Register the provider with Authlib when SSO is configured (else its routes are a 404)."""
    app.config["SAFEGUARD_OIDC"] = oidc
    if oidc is None:
        return
    oauth = OAuth(app)
    oauth.register(
        "sso",
        client_id=oidc.client_id,
        client_secret=oidc.client_secret,
        server_metadata_url=f"{oidc.issuer}/.well-known/openid-configuration",
        client_kwargs={"scope": "openid email profile"},
    )
    app.extensions[OAUTH_KEY] = oauth


def sso_settings() -> OidcSettings | None:
    """The app's OIDC settings (None when SSO is off)."""
    found = current_app.config.get("SAFEGUARD_OIDC")
    return found if isinstance(found, OidcSettings) else None


@bp.get("/sign-in/sso")
def sso() -> Response:
    """Send the person to the identity provider."""
    oidc = sso_settings()
    if oidc is None:
        abort(404)
    client = current_app.extensions[OAUTH_KEY].sso
    callback = url_for("auth.sso_callback", _external=True)
    return client.authorize_redirect(callback)  # type: ignore[no-any-return]


@bp.get("/sign-in/sso/callback")
def sso_callback() -> Response | tuple[str, int]:
    """Check the provider's answer and sign in the matching account (or ask for our code)."""
    oidc = sso_settings()
    if oidc is None:
        abort(404)
    try:
        token = current_app.extensions[OAUTH_KEY].sso.authorize_access_token()
    except (OAuthError, JoseError, ValueError, KeyError) as error:
        # A bad state, code, signature, issuer, audience, nonce or expiry: all mean no.
        logger.info("sso: refused the provider's answer: %s", type(error).__name__)
        return _refused(oidc, "the provider's answer was not accepted")
    except RequestException as error:
        logger.warning("sso: the provider could not be reached: %s", type(error).__name__)
        return _refused(oidc, "the provider could not be reached")
    claims: dict[str, Any] = dict(token.get("userinfo") or {})
    email = normalise_email(str(claims.get("email") or ""))
    attempt = attempt_from_request(email)
    outcome = accept_sso(
        unit_of_work(),
        attempt,
        verified=claims.get("email_verified") is True,
        provider_second_factor=oidc.trust_mfa and _has_second_factor(claims),
        subject=str(claims.get("sub") or ""),
    )
    if outcome.refusal is not None:
        return _refused(oidc, outcome.refusal)
    assert outcome.user_id is not None and outcome.generation is not None
    if outcome.needs_code:
        session.clear()
        session["pending"] = {
            "user_id": outcome.user_id,
            "email": email,
            "since": attempt.at.timestamp(),
            "next": None,
        }
        return redirect(url_for("auth.code" if outcome.enrolled else "auth.set_up_authenticator"))
    start_session(
        outcome.user_id, outcome.generation, attempt.at, second_factor=outcome.second_factor
    )
    return redirect(url_for("home.index"))


@dataclass(frozen=True)
class SsoOutcome:
    """What a single sign-on leads to: a refusal, our code next, or a session now."""

    refusal: str | None = None
    user_id: int | None = None
    generation: int | None = None
    needs_code: bool = False
    enrolled: bool = False
    second_factor: bool = False


def accept_sso(
    uow: SqlAlchemyUnitOfWork,
    attempt: Attempt,
    *,
    verified: bool,
    provider_second_factor: bool,
    subject: str,
) -> SsoOutcome:
    """Match the provider's verified email to an active account; audit the outcome."""
    with uow:
        user = uow.users.get_by_email(attempt.email) if attempt.email else None
        why = None
        if not verified:
            why = "the provider did not say your email address is verified"
        elif user is None or not user.is_active:
            why = "no active account has your email address"
        if why is not None or user is None:
            uow.audit.add(
                SIGN_IN_FAILED,
                user_target(user),
                actor_id=user.id if user is not None else None,
                reason=f"sso: {why}",
                new_values={
                    "attempt_key": attempt.key,
                    "address": attempt.address,
                    "method": "oidc",
                },
                occurred_at=attempt.at,
            )
            uow.commit()
            return SsoOutcome(refusal=why or "no account")
        needs_code = (
            user.totp_secret is not None or needs_second_factor(uow, user.id)
        ) and not provider_second_factor
        if not needs_code:
            factor = "provider" if provider_second_factor else "none"
            record_signed_in(
                uow, attempt, user, {"method": "oidc", "second_factor": factor, "sub": subject}
            )
        outcome = SsoOutcome(
            user_id=user.id,
            generation=user.session_generation,
            needs_code=needs_code,
            enrolled=user.totp_secret is not None,
            second_factor=provider_second_factor,
        )
        uow.commit()
        return outcome


def _has_second_factor(claims: dict[str, Any]) -> bool:
    amr = claims.get("amr")
    return isinstance(amr, list) and any(str(value) in SECOND_FACTOR_AMR for value in amr)


def _refused(oidc: OidcSettings, why: str) -> tuple[str, int]:
    from services.web.auth.forms import SignInForm

    message = SSO_REFUSED.format(name=oidc.name, why=why)
    html = render_template("auth/sign_in.html", form=SignInForm(), errors=[{"text": message}])
    return html, 403
