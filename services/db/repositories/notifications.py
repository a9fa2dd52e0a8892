"""In-app notifications (a person's list, unread count, mark as read) and sent-email records."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from services.db.column_types import utcnow
from services.db.models import EmailDelivery, Notification
from services.db.repositories.paging import check_page


class NotificationRepository:
    """What the app tells each person, and which notification emails went out already."""

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

    def emailed(self, message_id: str) -> frozenset[int]:
        """Return the ids of the people already emailed about this event."""
        query = select(EmailDelivery.user_id).where(EmailDelivery.message_id == message_id)
        return frozenset(self._session.scalars(query))

    def record_email(self, message_id: str, user_id: int, at: datetime | None = None) -> None:
        """Record that this event's email to this person was handed to the SMTP server."""
        self._session.add(
            EmailDelivery(message_id=message_id, user_id=user_id, sent_at=at or utcnow())
        )
