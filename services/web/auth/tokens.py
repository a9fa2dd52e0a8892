"""Bearer API tokens: scoped, expiring, stored as a hash, only for people with a second factor.

A token is "read" (GET only) or "write" (read and write). It stops working when it expires, is
revoked (by its owner or an admin), its user is deactivated, or its user no longer has a second
factor (an admin reset it): a password alone never stands behind an API call.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta

from flask import Request
from werkzeug.exceptions import Forbidden

from services.db import SqlAlchemyUnitOfWork
from services.db.column_types import utcnow
from services.db.models.accounts import TOKEN_SCOPES
from services.web.auth.identity import SignedInUser, signed_in_user
from services.web.extensions import runtime

TOKEN_PREFIX = "sgf_"  # noqa: S105  # a label, not a secret
TOKEN_ISSUED = "auth.token_issued"  # noqa: S105  # an audit action, not a secret
TOKEN_REVOKED = "auth.token_revoked"  # noqa: S105  # an audit action, not a secret
DEFAULT_LIFETIME_DAYS = 90
MAX_LIFETIME_DAYS = 366
# Recording every use would add a write to every API call; once a minute says enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)
_MAX_TOKEN_LENGTH = 200
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_DAYS = re.compile(r"(\d{1,4})d?")


class TokenRefused(Exception):
    """A token cannot be issued: the message says why (no second factor, bad scope or expiry)."""


class ReadOnlyToken(Forbidden):
    """A read-only token was sent with a request that writes."""

    description = "this API token is read-only: issue one with the write scope to change anything"


def new_token() -> str:
    """Return a new random token (256 bits), prefixed so leaked ones are easy to recognise."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def lifetime_days(text: str) -> int:
    """Read a lifetime like "30" or "30d" (1 to 366 days); TokenRefused names the problem."""
    found = _DAYS.fullmatch(text.strip().lower())
    days = int(found.group(1)) if found else 0
    if not 1 <= days <= MAX_LIFETIME_DAYS:
        raise TokenRefused(
            f"expiry {text!r}: give a number of days from 1 to {MAX_LIFETIME_DAYS}, like 30d"
        )
    return days


def issue_api_token(
    uow: SqlAlchemyUnitOfWork,
    user_id: int,
    label: str,
    *,
    scope: str = "write",
    days: int = DEFAULT_LIFETIME_DAYS,
    at: datetime | None = None,
    actor_id: int | None = None,
) -> str:
    """Store a new token's hash for the user (inside an open uow; audited) and return the token.

    TokenRefused when the user has no second factor, or the scope or lifetime is not allowed.
    """
    user = uow.users.get(user_id)
    if user is None or not user.is_active:
        raise TokenRefused("no active user has this id")
    if user.totp_secret is None:
        raise TokenRefused(
            f"{user.email} has no second factor: API tokens are only for people who sign in "
            "with an authenticator app (they set it up at their next sign-in)"
        )
    if scope not in TOKEN_SCOPES:
        raise TokenRefused(f"scope {scope!r}: use one of {', '.join(TOKEN_SCOPES)}")
    if not 1 <= days <= MAX_LIFETIME_DAYS:
        raise TokenRefused(f"lifetime {days} days: use 1 to {MAX_LIFETIME_DAYS}")
    now = at or utcnow()
    token = new_token()
    record = uow.tokens.add(
        user_id, token, label, scope=scope, created_at=now, expires_at=now + timedelta(days=days)
    )
    uow.audit.add(
        TOKEN_ISSUED,
        f"user:{user_id}",
        actor_id=actor_id,
        new_values={"token_id": record.id, "label": label, "scope": scope, "days": days},
        occurred_at=now,
    )
    return token


def revoke_api_tokens(
    uow: SqlAlchemyUnitOfWork, user_id: int, token_ids: list[int], *, actor_id: int, at: datetime
) -> list[int]:
    """Revoke these tokens of the user (others' ids are ignored), audited; return those revoked."""
    own = [i for i in token_ids if (t := uow.tokens.get(i)) is not None and t.user_id == user_id]
    revoked = uow.tokens.revoke(own, at, by=actor_id)
    for token_id in revoked:
        uow.audit.add(
            TOKEN_REVOKED,
            f"user:{user_id}",
            actor_id=actor_id,
            new_values={"token_id": token_id},
            occurred_at=at,
        )
    return revoked


def bearer_token(request: Request) -> str | None:
    """Return the token of an `Authorization: Bearer ...` header, or None."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > _MAX_TOKEN_LENGTH:
        return None
    return token


def load_user_from_bearer(request: Request) -> SignedInUser | None:
    """Return the user whose working token the request carries, or None (no, bad, expired token).

    For the JSON API: its views authenticate with this alone (never the session cookie) and are
    exempted from CSRF with `services.web.extensions.exempt_from_csrf`. Raises ReadOnlyToken
    (403) for a read-only token on a request that writes.
    """
    token = bearer_token(request)
    if token is None:
        return None
    app_runtime = runtime()
    now = app_runtime.clock.now()
    with app_runtime.unit_of_work() as uow:
        holder = uow.tokens.find_holder(token, now)
        if holder is None:
            return None
        if holder.scope != "write" and request.method not in _READ_METHODS:
            raise ReadOnlyToken()
        if last_use_due(holder.last_used_at, now):
            uow.tokens.record_use(holder.token_id, now)
            uow.commit()
        return signed_in_user(holder.user, holder.memberships)


def last_use_due(last_used: datetime | None, now: datetime) -> bool:
    """Is it time to record a token's use again? At most once per resolution (a minute).

    Recording every use would add a write (and on SQLite the write lock) to every API call;
    the last use to the minute is what its owner and an admin need to spot a forgotten or
    leaked token. A clock set back by more than that (the last use over a minute ahead) records
    the earlier time; a few moments' disorder between workers does not add a write.
    """
    if last_used is None:
        return True
    return abs(now - last_used) >= LAST_USED_RESOLUTION
