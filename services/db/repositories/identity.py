"""Repositories for break-glass grants, invitations and sign-in throttles."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from services.db.models import BreakGlassGrant, Invitation, SignInThrottle
from services.db.repositories.accounts import hash_token
from services.db.repositories.paging import check_page


class BreakGlassGrantRepository:
    """Reasons to open incidents outside need-to-know, held on the server with an expiry."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(
        self,
        user_id: int,
        incident_id: str,
        reason: str,
        *,
        session_generation: int,
        at: datetime,
        expires_at: datetime,
    ) -> BreakGlassGrant:
        """Record a grant (an earlier one of the same person for the same incident is replaced)."""
        self._session.execute(
            delete(BreakGlassGrant).where(
                BreakGlassGrant.user_id == user_id, BreakGlassGrant.incident_id == incident_id
            )
        )
        grant = BreakGlassGrant(
            user_id=user_id,
            incident_id=incident_id,
            reason=reason,
            session_generation=session_generation,
            granted_at=at,
            expires_at=expires_at,
        )
        self._session.add(grant)
        self._session.flush()
        return grant

    def active_reasons(self, user_id: int, session_generation: int, at: datetime) -> dict[str, str]:
        """Incident id -> reason, for the person's grants that hold now in this generation."""
        query = (
            select(BreakGlassGrant.incident_id, BreakGlassGrant.reason)
            .where(
                BreakGlassGrant.user_id == user_id,
                BreakGlassGrant.expires_at > at,
                BreakGlassGrant.session_generation == session_generation,
            )
            .order_by(BreakGlassGrant.id)
        )
        return {incident_id: reason for incident_id, reason in self._session.execute(query)}


class InvitationRepository:
    """Invitations to join a school, found by the hash of their one-time token."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(
        self,
        token: str,
        *,
        email: str,
        display_name: str,
        school_id: int,
        role: str,
        invited_by: int | None,
        at: datetime,
        expires_at: datetime,
    ) -> Invitation:
        """Record an invitation; only the token's hash is kept."""
        invitation = Invitation(
            token_hash=hash_token(token),
            email=email,
            display_name=display_name,
            school_id=school_id,
            role=role,
            invited_by=invited_by,
            created_at=at,
            expires_at=expires_at,
        )
        self._session.add(invitation)
        self._session.flush()
        return invitation

    def get(self, invitation_id: int) -> Invitation | None:
        """Return the invitation with this id, if any."""
        return self._session.get(Invitation, invitation_id)

    def find_open(self, token: str, at: datetime) -> Invitation | None:
        """Return the unused, unrevoked, unexpired invitation of this token, if any."""
        query = select(Invitation).where(
            Invitation.token_hash == hash_token(token),
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > at,
        )
        return self._session.scalar(query)

    def list_for_schools(
        self, school_ids: list[int], limit: int, offset: int = 0
    ) -> list[Invitation]:
        """Return one page of the invitations to these schools, newest first."""
        check_page(limit, offset)
        query = (
            select(Invitation)
            .where(Invitation.school_id.in_(school_ids))
            .order_by(Invitation.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return list(self._session.scalars(query))


class SignInThrottleRepository:
    """Failed sign-in counts by key (an HMAC of an account or an address), and known addresses."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, key: str) -> SignInThrottle | None:
        """Return the count kept under this key, if any."""
        return self._session.get(SignInThrottle, key)

    def count_failure(self, key: str, at: datetime, *, restart_before: datetime) -> SignInThrottle:
        """Add one failure under this key (row-locked), restarting a count older than that."""
        throttle = self._locked(key, at)
        if throttle.failures == 0 or throttle.last_failure_at < restart_before:
            throttle.failures = 0
            throttle.first_failure_at = at
            throttle.notified_at = None
        throttle.failures += 1
        throttle.last_failure_at = at
        self._session.flush()
        return throttle

    def mark(self, key: str, at: datetime) -> None:
        """Record that something happened under this key at `at` (a known address)."""
        throttle = self._locked(key, at)
        throttle.last_failure_at = at
        self._session.flush()

    def clear(self, key: str) -> None:
        """Forget the failures under this key (after a full sign-in)."""
        self._session.execute(delete(SignInThrottle).where(SignInThrottle.key == key))

    def _locked(self, key: str, at: datetime) -> SignInThrottle:
        # Insert-if-missing that two workers may race: the loser's insert does nothing.
        values = {"key": key, "failures": 0, "first_failure_at": at, "last_failure_at": at}
        insert = (
            pg_insert if self._session.get_bind().dialect.name == "postgresql" else sqlite_insert
        )
        self._session.execute(insert(SignInThrottle).values(values).on_conflict_do_nothing())
        throttle = self._session.get(
            SignInThrottle, key, with_for_update=True, populate_existing=True
        )
        assert throttle is not None  # inserted above, and never deleted inside a sign-in
        return throttle
