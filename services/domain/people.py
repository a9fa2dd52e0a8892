"""Administering schools and people: add a school, invite, roles, deactivate, reset a second factor.

Each function works inside an open unit of work (the caller commits) and audits what it does,
with the school where there is one. `actor_id` is the administrator; None means the command
line, run by whoever operates the server. An administrator acts only in schools where they hold
the `admin` role (a trust's admin holds it in each of its schools).

An invitation makes the account at once, with the role, a password that matches nothing and a
one-time link (kept as its hash) to choose one; the link is emailed (where email is on) and
shown once to the administrator.
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from services.db import SqlAlchemyUnitOfWork
from services.db.models import Invitation, Membership, School, User
from services.db.models.accounts import ROLES, normalise_email

INVITATION_LIFETIME = timedelta(days=7)
INVITED_NOTICE = "account.invited"
# Argon2 never produces this, so no password matches it until the invitation is accepted.
UNUSABLE_PASSWORD = "!invited"  # noqa: S105  # not a password: a hash nothing matches
_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{1,98}[a-z0-9]")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class PeopleRefused(Exception):
    """An administration request cannot be done; the message says why, naming the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Invited:
    """An invitation made: whom, and the one-time token (shown once, stored only as a hash)."""

    user_id: int
    invitation_id: int
    token: str


def administered_school_ids(uow: SqlAlchemyUnitOfWork, actor_id: int) -> list[int]:
    """The schools where this person holds the admin role."""
    query = (
        select(Membership.school_id)
        .where(Membership.user_id == actor_id, Membership.role == "admin")
        .order_by(Membership.school_id)
    )
    return list(uow.session.scalars(query))


def require_admin(uow: SqlAlchemyUnitOfWork, actor_id: int | None, school_id: int) -> School:
    """Return the school if the actor administers it (the command line always does)."""
    school = uow.schools.get(school_id)
    if school is None or (
        actor_id is not None and school_id not in administered_school_ids(uow, actor_id)
    ):
        raise PeopleRefused("school", "You do not administer this school")
    return school


def add_school(
    uow: SqlAlchemyUnitOfWork, name: str, slug: str, *, actor_id: int | None, at: datetime
) -> School:
    """Add a school; an administrator who adds one becomes its administrator too."""
    name, slug = name.strip(), slug.strip().lower()
    if not name or len(name) > 200:
        raise PeopleRefused("name", "Enter the school's name (200 characters or fewer)")
    if not _SLUG.fullmatch(slug):
        raise PeopleRefused(
            "slug", "Enter a short name of 3 to 100 lower-case letters, digits and hyphens"
        )
    if uow.schools.get_by_slug(slug) is not None:
        raise PeopleRefused("slug", f"A school already has the short name {slug!r}")
    school = uow.schools.add(name, slug)
    if actor_id is not None:
        uow.users.grant(actor_id, school.id, "admin")
    _audit(uow, "school.added", f"school:{school.id}", actor_id, school.id, at, {"name": name})
    return school


def invite(
    uow: SqlAlchemyUnitOfWork,
    *,
    email: str,
    display_name: str,
    school_id: int,
    role: str,
    actor_id: int | None,
    at: datetime,
) -> Invited | None:
    """Invite a new person in a role (None: they had an account, and now have the role too)."""
    school = require_admin(uow, actor_id, school_id)
    email, display_name = normalise_email(email), display_name.strip()
    if not _EMAIL.fullmatch(email) or len(email) > 320:
        raise PeopleRefused("email", "Enter an email address like name@example.com")
    if not display_name or len(display_name) > 200:
        raise PeopleRefused("display_name", "Enter the person's name (200 characters or fewer)")
    _check_role(role)
    existing = uow.users.get_by_email(email)
    if existing is not None and existing.password_hash != UNUSABLE_PASSWORD:
        set_role(uow, existing.id, school.id, role, True, actor_id=actor_id, at=at)
        return None
    user = existing or uow.users.add(email, display_name, UNUSABLE_PASSWORD)
    if role not in uow.users.roles_in(user.id, school.id):
        uow.users.grant(user.id, school.id, role)
    token = secrets.token_urlsafe(32)
    invitation = uow.invitations.add(
        token,
        email=email,
        display_name=display_name,
        school_id=school.id,
        role=role,
        invited_by=actor_id,
        at=at,
        expires_at=at + INVITATION_LIFETIME,
    )
    _audit(
        uow,
        "user.invited",
        f"user:{user.id}",
        actor_id,
        school.id,
        at,
        {"invitation_id": invitation.id, "role": role, "email": email},
    )
    return Invited(user.id, invitation.id, token)


def tell_invitee(
    uow: SqlAlchemyUnitOfWork,
    invited: Invited,
    school: School,
    link: str,
    *,
    email_on: bool,
    at: datetime,
) -> None:
    """Queue the invitation email (and an in-app note) with the one-time link."""
    message_id = str(uuid.uuid4())
    uow.notifications.add(
        user_id=invited.user_id,
        school_id=school.id,
        message_id=message_id,
        kind=INVITED_NOTICE,
        text=f"You were invited to {school.name} on Safeguard Flow.",
        link="/",
        created_at=at,
    )
    if email_on:
        body = (
            f"You have been invited to use Safeguard Flow at {school.name}.\n\n"
            f"Choose your password here within 7 days (the link works once):\n{link}\n"
        )
        uow.notifications.queue_email(
            message_id, invited.user_id, "Your Safeguard Flow invitation", body, at
        )


