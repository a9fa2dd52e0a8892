"""Who is signed in: the session's user with their schools and roles, and `login_required`.

The session is Flask's signed cookie. Signing in clears it and stores the user id, the moment
of sign-in, the user's session generation and a fresh random nonce, so the cookie after sign-in
shares nothing with the one before (no session fixation).

A signed cookie cannot be withdrawn from the browser that holds it (or from anyone who copied
it), so the server decides: every request compares the cookie's generation with
`users.session_generation`, read with the user it loads anyway. `end_every_session` adds one to
it, which refuses every cookie issued before. Signing out does that, so it signs the person out
on every device ("sign out everywhere"); so does enrolling an authenticator, which ends the
sessions begun with a password alone.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ParamSpec, Protocol, TypeVar
from urllib.parse import urlsplit

from flask import g, redirect, request, session, url_for
from sqlalchemy import select, update

from services.db import SqlAlchemyUnitOfWork
from services.db.models import Membership, School, User
from services.db.models.accounts import ROLES, SECOND_FACTOR_ROLES
from services.web.extensions import runtime

_P = ParamSpec("_P")
_R = TypeVar("_R")
_NOT_LOADED = object()


@dataclass(frozen=True)
class SchoolRoles:
    """The roles one user holds in one school."""

    school_id: int
    school_name: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class SignedInUser:
    """The person making the request, with every school they belong to and their roles there."""

    id: int
    email: str
    display_name: str
    schools: tuple[SchoolRoles, ...]
    # A role that reads records, or a school requiring it of staff: password alone is not enough.
    needs_second_factor: bool = False

    def roles_in(self, school_id: int) -> frozenset[str]:
        """Return the roles held in one school (empty for a school the user is not in)."""
        for school in self.schools:
            if school.school_id == school_id:
                return frozenset(school.roles)
        return frozenset()

    @property
    def all_roles(self) -> frozenset[str]:
        """Every role held in any school."""
        return frozenset(role for school in self.schools for role in school.roles)


def load_signed_in_user(uow: SqlAlchemyUnitOfWork, user: User) -> SignedInUser:
    """Build the SignedInUser for a user row, reading their memberships (inside an open uow)."""
    query = (
        select(School.id, School.name, Membership.role, School.staff_second_factor)
        .join(Membership, Membership.school_id == School.id)
        .where(Membership.user_id == user.id)
        .order_by(School.name, School.id)
    )
    rows = [(i, name, role, bool(second)) for i, name, role, second in uow.session.execute(query)]
    return signed_in_user(user, rows)


class UserIdentity(Protocol):
    """What signing a user in reads of them: a User row, or the fields an API token's query read."""

    @property
    def id(self) -> int: ...
    @property
    def email(self) -> str: ...
    @property
    def display_name(self) -> str: ...
    @property
    def totp_secret(self) -> str | None: ...


def signed_in_user(
    user: UserIdentity, memberships: list[tuple[int, str, str, bool]]
) -> SignedInUser:
    """The SignedInUser of a user row and its (school id, name, role, staff 2FA) rows, by name."""
    by_school: dict[int, tuple[str, list[str]]] = {}
    needs_second_factor = False
    for school_id, school_name, role, staff_second_factor in memberships:
        by_school.setdefault(school_id, (school_name, []))[1].append(role)
        needs_second_factor |= role in SECOND_FACTOR_ROLES or staff_second_factor
    schools = tuple(
        SchoolRoles(school_id, name, tuple(sorted(roles, key=_role_order)))
        for school_id, (name, roles) in by_school.items()
    )
    return SignedInUser(
        user.id,
        user.email,
        user.display_name,
        schools,
        needs_second_factor or bool(user.totp_secret),
    )


def _role_order(role: str) -> int:
    return ROLES.index(role) if role in ROLES else len(ROLES)


def start_session(
    user_id: int, generation: int, now: datetime, *, second_factor: bool = False
) -> None:
    """Replace the whole session with a signed-in one for this user, in its session generation."""
    session.clear()
    session["user_id"] = user_id
    session["signed_in_at"] = now.timestamp()
    session["generation"] = generation
    session["second_factor"] = second_factor
    session["nonce"] = secrets.token_urlsafe(24)
    session.permanent = True  # the idle timeout applies


def end_session() -> None:
    """Forget everything in this browser's session (`end_every_session` ends it on the server)."""
    session.clear()
    g.pop("safeguard_user", None)


def end_every_session(uow: SqlAlchemyUnitOfWork, user_id: int) -> None:
    """Refuse every session the user has now, on any device (inside an open uow; commit it)."""
    # One UPDATE adding one, so two sign-outs at once cannot both write the same value back.
    uow.session.execute(
        update(User)
        .where(User.id == user_id)
        .values(session_generation=User.session_generation + 1)
    )


def current_user() -> SignedInUser | None:
    """Return the signed-in user of this request (loaded once per request), or None."""
    cached = g.get("safeguard_user", _NOT_LOADED)
    if cached is _NOT_LOADED:
        cached = _user_from_session()
        g.safeguard_user = cached
    return cached if isinstance(cached, SignedInUser) else None


def _user_from_session() -> SignedInUser | None:
    user_id = session.get("user_id")
    signed_in_at = session.get("signed_in_at")
    generation = session.get("generation")
    if not isinstance(user_id, int) or not isinstance(signed_in_at, float | int):
        return None
    if not isinstance(generation, int):  # a session from before generations: sign in again
        session.clear()
        return None
    app_runtime = runtime()
    limit = timedelta(minutes=app_runtime.settings.session_max_minutes)
    if app_runtime.clock.now().timestamp() - signed_in_at > limit.total_seconds():
        session.clear()
        return None
    with app_runtime.unit_of_work() as uow:
        user = uow.users.get(user_id)
        if user is None or not user.is_active or user.session_generation != generation:
            session.clear()  # gone, disabled, or signed out since this cookie was issued
            return None
        signed_in = load_signed_in_user(uow, user)
    if signed_in.needs_second_factor and session.get("second_factor") is not True:
        # Given a reading role (or the school's setting) since signing in with a password alone.
        session.clear()
        return None
    return signed_in


def login_required(view: Callable[_P, _R]) -> Callable[_P, _R | Any]:
    """Send people who are not signed in to the sign-in page, coming back here afterwards."""

    @functools.wraps(view)
    def wrapped(*args: _P.args, **kwargs: _P.kwargs) -> _R | Any:
        if current_user() is None:
            return redirect(url_for("auth.sign_in", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped


def safe_next(target: str | None) -> str | None:
    """Return `target` if it is a path on this site (never another host), else None."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target
