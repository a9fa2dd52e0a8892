"""The steps of signing in, each in one transaction: password, then a code when one is needed.

Every failure and success is audited ('auth.sign_in_failed' / 'auth.signed_in') with the client
address and never any password or code. Failures name no reason to the person signing in, so
the pages never tell whether an email address has an account. A successful step returns the
user's session generation, which the new session must carry (services.web.auth.identity).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NoReturn

from sqlalchemy import select

from services.db import SqlAlchemyUnitOfWork
from services.db.models import AuditEvent, Membership, School, User
from services.db.models.accounts import SECOND_FACTOR_ROLES
from services.web.auth import passwords, totp
from services.web.auth.identity import end_every_session
from services.web.auth.rate_limit import (
    LOCKED_OUT,
    SIGN_IN_FAILED,
    Keys,
    LoginLimit,
    address_key,
    attempt_key,
    count_failure,
    count_success,
    refused_until,
)

SIGNED_IN = "auth.signed_in"
TOTP_ENROLLED = "auth.totp_enrolled"
# Roles that read records: they must use a second factor, in any school.
TOTP_ROLES = SECOND_FACTOR_ROLES


class SignInRefused(Exception):
    """The email, password or code was not right (deliberately not saying which)."""


class SignInLocked(Exception):
    """Too many failures for this account (or from this address): refused until `until`."""

    def __init__(self, until: datetime) -> None:
        super().__init__(f"sign-in locked until {until.isoformat()}")
        self.until = until


@dataclass(frozen=True)
class Attempt:
    """One try at signing in: who it claims to be, from where, and when."""

    email: str
    address: str
    at: datetime
    keys: Keys

    @property
    def key(self) -> str:
        """The key the account's failures are counted under (recorded in the audit trail)."""
        return self.keys.account

    @classmethod
    def make(cls, secret_key: str, email: str, address: str, at: datetime) -> Attempt:
        """Build an attempt, deriving the keys its failures are counted under."""
        keys = Keys(
            account=attempt_key(secret_key, email),
            address=address_key(secret_key, address),
            secret_key=secret_key,
            client_address=address,
        )
        return cls(email, address, at, keys)


@dataclass(frozen=True)
class PasswordAccepted:
    """The password was right; the session may start now or after a second factor."""

    user_id: int
    needs_code: bool
    enrolled: bool
    session_generation: int


def check_password(
    uow: SqlAlchemyUnitOfWork, attempt: Attempt, password: str, limit: LoginLimit
) -> PasswordAccepted:
    """Check email and password; sign in at once when no second factor is needed."""
    with uow:
        user = uow.users.get_by_email(attempt.email)
        _refuse_if_locked(uow, attempt, user, limit)
        if user is None:
            passwords.spend_verification_time(password)
            _fail(uow, attempt, None, "unknown email", limit)
        elif not passwords.verify_password(user.password_hash, password):
            _fail(uow, attempt, user, "wrong password", limit)
        elif not user.is_active:
            _fail(uow, attempt, user, "account disabled", limit)
        if passwords.needs_rehash(user.password_hash):
            user.password_hash = passwords.hash_password(password)
        needs_code = user.totp_secret is not None or needs_second_factor(uow, user.id)
        if not needs_code:
            record_signed_in(uow, attempt, user, {"second_factor": "none"})
            count_success(uow, attempt.keys, user.id, attempt.at)
        accepted = PasswordAccepted(
            user.id, needs_code, user.totp_secret is not None, user.session_generation
        )
        uow.commit()
        return accepted


