"""The email sender: sends the notification emails the notifier queued, each with its own retries.

A queued email (`email_deliveries`, state 'pending') is due at once. `send_due` claims due
emails (moving next_attempt_at a lease ahead, with a conditional update, so two senders never
take the same one), then sends them one at a time, holding no transaction while the mail
server answers, and records the outcome:

- handed to the server: 'sent';
- refused or unreachable: tried again after EmailRetryPolicy's delay (1 minute, doubling to
  1 hour), until a day has passed since it was queued: then 'failed', shown on the operations
  page until an administrator sends it again (services.notifications.email_operations);
- no longer worth sending ('skipped', the reason in last_error): the person's account is
  inactive or they left the school, the task no longer waits, or the notification is gone.

An email is sent at least once: if the process dies between the server's acceptance and the
record of it, the claim runs out (CLAIM_LEASE) and the email goes again. `run` loops
`send_due` every few seconds until stopped: `safeguard notifier` runs it beside the consumer,
and `safeguard serve` (the embedded default) in a thread (`start_email_sender`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, exists, select

from services.db import SqlAlchemyUnitOfWork
from services.db.column_types import utcnow
from services.db.models import HumanTask, Membership, Notification, User
from services.db.repositories.notifications import ClaimedEmail
from services.notifications.email import Email, EmailSender, describe_smtp_error
from services.notifications.messages import TASK_ASSIGNED, TASK_READY

logger = logging.getLogger(__name__)

UnitOfWorkFactory = Callable[[], SqlAlchemyUnitOfWork]
EMAIL_POLL_SECONDS = 5.0
CLAIM_LEASE = timedelta(minutes=10)
_TASK_KINDS = (TASK_READY, TASK_ASSIGNED)
_ERROR_LIMIT = 1000


@dataclass(frozen=True)
class EmailRetryPolicy:
    """How long a failing email is retried: delays doubling from first_delay up to max_delay."""

    first_delay: timedelta = timedelta(minutes=1)
    max_delay: timedelta = timedelta(hours=1)
    give_up_after: timedelta = timedelta(days=1)

    def retry_at(self, failures: int, queued_at: datetime | None, now: datetime) -> datetime | None:
        """When to try again after `failures` failed tries; None once give_up_after has passed."""
        deadline = (queued_at or now) + self.give_up_after
        if now >= deadline:
            return None
        doublings = min(max(failures, 1) - 1, 30)
        delay = min(self.max_delay, self.first_delay * int(2**doublings))
        return min(now + delay, deadline)  # the last try falls on the deadline


class EmailQueueSender:
    """Sends due queued emails through an EmailSender, recording each outcome (module docstring)."""

    def __init__(
        self,
        sender: EmailSender,
        uow_factory: UnitOfWorkFactory,
        *,
        clock: Callable[[], datetime] = utcnow,
        policy: EmailRetryPolicy | None = None,
        batch_size: int = 50,
    ) -> None:
        self._sender = sender
        self._uow_factory = uow_factory
        self._clock = clock
        self._policy = policy or EmailRetryPolicy()
        self._batch_size = batch_size

    def send_due(self, stop: threading.Event | None = None) -> int:
        """Send every email due now, a batch at a time; return how many the server accepted."""
        accepted = 0
        while stop is None or not stop.is_set():
            batch = self._claim()
            for email in batch:
                if stop is not None and stop.is_set():
                    break  # the rest go when their claim runs out
                accepted += self._send(email)
            if len(batch) < self._batch_size:
                break
        return accepted

    def run(self, stop: threading.Event, interval: float = EMAIL_POLL_SECONDS) -> None:
        """Send due emails every `interval` seconds until `stop` is set (errors are logged)."""
        try:
            while not stop.is_set():
                try:
                    self.send_due(stop)
                except Exception:
                    logger.exception(
                        "email sender: a round failed; trying again in %.0fs", interval
                    )
                stop.wait(interval)
        finally:
            self._sender.close()

    def _claim(self) -> list[ClaimedEmail]:
        now = self._clock()
        with self._uow_factory() as uow:
            claimed = uow.notifications.claim_due_emails(now, now + CLAIM_LEASE, self._batch_size)
            uow.commit()
        return claimed

    def _send(self, email: ClaimedEmail) -> int:
        with self._uow_factory() as uow:
            address, skip = _address_or_reason(uow, email.message_id, email.user_id)
            if skip is not None:
                uow.notifications.email_skipped(email.message_id, email.user_id, skip)
                uow.commit()
                logger.info("email sender: email of event %s not sent: %s", email.message_id, skip)
                return 0
        try:
            self._sender.send(Email(address, email.subject, email.body))
        except Exception as exc:  # whatever went wrong, the email is retried
            self._failed(email, exc)
            return 0
        with self._uow_factory() as uow:
            uow.notifications.email_sent(email.message_id, email.user_id, self._clock())
            uow.commit()
        return 1

    def _failed(self, email: ClaimedEmail, exc: Exception) -> None:
        now = self._clock()
        error = describe_smtp_error(exc)[:_ERROR_LIMIT]
        retry_at = self._policy.retry_at(email.attempts + 1, email.queued_at, now)
        with self._uow_factory() as uow:
            uow.notifications.email_failed(email.message_id, email.user_id, error, retry_at)
            uow.commit()
        if retry_at is None:
            logger.error(
                "email sender: gave up on the email of event %s to person %d after %d tries: %s",
                email.message_id,
                email.user_id,
                email.attempts + 1,
                error,
            )
        else:
            logger.warning(
                "email sender: the email of event %s to person %d failed (try %d, next at %s): %s",
                email.message_id,
                email.user_id,
                email.attempts + 1,
                retry_at.isoformat(),
                error,
            )


# One statement (every email asks it, just before it goes), built once: the notification, with
# its person, their membership of its school and its task joined in.
_MEMBER = (
    exists()
    .where(
        Membership.user_id == Notification.user_id,
        Membership.school_id == Notification.school_id,
    )
    .correlate(Notification)
)
_ADDRESS = (
    select(Notification.kind, Notification.task_id, User.email, User.is_active, _MEMBER)
    .select_from(Notification)
    .outerjoin(User, User.id == Notification.user_id)
    .outerjoin(HumanTask, HumanTask.id == Notification.task_id)
    .add_columns(HumanTask.state)
    .where(Notification.message_id == bindparam("m"), Notification.user_id == bindparam("u"))
    .limit(1)
)


def _address_or_reason(
    uow: SqlAlchemyUnitOfWork, message_id: str, user_id: int
) -> tuple[str, str | None]:
    """The person's address now, or why the email is no longer to be sent."""
    found = uow.session.connection().execute(_ADDRESS, {"m": message_id, "u": user_id}).first()
    if found is None:
        return "", "not sent: its notification is gone (the incident was deleted)"
    kind, task_id, email, is_active, is_member, task_state = found
    if email is None or not is_active:
        return "", "not sent: the person's account is not active"
    if not is_member:
        return "", "not sent: the person no longer belongs to the school"
    if kind in _TASK_KINDS and task_id is not None and task_state != "ready":
        return "", "not sent: the task no longer waits"
    return str(email), None


@dataclass(frozen=True)
class RunningEmailSender:
    """An EmailQueueSender looping in a thread; stop() ends it after the email in hand."""

    sender: EmailQueueSender
    thread: threading.Thread
    stop_event: threading.Event

    def stop(self, timeout: float | None = 10.0) -> bool:
        """Ask the loop to end and wait for it; True if it has ended."""
        self.stop_event.set()
        self.thread.join(timeout)
        return not self.thread.is_alive()


def start_email_sender(
    sender: EmailQueueSender, interval: float = EMAIL_POLL_SECONDS
) -> RunningEmailSender:
    """Run the sender in a daemon thread of this process until stop() (or the process ends)."""
    stop_event = threading.Event()
    thread = threading.Thread(
        target=sender.run, args=(stop_event, interval), name="safeguard-email", daemon=True
    )
    thread.start()
    return RunningEmailSender(sender, thread, stop_event)


__all__ = [
    "CLAIM_LEASE",
    "EMAIL_POLL_SECONDS",
    "EmailQueueSender",
    "EmailRetryPolicy",
    "RunningEmailSender",
    "start_email_sender",
]
