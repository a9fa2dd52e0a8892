"""Telling people about one event: an in-app notification each and, if email is on, a queued email.

Everything goes through the consumer's unit of work, so it commits with the event's
processed_messages row or not at all. Nothing here talks to the mail server: the email
sender (services.notifications.email_queue) sends what was queued, with its own retries.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from services.db import SqlAlchemyUnitOfWork
from services.notifications.messages import NoticeText
from services.notifications.recipients import Recipient

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notice:
    """What people are told about one event: the words, the link, and what it concerns."""

    kind: str
    school_id: int
    text: NoticeText
    link: str
    incident_id: str
    task_id: str | None = None
    actor_id: int | None = None  # whose action it reports (break-glass)


def tell(
    uow: SqlAlchemyUnitOfWork,
    message_id: str,
    people: Sequence[Recipient],
    notice: Notice,
    *,
    email: bool,
    now: datetime,
) -> None:
    """Add each person's notification and, if `email`, queue their email (no commit)."""
    for person in people:
        uow.notifications.add(
            user_id=person.user_id,
            school_id=notice.school_id,
            message_id=message_id,
            kind=notice.kind,
            text=notice.text.in_app,
            link=notice.link,
            incident_id=notice.incident_id,
            task_id=notice.task_id,
            actor_id=notice.actor_id,
            created_at=now,
        )
        if email:
            uow.notifications.queue_email(
                message_id, person.user_id, notice.text.subject, notice.text.body, now
            )
    if people and not email:
        logger.info(
            "notifier: email is off (SAFEGUARD_SMTP_HOST unset): %d people told about "
            "event %s in the app only",
            len(people),
            message_id,
        )