def check_code(
    uow: SqlAlchemyUnitOfWork,
    attempt: Attempt,
    user_id: int,
    code: str,
    limit: LoginLimit,
    *,
    enrolling_secret: str | None = None,
) -> int:
    """Check the authenticator code and sign in; with `enrolling_secret`, enrol it first.

    Returns the session generation for the new session. Enrolling ends the user's other
    sessions, begun with a password alone.
    """
    with uow:
        user = uow.users.get(user_id)
        _refuse_if_locked(uow, attempt, user, limit)
        if user is None or not user.is_active:
            _fail(uow, attempt, user, "account gone", limit)
        if enrolling_secret is not None and user.totp_secret is not None:
            _fail(uow, attempt, user, "already enrolled", limit)
        secret = enrolling_secret or user.totp_secret
        if secret is None:
            _fail(uow, attempt, user, "not enrolled", limit)
        step = totp.matching_step(secret, code, attempt.at)
        if step is None:
            _fail(uow, attempt, user, "wrong code", limit)
        if step <= _last_step_used(uow, user.id, attempt.at):
            _fail(uow, attempt, user, "code already used", limit)
        if enrolling_secret is not None:
            user.totp_secret = enrolling_secret
            end_every_session(uow, user.id)
            uow.audit.add(
                TOTP_ENROLLED, user_target(user), actor_id=user.id, occurred_at=attempt.at
            )
        record_signed_in(uow, attempt, user, {"second_factor": "totp", "totp_step": step})
        count_success(uow, attempt.keys, user.id, attempt.at)
        generation = user.session_generation
        uow.commit()
        return generation


def needs_second_factor(uow: SqlAlchemyUnitOfWork, user_id: int) -> bool:
    """Tell whether the user needs a second factor: a reading role, or a school requiring it."""
    query = (
        select(Membership.id)
        .join(School, School.id == Membership.school_id)
        .where(
            Membership.user_id == user_id,
            Membership.role.in_(sorted(TOTP_ROLES)) | School.staff_second_factor.is_(True),
        )
        .limit(1)
    )
    return uow.session.scalar(query) is not None


def _refuse_if_locked(
    uow: SqlAlchemyUnitOfWork, attempt: Attempt, user: User | None, limit: LoginLimit
) -> None:
    until = refused_until(uow, attempt.keys, user.id if user else None, limit, attempt.at)
    if until is not None:
        _audit_failure(uow, attempt, user, LOCKED_OUT)  # audited, not counted
        uow.commit()
        raise SignInLocked(until)


def _fail(
    uow: SqlAlchemyUnitOfWork,
    attempt: Attempt,
    user: User | None,
    reason: str,
    limit: LoginLimit,
) -> NoReturn:
    _audit_failure(uow, attempt, user, reason)
    count_failure(uow, attempt.keys, user, limit, attempt.at)
    uow.commit()
    raise SignInRefused(reason)


def _audit_failure(
    uow: SqlAlchemyUnitOfWork, attempt: Attempt, user: User | None, reason: str
) -> None:
    details: dict[str, Any] = {"attempt_key": attempt.key, "address": attempt.address}
    if user is not None:  # an address with no account may be a password typed in the wrong box
        details["email"] = user.email
    uow.audit.add(
        SIGN_IN_FAILED,
        user_target(user),
        actor_id=user.id if user is not None else None,
        reason=reason,
        new_values=details,
        occurred_at=attempt.at,
    )


def record_signed_in(
    uow: SqlAlchemyUnitOfWork, attempt: Attempt, user: User, details: dict[str, Any]
) -> None:
    """Audit a completed sign-in, with the address and how it was made (no secret)."""
    uow.audit.add(
        SIGNED_IN,
        user_target(user),
        actor_id=user.id,
        new_values={"address": attempt.address, **details},
        occurred_at=attempt.at,
    )


def user_target(user: User | None) -> str:
    """The audit target naming a user (or the sign-in page, for an unknown email)."""
    return f"user:{user.id}" if user is not None else "sign-in"


def _last_step_used(uow: SqlAlchemyUnitOfWork, user_id: int, at: datetime) -> int:
    """The newest TOTP step accepted for this user recently (-1 when none)."""
    query = select(AuditEvent.new_values).where(
        AuditEvent.school_id.is_(None),
        AuditEvent.occurred_at > at - timedelta(minutes=5),
        AuditEvent.action == SIGNED_IN,
        AuditEvent.actor_id == user_id,
    )
    steps = [values.get("totp_step") for values in uow.session.scalars(query) if values is not None]
    return max((step for step in steps if isinstance(step, int)), default=-1)
