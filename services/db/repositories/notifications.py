"""In-app notifications (a person's list, unread count, mark as read) and the email queue."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import ColumnElement, exists, func, or_, select, update
from sqlalchemy.orm import Session

from services.db.column_types import utcnow
from services.db.models import EmailDelivery, Notification
from services.db.repositories.paging import check_page

# What a sent or skipped email's body becomes: the text is gone, the row (who, when) stays.
SPENT_BODY = "(not kept once the email was sent or skipped)"


class NotificationRepository:
    """What the app tells each person, and the queue of their notification emails."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(
        self,
        *,
        user_id: int,
        school_id: int,
        message_id: str,
        kind: str,
        text: str,
        link: str,
        incident_id: str | None = None,
        task_id: str | None = None,
        actor_id: int | None = None,
        created_at: datetime | None = None,
    ) -> Notification:
        """Add a notification; it is written when the unit of work commits."""
        notification = Notification(
            user_id=user_id,
            school_id=school_id,
            message_id=message_id,
            kind=kind,
            text=text,
            link=link,
            incident_id=incident_id,
            task_id=task_id,
            actor_id=actor_id,
            created_at=created_at or utcnow(),
        )
        self._session.add(notification)
        return notification

    def for_user(
        self, user_id: int, limit: int, offset: int = 0, *, unread_only: bool = False
    ) -> list[Notification]:
        """Return one page of a person's notifications, newest first."""
        check_page(limit, offset)
        query = select(Notification).where(Notification.user_id == user_id)
        if unread_only:
            query = query.where(Notification.read_at.is_(None))
        query = query.order_by(Notification.id.desc()).limit(limit).offset(offset)
        return list(self._session.scalars(query))

    def unread_count(self, user_id: int) -> int:
        """How many of a person's notifications are unread."""
        query = select(func.count()).where(
            Notification.user_id == user_id, Notification.read_at.is_(None)
        )
        return int(self._session.scalar(query) or 0)

    def mark_read(self, user_id: int, at: datetime, ids: Collection[int] | None = None) -> int:
        """Mark a person's unread notifications (these ids, or all) read; return how many.

        Only the person's own rows change: ids of other people's notifications are ignored.
        """
        statement = update(Notification).where(
            Notification.user_id == user_id, Notification.read_at.is_(None)
        )
        if ids is not None:
            if not ids:
                return 0
            statement = statement.where(Notification.id.in_(sorted(ids)))
        result = self._session.execute(statement.values(read_at=at))
        return int(getattr(result, "rowcount", 0) or 0)

    def for_message(self, message_id: str) -> list[Notification]:
        """Return the notifications one event caused, by person."""
        query = select(Notification).where(Notification.message_id == message_id)
        return list(self._session.scalars(query.order_by(Notification.user_id)))

    def told_since(
        self, user_id: int, kind: str, incident_id: str, actor_id: int, since: datetime
    ) -> bool:
        """Tell whether the person was told of this kind, incident and actor since `since`."""
        query = select(
            exists().where(
                Notification.user_id == user_id,
                Notification.kind == kind,
                Notification.incident_id == incident_id,
                Notification.actor_id == actor_id,
                Notification.created_at >= since,
            )
        )
        return bool(self._session.scalar(query))

    def queue_email(
        self, message_id: str, user_id: int, subject: str, body: str, at: datetime
    ) -> EmailDelivery:
        """Queue a notification's email, due at once (written when the unit of work commits)."""
        email = EmailDelivery(
            message_id=message_id,
            user_id=user_id,
            state="pending",
            subject=subject,
            body=body,
            attempts=0,
            queued_at=at,
            next_attempt_at=None,
        )
        self._session.add(email)
        return email

    def email(self, message_id: str, user_id: int) -> EmailDelivery | None:
        """Return one queued or sent email, by its event and person."""
        return self._session.get(EmailDelivery, (message_id, user_id))

    def due_emails(self, now: datetime, limit: int) -> list[EmailDelivery]:
        """Return pending emails due by `now`: the never tried first, then the longest waiting."""
        check_page(limit)
        query = (
            select(EmailDelivery)
            .where(EmailDelivery.state == "pending", _due(now))
            .order_by(EmailDelivery.next_attempt_at.asc().nulls_first())
            .limit(limit)
        )
        return list(self._session.scalars(query))

    def claim_email(self, message_id: str, user_id: int, now: datetime, until: datetime) -> bool:
        """Take a due pending email until `until`; False if another sender took it first."""
        statement = (
            update(EmailDelivery)
            .where(
                EmailDelivery.message_id == message_id,
                EmailDelivery.user_id == user_id,
                EmailDelivery.state == "pending",
                _due(now),
            )
            .values(next_attempt_at=until)
        )
        return int(getattr(self._session.execute(statement), "rowcount", 0) or 0) == 1

    def email_sent(self, message_id: str, user_id: int, at: datetime) -> None:
        """Record that the email was handed to the SMTP server, and forget its body.

        A body may hold a one-time link (an invitation): once sent it is never needed again
        (only failed emails are sent again), so it does not outlive its use in the database.
        """
        self._set_email(
            message_id,
            user_id,
            state="sent",
            attempts=EmailDelivery.attempts + 1,
            sent_at=at,
            next_attempt_at=None,
            body=SPENT_BODY,
        )

    def email_failed(
        self, message_id: str, user_id: int, error: str, retry_at: datetime | None
    ) -> None:
        """Record a failed try: to try again at `retry_at`, or given up on ('failed') if None."""
        self._set_email(
            message_id,
            user_id,
            state="pending" if retry_at is not None else "failed",
            attempts=EmailDelivery.attempts + 1,
            last_error=error,
            next_attempt_at=retry_at,
        )

    def email_skipped(self, message_id: str, user_id: int, reason: str) -> None:
        """Record that the email is not sent on purpose, and why (its body is forgotten)."""
        self._set_email(
            message_id,
            user_id,
            state="skipped",
            last_error=reason,
            next_attempt_at=None,
            body=SPENT_BODY,
        )

    def _set_email(self, message_id: str, user_id: int, **values: object) -> None:
        statement = update(EmailDelivery).where(
            EmailDelivery.message_id == message_id, EmailDelivery.user_id == user_id
        )
        self._session.execute(statement.values(**values))


def _due(now: datetime) -> ColumnElement[bool]:
    return or_(EmailDelivery.next_attempt_at.is_(None), EmailDelivery.next_attempt_at <= now)
