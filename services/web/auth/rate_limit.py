"""Sign-in throttling: growing delays per account whatever the address, and a cap per address.

- Per account (any address): after `max_failures` failures, each further attempt waits a delay
  that doubles with every failure (30 s, 1 min, 2 min ... up to `max_delay`). A guesser rotating
  addresses gains nothing. The count ends with a full sign-in, or a day without failures.
- Per address: more than `address_max_failures` failures within `window` (people at one school
  often share one address) make each further attempt from it wait `address_delay` after the
  last failure: a short delay, never a lockout, so one pupil's guessing cannot keep the DSL out.
  A person who has signed in from that address before is not held by it at all.
- The account holder is told (in the app and, where email is on, by email) when failures reach
  `max_failures`, at most once a day.

Counts live in `sign_in_throttles`, shared by every web worker, under HMAC keys (no email or
address stored). Attempts refused by a delay are audited but not counted, so a delay ends when
it ends, whatever an attacker keeps sending. Times come from the caller (the app's clock).
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from services.db import SqlAlchemyUnitOfWork
from services.db.models import Membership, SignInThrottle, User

SIGN_IN_FAILED = "auth.sign_in_failed"
LOCKED_OUT = "locked out"
FAILURES_NOTICE = "account.sign_in_failures"
_FIRST_DELAY = timedelta(seconds=30)
_ACCOUNT_MEMORY = timedelta(hours=24)
_KNOWN_ADDRESS_MEMORY = timedelta(days=90)
_TELL_AGAIN_AFTER = timedelta(hours=24)


@dataclass(frozen=True)
class LoginLimit:
    """How sign-in failures are throttled (see the module docstring)."""

    max_failures: int
    window: timedelta
    address_max_failures: int = 20
    address_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(minutes=15)
    email_on: bool = False  # also tell the account holder by email


def _key(secret_key: str, *parts: str) -> str:
    message = "\n".join(parts).encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def attempt_key(secret_key: str, email: str, _address: str = "") -> str:
    """Return the key an account's failures are counted under (whatever the address)."""
    return "account:" + _key(secret_key, "sign-in", email)


def address_key(secret_key: str, address: str) -> str:
    """Return the key failures from one client address are counted under."""
    return "address:" + _key(secret_key, "address", address)


def known_key(secret_key: str, user_id: int, address: str) -> str:
    """Return the key recording that this person has signed in from this address."""
    return "known:" + _key(secret_key, "known", str(user_id), address)


def account_delay(failures: int, limit: LoginLimit) -> timedelta | None:
    """The wait after this many failures of one account (None below the limit)."""
    extra = failures - limit.max_failures
    if extra < 0:
        return None
    delay: timedelta = _FIRST_DELAY * 2 ** min(extra, 20)
    return min(limit.max_delay, delay)


@dataclass(frozen=True)
class Keys:
    """The keys one attempt is counted under."""

    account: str
    address: str
    secret_key: str
    client_address: str


def refused_until(
    uow: SqlAlchemyUnitOfWork, keys: Keys, user_id: int | None, limit: LoginLimit, now: datetime
) -> datetime | None:
    """Return when this attempt may be made, or None when it may be made now."""
    waits: list[datetime] = []
    account = uow.throttles.get(keys.account)
    if account is not None and now - account.last_failure_at < _ACCOUNT_MEMORY:
        delay = account_delay(account.failures, limit)
        if delay is not None:
            waits.append(account.last_failure_at + delay)
    address = uow.throttles.get(keys.address)
    if (
        address is not None
        and now - address.first_failure_at < limit.window
        and address.failures >= limit.address_max_failures
        and not _known_here(uow, keys, user_id, now)
    ):
        waits.append(address.last_failure_at + limit.address_delay)
    until = max(waits, default=None)
    return until if until is not None and until > now else None


def count_failure(
    uow: SqlAlchemyUnitOfWork, keys: Keys, user: User | None, limit: LoginLimit, now: datetime
) -> None:
    """Count a failure for the account and the address; tell the holder once it adds up."""
    account = uow.throttles.count_failure(keys.account, now, restart_before=now - _ACCOUNT_MEMORY)
    uow.throttles.count_failure(keys.address, now, restart_before=now - limit.window)
    if user is not None and account.failures >= limit.max_failures:
        _tell_holder(uow, account, user, limit, now)


def count_success(uow: SqlAlchemyUnitOfWork, keys: Keys, user_id: int, now: datetime) -> None:
    """Forget the account's failures and remember this address as one the person uses."""
    uow.throttles.clear(keys.account)
    uow.throttles.mark(known_key(keys.secret_key, user_id, keys.client_address), now)


def _known_here(uow: SqlAlchemyUnitOfWork, keys: Keys, user_id: int | None, now: datetime) -> bool:
    if user_id is None:
        return False
    known = uow.throttles.get(known_key(keys.secret_key, user_id, keys.client_address))
    return known is not None and now - known.last_failure_at < _KNOWN_ADDRESS_MEMORY


def _tell_holder(
    uow: SqlAlchemyUnitOfWork,
    account: SignInThrottle,
    user: User,
    limit: LoginLimit,
    now: datetime,
) -> None:
    if account.notified_at is not None and now - account.notified_at < _TELL_AGAIN_AFTER:
        return
    account.notified_at = now
    message_id = str(uuid.uuid4())
    text = (
        f"Someone has failed to sign in to your account {account.failures} times since "
        f"{account.first_failure_at:%d %B %Y %H:%M} UTC. If it was not you, tell your "
        "administrator; sign-in now waits longer after each failure."
    )
    school_id = uow.session.scalar(
        select(Membership.school_id).where(Membership.user_id == user.id).limit(1)
    )
    if school_id is not None:  # in-app notifications belong to a school
        uow.notifications.add(
            user_id=user.id,
            school_id=school_id,
            message_id=message_id,
            kind=FAILURES_NOTICE,
            text=text,
            link="/",
            created_at=now,
        )
    if limit.email_on:
        uow.notifications.queue_email(
            message_id, user.id, "Failed sign-ins to your Safeguard Flow account", text, now
        )
