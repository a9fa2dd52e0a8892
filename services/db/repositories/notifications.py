"""In-app notifications (a person's list, unread count, mark as read) and the email queue."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Table, bindparam, exists, func, or_, select, tuple_, update
from sqlalchemy.orm import Session

from services.db.column_types import utcnow
from services.db.models import EmailDelivery, Notification
from services.db.repositories.paging import check_page

# What a sent or skipped email's body becomes: the text is gone, the row (who, when) stays.
SPENT_BODY = "(not kept once the email was sent or skipped)"

# The email sender's statements, built once and run as Core on the session's connection:
# rebuilding them per email and the ORM's bulk-update bookkeeping (re-checking loaded objects)
# were much of the sender's CPU. The sender loads no email objects that would need keeping in step.
_EMAILS: Table = EmailDelivery.__table__  # type: ignore[assignment]


def _due_now(now: ColumnElement[datetime]) -> ColumnElement[bool]:
    return or_(_EMAILS.c.next_attempt_at.is_(None), _EMAILS.c.next_attempt_at <= now)


_NOW = bindparam("now", type_=_EMAILS.c.next_attempt_at.type)
_DUE_BATCH = (
    select(
        _EMAILS.c.message_id,
        _EMAILS.c.user_id,
        _EMAILS.c.subject,
        _EMAILS.c.body,
        _EMAILS.c.attempts,
        _EMAILS.c.queued_at,
    )
    .where(_EMAILS.c.state == "pending", _due_now(_NOW))
    .order_by(_EMAILS.c.next_attempt_at.asc().nulls_first())
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)
# Conditional, so an email another sender took meanwhile (SQLite: the select takes no lock) is
# not taken twice: RETURNING says which ones this sender got.
_CLAIM_BATCH = (
    update(_EMAILS)
    .where(
        tuple_(_EMAILS.c.message_id, _EMAILS.c.user_id).in_(bindparam("keys", expanding=True)),
        _EMAILS.c.state == "pending",
        _due_now(_NOW),
    )
    .values(next_attempt_at=bindparam("until", type_=_EMAILS.c.next_attempt_at.type))
    .returning(_EMAILS.c.message_id, _EMAILS.c.user_id)
)
_EMAIL_SENT = (
    update(_EMAILS)
    .where(_EMAILS.c.message_id == bindparam("m"), _EMAILS.c.user_id == bindparam("u"))
    .values(
        state="sent",
        attempts=_EMAILS.c.attempts + 1,
        sent_at=bindparam("at", type_=_EMAILS.c.sent_at.type),
        next_attempt_at=None,
        body=SPENT_BODY,
    )
)


@dataclass(frozen=True, slots=True)
class ClaimedEmail:
    """A queued email a sender has taken (until its lease runs out): what it sends."""

    message_id: str
    user_id: int
    subject: str
    body: str
    attempts: int
    queued_at: datetime | None


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

    def claim_due_emails(self, now: datetime, until: datetime, limit: int) -> list[ClaimedEmail]:
        """Take up to `limit` due pending emails until `until`, in due order (two statements).

        The never tried first, then the longest waiting. PostgreSQL: SKIP LOCKED, so a second
        sender takes other emails; either way the update is conditional, so two senders never
        take the same email, and an email is taken only while it is still due and pending.
        """
        check_page(limit)
        connection = self._session.connection()
        due = [
            ClaimedEmail(*row)
            for row in connection.execute(_DUE_BATCH, {"now": now, "limit": limit})
        ]
        if not due:
            return []
        keys = [(e.message_id, e.user_id) for e in due]
        taken = connection.execute(_CLAIM_BATCH, {"keys": keys, "now": now, "until": until})
        got = {(m, u) for m, u in taken}
        return [e for e in due if (e.message_id, e.user_id) in got]

    def email_sent(self, message_id: str, user_id: int, at: datetime) -> None:
        """Record that the email was handed to the SMTP server, and forget its body.

        A body may hold a one-time link (an invitation): once sent it is never needed again
        (only failed emails are sent again), so it does not outlive its use in the database.
        """
        self._session.connection().execute(_EMAIL_SENT, {"m": message_id, "u": user_id, "at": at})

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
        # No loaded email objects to keep in step (the sender holds plain values).
        self._session.execute(
            statement.values(**values), execution_options={"synchronize_session": False}
        )


def _due(now: datetime) -> ColumnElement[bool]:
    return or_(EmailDelivery.next_attempt_at.is_(None), EmailDelivery.next_attempt_at <= now)