def accept_invitation(
    uow: SqlAlchemyUnitOfWork, token: str, password_hash: str, *, at: datetime
) -> Invitation:
    """Set the invited person's password and close the invitation (PeopleRefused if not open)."""
    invitation = uow.invitations.find_open(token, at)
    if invitation is None:
        raise PeopleRefused("token", "This invitation link has expired or has been used")
    user = uow.users.get_by_email(invitation.email)
    if user is None or not user.is_active:
        raise PeopleRefused("token", "This invitation is no longer valid: ask your administrator")
    user.password_hash = password_hash
    invitation.accepted_at = at
    _audit(
        uow,
        "user.invitation_accepted",
        f"user:{user.id}",
        user.id,
        invitation.school_id,
        at,
        {"invitation_id": invitation.id},
    )
    return invitation


def set_role(
    uow: SqlAlchemyUnitOfWork,
    user_id: int,
    school_id: int,
    role: str,
    granted: bool,
    *,
    actor_id: int | None,
    at: datetime,
) -> None:
    """Give or take away one role in one school."""
    require_admin(uow, actor_id, school_id)
    _check_role(role)
    held = role in uow.users.roles_in(user_id, school_id)
    if granted == held:
        return
    if not granted and actor_id == user_id and role == "admin":
        raise PeopleRefused("role", "You cannot remove your own administrator role")
    if granted:
        uow.users.grant(user_id, school_id, role)
    else:
        uow.session.execute(
            delete(Membership).where(
                Membership.user_id == user_id,
                Membership.school_id == school_id,
                Membership.role == role,
            )
        )
    action = "user.role_granted" if granted else "user.role_removed"
    _audit(uow, action, f"user:{user_id}", actor_id, school_id, at, {"role": role})


def set_active(
    uow: SqlAlchemyUnitOfWork,
    user_id: int,
    active: bool,
    *,
    actor_id: int | None,
    reason: str,
    at: datetime,
) -> User:
    """Deactivate (ending sessions and tokens) or reactivate a person, with a reason."""
    user, school_id = _managed_user(uow, actor_id, user_id)
    if actor_id == user_id:
        raise PeopleRefused("user", "You cannot deactivate yourself")
    reason = _reason(reason)
    user.is_active = active
    if not active:
        _end_access(uow, user, actor_id, at)
    action = "user.reactivated" if active else "user.deactivated"
    _audit(uow, action, f"user:{user.id}", actor_id, school_id, at, {}, reason)
    return user


def reset_second_factor(
    uow: SqlAlchemyUnitOfWork, user_id: int, *, actor_id: int | None, reason: str, at: datetime
) -> User:
    """Forget a person's authenticator (they set up a new one at their next sign-in)."""
    user, school_id = _managed_user(uow, actor_id, user_id)
    reason = _reason(reason)
    user.totp_secret = None
    _end_access(uow, user, actor_id, at)
    _audit(uow, "user.second_factor_reset", f"user:{user.id}", actor_id, school_id, at, {}, reason)
    return user


def revoke_tokens(
    uow: SqlAlchemyUnitOfWork, user_id: int, *, actor_id: int | None, at: datetime
) -> list[int]:
    """Revoke every working API token of a person."""
    user, school_id = _managed_user(uow, actor_id, user_id)
    revoked = uow.tokens.revoke(uow.tokens.active_ids_of(user.id, at), at, by=actor_id)
    if revoked:
        _audit(
            uow,
            "auth.tokens_revoked",
            f"user:{user.id}",
            actor_id,
            school_id,
            at,
            {"tokens": revoked},
        )
    return revoked


def set_staff_second_factor(
    uow: SqlAlchemyUnitOfWork, school_id: int, required: bool, *, actor_id: int | None, at: datetime
) -> None:
    """The school's setting: staff sign in with a second factor too."""
    school = require_admin(uow, actor_id, school_id)
    if school.staff_second_factor != required:
        school.staff_second_factor = required
        _audit(
            uow,
            "school.setting_changed",
            f"school:{school.id}",
            actor_id,
            school.id,
            at,
            {"staff_second_factor": required},
        )


def _managed_user(
    uow: SqlAlchemyUnitOfWork, actor_id: int | None, user_id: int
) -> tuple[User, int | None]:
    """The user, if the actor administers a school of theirs, with that school's id."""
    user = uow.users.get(user_id)
    if user is None:
        raise PeopleRefused("user", "No such person")
    schools = uow.users.school_ids_of(user_id)
    if actor_id is None:
        return user, schools[0] if schools else None
    shared = sorted(set(schools) & set(administered_school_ids(uow, actor_id)))
    if not shared:
        raise PeopleRefused("user", "This person is not in a school you administer")
    return user, shared[0]


def _end_access(uow: SqlAlchemyUnitOfWork, user: User, actor_id: int | None, at: datetime) -> None:
    uow.session.execute(
        update(User)
        .where(User.id == user.id)
        .values(session_generation=User.session_generation + 1)
    )
    uow.tokens.revoke(uow.tokens.active_ids_of(user.id, at), at, by=actor_id)


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise PeopleRefused("role", f"Choose a role: {', '.join(ROLES)}")


def _reason(reason: str) -> str:
    reason = reason.strip()
    if not reason or len(reason) > 500:
        raise PeopleRefused("reason", "Enter the reason (500 characters or fewer)")
    return reason


def _audit(
    uow: SqlAlchemyUnitOfWork,
    action: str,
    target: str,
    actor_id: int | None,
    school_id: int | None,
    at: datetime,
    values: dict[str, object],
    reason: str | None = None,
) -> None:
    uow.audit.add(
        action,
        target,
        actor_id=actor_id,
        school_id=school_id,
        reason=reason,
        new_values=dict(values),
        occurred_at=at,
    )
