"""Repositories for schools, users with their roles, and API tokens."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from services.db.column_types import utcnow
from services.db.models import ApiToken, Membership, School, User
from services.db.models.accounts import normalise_email
from services.db.repositories.paging import check_page


@dataclass(frozen=True)
class HolderUser:
    """The fields of a token's user that sign them in."""

    id: int
    email: str
    display_name: str
    totp_secret: str | None


@dataclass(frozen=True)
class TokenHolder:
    """A working token with its user and the user's memberships, read in one query."""

    token_id: int
    scope: str
    last_used_at: datetime | None
    user: HolderUser
    # (school id, school name, role, school requires staff second factor), by school name.
    memberships: list[tuple[int, str, str, bool]]


# Built once: every API request authenticates, and building this statement (its joins, its
# cache key) cost more than running it. Columns, not entities: nothing here is changed through
# the ORM (the last use is written with _TOKEN_USED).
_HOLDER = (
    select(
        ApiToken.id,
        ApiToken.scope,
        ApiToken.last_used_at,
        User.id,
        User.email,
        User.display_name,
        User.totp_secret,
        School.id,
        School.name,
        Membership.role,
        School.staff_second_factor,
    )
    .join(User, User.id == ApiToken.user_id)
    .outerjoin(Membership, Membership.user_id == User.id)
    .outerjoin(School, School.id == Membership.school_id)
    .where(
        ApiToken.token_hash == bindparam("token_hash"),
        ApiToken.revoked_at.is_(None),
        ApiToken.expires_at > bindparam("at", type_=ApiToken.expires_at.type),
        User.is_active.is_(True),
        User.totp_secret.is_not(None),
    )
    .order_by(School.name, School.id)
)
_TOKEN_USED = (
    update(ApiToken)
    .where(ApiToken.id == bindparam("token_id"))
    .values(last_used_at=bindparam("at", type_=ApiToken.last_used_at.type))
)


class SchoolRepository:
    """Schools by id or slug."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, name: str, slug: str) -> School:
        """Add a school and return it with its id."""
        school = School(name=name, slug=slug)
        self._session.add(school)
        self._session.flush()
        return school

    def get(self, school_id: int) -> School | None:
        """Return the school with this id, if any."""
        return self._session.get(School, school_id)

    def get_by_slug(self, slug: str) -> School | None:
        """Return the school with this slug, if any."""
        return self._session.scalar(select(School).where(School.slug == slug))

    def list(self, limit: int, offset: int = 0) -> list[School]:
        """Return one page of schools by name."""
        check_page(limit, offset)
        query = select(School).order_by(School.name, School.id).limit(limit).offset(offset)
        return list(self._session.scalars(query))


class UserRepository:
    """Users, looked up case-insensitively by email, and their per-school roles."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, email: str, display_name: str, password_hash: str) -> User:
        """Add a user (email stored lower-cased) and return it with its id."""
        user = User(email=email, display_name=display_name, password_hash=password_hash)
        self._session.add(user)
        self._session.flush()
        return user

    def get(self, user_id: int) -> User | None:
        """Return the user with this id, if any."""
        return self._session.get(User, user_id)

    def get_by_email(self, email: str) -> User | None:
        """Return the user with this email, whatever its case."""
        query = select(User).where(User.email == normalise_email(email))
        return self._session.scalar(query)

    def grant(self, user_id: int, school_id: int, role: str) -> Membership:
        """Give a user a role in a school (a second identical grant violates a constraint)."""
        membership = Membership(user_id=user_id, school_id=school_id, role=role)
        self._session.add(membership)
        self._session.flush()
        return membership

    def roles_in(self, user_id: int, school_id: int) -> frozenset[str]:
        """Return the roles a user holds in one school."""
        query = select(Membership.role).where(
            Membership.user_id == user_id, Membership.school_id == school_id
        )
        return frozenset(self._session.scalars(query))

    def school_ids_of(self, user_id: int) -> list[int]:
        """Return the ids of the schools where the user holds any role."""
        query = (
            select(Membership.school_id)
            .where(Membership.user_id == user_id)
            .distinct()
            .order_by(Membership.school_id)
        )
        return list(self._session.scalars(query))


def hash_token(token: str) -> str:
    """Return the SHA-256 hex digest under which an API token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


DEFAULT_TOKEN_LIFETIME = timedelta(days=90)


class ApiTokenRepository:
    """API tokens, stored and found by their hash only."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(
        self,
        user_id: int,
        token: str,
        label: str,
        *,
        scope: str = "write",
        expires_at: datetime | None = None,
        created_at: datetime | None = None,
    ) -> ApiToken:
        """Record a new token for a user (90 days unless `expires_at`); only its hash is kept."""
        created = created_at or utcnow()
        api_token = ApiToken(
            user_id=user_id,
            token_hash=hash_token(token),
            label=label,
            scope=scope,
            created_at=created,
            expires_at=expires_at or created + DEFAULT_TOKEN_LIFETIME,
        )
        self._session.add(api_token)
        self._session.flush()
        return api_token

    def get(self, token_id: int) -> ApiToken | None:
        """Return the token record with this id, if any."""
        return self._session.get(ApiToken, token_id)

    def find_active(self, token: str, at: datetime | None = None) -> ApiToken | None:
        """Return the unrevoked, unexpired token record matching this token, if any."""
        query = select(ApiToken).where(
            ApiToken.token_hash == hash_token(token),
            ApiToken.revoked_at.is_(None),
            ApiToken.expires_at > (at or utcnow()),
        )
        return self._session.scalar(query)

    def find_holder(self, token: str, at: datetime) -> TokenHolder | None:
        """The working token's record, its active user with a second factor, and their roles.

        One statement (an API call authenticates on every request): the token must be
        unrevoked and unexpired, its user active and enrolled in a second factor.
        """
        params = {"token_hash": hash_token(token), "at": at}
        rows = self._session.execute(_HOLDER, params).all()
        if not rows:
            return None
        token_id, scope, last_used_at, user_id, email, display_name, totp_secret = rows[0][:7]
        memberships = [
            (school_id, name, role, bool(second))
            for *_holder, school_id, name, role, second in rows
            if school_id is not None
        ]
        user = HolderUser(user_id, email, display_name, totp_secret)
        return TokenHolder(token_id, scope, last_used_at, user, memberships)

    def record_use(self, token_id: int, at: datetime) -> None:
        """Note when a token was last used (one UPDATE; the caller commits)."""
        self._session.execute(_TOKEN_USED, {"token_id": token_id, "at": at})

    def list_for_user(self, user_id: int, limit: int, offset: int = 0) -> list[ApiToken]:
        """Return one page of a user's tokens, newest first."""
        check_page(limit, offset)
        query = (
            select(ApiToken)
            .where(ApiToken.user_id == user_id)
            .order_by(ApiToken.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return list(self._session.scalars(query))

    def revoke(self, token_ids: Iterable[int], at: datetime, by: int | None = None) -> list[int]:
        """Mark these tokens revoked from `at` on (by whom); return the ids newly revoked."""
        revoked: list[int] = []
        for token_id in token_ids:
            api_token = self._session.get(ApiToken, token_id)
            if api_token is not None and api_token.revoked_at is None:
                api_token.revoked_at = at
                api_token.revoked_by = by
                revoked.append(token_id)
        return revoked

    def active_ids_of(self, user_id: int, at: datetime) -> list[int]:
        """Return the ids of a user's tokens that still work."""
        query = select(ApiToken.id).where(
            ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None), ApiToken.expires_at > at
        )
        return list(self._session.scalars(query))
