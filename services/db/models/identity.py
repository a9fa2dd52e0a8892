"""Identity records kept on the server: break-glass grants, invitations and sign-in throttles."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.db.column_types import UTCDateTime, utcnow
from services.db.models.accounts import ROLES
from services.db.models.base import Base, in_list


class BreakGlassGrant(Base):
    """One person's reason to open one incident outside the need to know, until `expires_at`.

    Kept here rather than in the session cookie, which its holder can read: the grant holds
    only within the session generation it was made in, so signing out ends it too.
    """

    __tablename__ = "break_glass_grants"
    __table_args__ = (Index("ix_break_glass_grants_user_id_expires_at", "user_id", "expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(Text)
    session_generation: Mapped[int] = mapped_column(Integer)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Invitation(Base):
    """An invitation to join a school in a role, sent as a one-time link (only its hash is kept)."""

    __tablename__ = "invitations"
    __table_args__ = (CheckConstraint(in_list("role", ROLES), name="role_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(320), index=True)
    display_name: Mapped[str] = mapped_column(String(200))
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(20))
    invited_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SignInThrottle(Base):
    """Failed sign-ins counted under one key (an account, or a client address), and when.

    The key is an HMAC under the secret key, so the table names no email or address.
    """

    __tablename__ = "sign_in_throttles"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    first_failure_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime())
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
