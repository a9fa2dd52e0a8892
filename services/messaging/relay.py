"""The outbox relay: publishes committed outbox rows and marks each sent only once confirmed.

One batch is one database transaction: claim the oldest due unsent rows (locked with SKIP
LOCKED on PostgreSQL, so concurrent relays take disjoint batches), publish them, then in the
same transaction mark the confirmed ones sent and give the refused ones (unroutable, nacked)
their error and a later retry time. If the relay dies mid-batch the transaction rolls back,
the locks go, and the rows are published again by the next relay: delivery is at least
once, and consumers dedupe on the message id.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import InterfaceError, OperationalError

from services.db.column_types import utcnow
from services.db.repositories import OutboxRepository
from services.db.repositories.records import ClaimedMessage
from services.messaging.consumer import UnitOfWorkFactory
from services.messaging.ports import OutgoingMessage, Publisher, PublishFailed, PublishOutcome
from services.messaging.reconnect import Backoff, wait_or_stop
from services.messaging.wakeup import Wakeup

logger = logging.getLogger(__name__)

# What makes the relay back off and try again rather than stop: the broker or the database
# going away (pool_pre_ping replaces dead database connections on the next checkout).
RELAY_OUTAGES: tuple[type[Exception], ...] = (PublishFailed, OperationalError, InterfaceError)


@dataclass(frozen=True)
class RelaySettings:
    """Batch size, fallback poll interval, and the retry delays of refused messages."""

    batch_size: int = 100
    poll_interval: float = 2.0
    retry_first_delay: float = 1.0
    retry_max_delay: float = 300.0

    def retry_delay(self, attempts: int) -> timedelta:
        """The wait before retrying a message refused `attempts` times."""
        seconds = self.retry_first_delay * 2 ** min(max(attempts - 1, 0), 30)
        return timedelta(seconds=min(self.retry_max_delay, seconds))


class OutboxRelay:
    """Moves outbox rows to a Publisher, batch by batch, woken by new commits."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        publisher: Publisher,
        wakeup: Wakeup,
        *,
        settings: RelaySettings | None = None,
        backoff: Backoff | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._uow_factory = uow_factory
        self._publisher = publisher
        self._wakeup = wakeup
        self._settings = settings or RelaySettings()
        self._backoff = backoff or Backoff()
        self._clock = clock

    def publish_batch(self) -> int:
        """Publish one batch of due rows; return how many rows it claimed.

        Raises PublishFailed (after recording what was confirmed before the failure) or a
        database error; the rows not recorded stay pending.
        """
        with self._uow_factory() as uow:
            rows = uow.outbox.claim(self._settings.batch_size, self._clock())
            if not rows:
                return 0
            outcome = self._publisher.publish([_outgoing(row) for row in rows])
            self._record(uow.outbox, rows, outcome)
            uow.commit()
        if outcome.failure is not None:
            raise outcome.failure
        return len(rows)

    def drain(self, stop: threading.Event) -> int:
        """Publish batches until a batch comes back short (or stop); return rows claimed."""
        total = 0
        while not stop.is_set():
            claimed = self.publish_batch()
            total += claimed
            if claimed < self._settings.batch_size:
                break
        return total

    def run(self, stop: threading.Event) -> None:
        """Relay until `stop` is set: drain, wait for a wake-up or the poll, and again.

        A broker or database outage closes the publisher and retries after a capped
        exponential backoff; the batch in hand when stop is set is finished first.
        """
        # Listen before the first drain, so a commit between the two still wakes the relay.
        self._wakeup.listen()
        try:
            while not stop.is_set():
                try:
                    self.drain(stop)
                except RELAY_OUTAGES as exc:
                    self._publisher.close()
                    delay = self._backoff.next_delay()
                    logger.warning("relay: %s; retrying in %.1fs", exc, delay)
                    wait_or_stop(stop, delay)
                    continue
                self._backoff.reset()
                self._wakeup.wait(self._settings.poll_interval, stop)
                self._publisher.keep_alive()
        finally:
            self._publisher.close()
            self._wakeup.close()

    def _record(
        self, outbox: OutboxRepository, rows: list[ClaimedMessage], outcome: PublishOutcome
    ) -> None:
        by_id = {row.message_id: row for row in rows}
        now = self._clock()
        outbox.mark_sent([by_id[m].id for m in outcome.confirmed], now)
        for message_id, reason in outcome.refused.items():
            row = by_id[message_id]
            retry_at = now + self._settings.retry_delay(row.attempts + 1)
            outbox.mark_failed(row.id, reason, retry_at)
            logger.warning(
                "outbox message %s (%s) not sent: %s; retrying at %s",
                message_id,
                row.routing_key,
                reason,
                retry_at.isoformat(timespec="seconds"),
            )
        for message_id, note in outcome.notes.items():
            outbox.note_error(by_id[message_id].id, note)


def _outgoing(row: ClaimedMessage) -> OutgoingMessage:
    return OutgoingMessage(
        message_id=row.message_id,
        routing_key=row.routing_key,
        event_type=row.event_type,
        payload=row.payload,
        created_at=row.created_at,
    )
