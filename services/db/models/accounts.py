"""Schools, people, their per-school roles and their API tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, validates

from services.db.column_types import UTCDateTime, utcnow
from services.db.models.base import Base, in_list

ROLES = ("staff", "dsl", "headteacher", "auditor", "admin", "process_admin")
# Roles that read records (or change how they are handled): a second factor is always required.
SECOND_FACTOR_ROLES = frozenset({"dsl", "headteacher", "auditor", "admin", "process_admin"})
TOKEN_SCOPES = ("read", "write")  # write: read and write


class School(Base):
    """A school: the unit that owns incidents, children and roles."""

    __tablename__ = "schools"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    # The school's setting: staff (not only the roles that read records) need a second factor.
    staff_second_factor: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class User(Base):
    """A person who signs in; email is stored lower-cased so uniqueness ignores case.

    `session_generation` is copied into each browser session at sign-in; a session whose copy
    differs is refused, so adding one to it ends every session of the user at once.
    """

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("email = lower(email)", name="email_lower_case"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @validates("email")
    def _normalise_email(self, _key: str, value: str) -> str:
        return normalise_email(value)


def normalise_email(email: str) -> str:
    """Return the stored form of an email address: trimmed and lower-cased."""
    return email.strip().lower()


class Membership(Base):
    """One role a user holds in one school; a user may hold several, in several schools."""

    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("user_id", "school_id", "role"),
        CheckConstraint(in_list("role", ROLES), name="role_known"),
        Index("ix_memberships_school_id_role", "school_id", "role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(20))


class ApiToken(Base):
    """An API token, kept only as the SHA-256 of the token: the token itself is never stored.

    `scope` is "read" (GET only) or "write" (read and write); every token expires.
    """

    __tablename__ = "api_tokens"
    __table_args__ = (CheckConstraint(in_list("scope", TOKEN_SCOPES), name="scope_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(100))
    scope: Mapped[str] = mapped_column(String(10), default="write", server_default="write")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
