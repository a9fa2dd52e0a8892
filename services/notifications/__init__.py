"""Notifications: telling people what awaits them (a task, a break-glass alert), in-app and by mail.

The Notifier (consumer.py) is a messaging consumer: `safeguard notifier` runs it against
RabbitMQ, and `safeguard serve` runs it in-process when no broker is configured (the
embedded default, services.bootstrap.start_embedded_services). It writes in-app
notifications and queues emails; the email sender (email_queue.py) sends the queued emails
with retries of their own, in the same processes. What a notification may say is fixed in
messages.py (never details of children); who hears it is decided in recipients.py by the
access rules; email.py speaks SMTP. operations.py and email_operations.py gather what the
operations page shows: events that failed or were dead-lettered, timer failures, and emails
being retried or given up on.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from services.config import Settings
from services.db import SqlAlchemyUnitOfWork
from services.db.column_types import utcnow
from services.notifications.consumer import NOTIFIER_NAME, Notifier
from services.notifications.email import (
    Email,
    EmailFailed,
    EmailSender,
    FakeEmailSender,
    SmtpEmailSender,
)
from services.notifications.email_queue import (
    EmailQueueSender,
    EmailRetryPolicy,
    RunningEmailSender,
    start_email_sender,
)

UnitOfWorkFactory = Callable[[], SqlAlchemyUnitOfWork]


def notifier_for(
    settings: Settings,
    uow_factory: UnitOfWorkFactory | None = None,
    *,
    clock: Callable[[], datetime] = utcnow,
) -> Notifier:
    """The notifier these settings describe: queueing emails if SMTP is configured.

    `uow_factory` is not needed any more (the consumer framework hands the notifier its unit
    of work, and email_sender_for's sender sends the emails); callers may still pass it.
    """
    del uow_factory
    return Notifier(base_url=settings.base_url, email=settings.smtp is not None, clock=clock)


def email_sender_for(
    settings: Settings,
    uow_factory: UnitOfWorkFactory,
    clock: Callable[[], datetime] = utcnow,
) -> EmailQueueSender | None:
    """The sender of queued emails over the configured SMTP server; None if SMTP is not set."""
    if settings.smtp is None:
        return None
    return EmailQueueSender(SmtpEmailSender(settings.smtp), uow_factory, clock=clock)


__all__ = [
    "NOTIFIER_NAME",
    "Email",
    "EmailFailed",
    "EmailQueueSender",
    "EmailRetryPolicy",
    "EmailSender",
    "FakeEmailSender",
    "Notifier",
    "RunningEmailSender",
    "SmtpEmailSender",
    "email_sender_for",
    "notifier_for",
    "start_email_sender",
]
