"""Notifications: telling people that a task awaits them, by email and in the app.

The Notifier (consumer.py) is a messaging consumer: `safeguard notifier` runs it against
RabbitMQ, and `safeguard serve` runs it in-process when no broker is configured (the
embedded default, services.bootstrap.start_embedded_services). What it may say is fixed in
messages.py (task type, school, link; never details of children); who hears it is decided
in recipients.py by the access rules; email.py sends over SMTP. operations.py gathers what
the operations page shows: events that failed or were dead-lettered, and timer failures.
"""

from __future__ import annotations

from collections.abc import Callable

from services.config import Settings
from services.db import SqlAlchemyUnitOfWork
from services.notifications.consumer import NOTIFIER_NAME, Notifier
from services.notifications.email import (
    Email,
    EmailFailed,
    EmailSender,
    FakeEmailSender,
    SmtpEmailSender,
)


def notifier_for(settings: Settings, uow_factory: Callable[[], SqlAlchemyUnitOfWork]) -> Notifier:
    """The notifier these settings describe: emailing through SMTP if SMTP is configured."""
    sender = SmtpEmailSender(settings.smtp) if settings.smtp is not None else None
    return Notifier(base_url=settings.base_url, sender=sender, uow_factory=uow_factory)


__all__ = [
    "NOTIFIER_NAME",
    "Email",
    "EmailFailed",
    "EmailSender",
    "FakeEmailSender",
    "Notifier",
    "SmtpEmailSender",
    "notifier_for",
]
