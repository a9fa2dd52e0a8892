"""Sign-in lockout: too many failures for one email from one address, counted in the audit trail.

Why the database and not memory: every failed attempt is audited anyway ('auth.sign_in_failed'),
so counting those rows gives one limit shared by every web worker and process, which survives
restarts, with no second store to keep in step. The query stays cheap without a new index: sign-in
events carry no school, so it walks the (school_id, occurred_at) index over the window only.

The email is not stored for addresses no account has (people type passwords into the email box);
attempts are matched on `attempt_key`, an HMAC of the email and address under the secret key.
Attempts refused because of a lockout are audited too, but not counted, so the lockout ends when
the window has passed since the failures that caused it, whatever an attacker keeps sending.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from services.db import SqlAlchemyUnitOfWork
from services.db.models import AuditEvent

SIGN_IN_FAILED = "auth.sign_in_failed"
LOCKED_OUT = "locked out"


@dataclass(frozen=True)
class LoginLimit:
    """At most `max_failures` failed attempts per email and address within `window`."""

    max_failures: int
    window: timedelta


def attempt_key(secret_key: str, email: str, address: str) -> str:
    """Return the key failed attempts by this email from this address are counted under."""
    message = f"sign-in\n{email}\n{address}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def locked_until(
    uow: SqlAlchemyUnitOfWork, key: str, limit: LoginLimit, now: datetime
) -> datetime | None:
    """Return when sign-in opens again for this key, or None when it is open now."""
    since = now - limit.window
    query = (
        select(AuditEvent.occurred_at)
        .where(
            AuditEvent.school_id.is_(None),
            AuditEvent.occurred_at > since,
            AuditEvent.action == SIGN_IN_FAILED,
            AuditEvent.new_values["attempt_key"].as_string() == key,
            AuditEvent.reason != LOCKED_OUT,
        )
        .order_by(AuditEvent.occurred_at.desc())
        .limit(limit.max_failures)
    )
    recent = list(uow.session.scalars(query))
    if len(recent) < limit.max_failures:
        return None
    # Open again when the oldest of the last max_failures failures leaves the window.
    return recent[-1] + limit.window
