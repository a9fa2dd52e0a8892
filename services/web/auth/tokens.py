"""Bearer API tokens: issued by `safeguard token`, kept only as a hash, checked per API request."""

from __future__ import annotations

import secrets
from datetime import timedelta

from flask import Request

from services.db import SqlAlchemyUnitOfWork
from services.web.auth.identity import SignedInUser, load_signed_in_user
from services.web.extensions import runtime

TOKEN_PREFIX = "sgf_"  # noqa: S105  # a label, not a secret
# Recording every use would add a write to every API call; once a minute says enough.
_LAST_USED_RESOLUTION = timedelta(minutes=1)
_MAX_TOKEN_LENGTH = 200


def new_token() -> str:
    """Return a new random token (256 bits), prefixed so leaked ones are easy to recognise."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def issue_api_token(uow: SqlAlchemyUnitOfWork, user_id: int, label: str) -> str:
    """Store a new token's hash for the user (inside an open uow) and return the token itself."""
    token = new_token()
    uow.tokens.add(user_id, token, label)
    return token


def bearer_token(request: Request) -> str | None:
    """Return the token of an `Authorization: Bearer ...` header, or None."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > _MAX_TOKEN_LENGTH:
        return None
    return token


def load_user_from_bearer(request: Request) -> SignedInUser | None:
    """Return the user whose active token the request carries, or None (no, bad, revoked token).

    For the JSON API: its views authenticate with this alone (never the session cookie) and are
    exempted from CSRF with `services.web.extensions.exempt_from_csrf`.
    """
    token = bearer_token(request)
    if token is None:
        return None
    app_runtime = runtime()
    now = app_runtime.clock.now()
    with app_runtime.unit_of_work() as uow:
        api_token = uow.tokens.find_active(token)
        if api_token is None:
            return None
        user = uow.users.get(api_token.user_id)
        if user is None or not user.is_active:
            return None
        signed_in = load_signed_in_user(uow, user)
        last_used = api_token.last_used_at
        if last_used is None or now - last_used >= _LAST_USED_RESOLUTION:
            api_token.last_used_at = now
            uow.commit()
        return signed_in
