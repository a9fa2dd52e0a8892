"""The embedded default (SAFEGUARD_AMQP_URL unset): the same outbox, relay and consumers, no broker.

Delivery is synchronous inside the relay's background thread: the InProcessPublisher hands
each outbox row to every consumer whose bindings match its routing key, through the same
`process_delivery` the RabbitMQ runner uses (dedupe, retries, dead letters), and reports the
row confirmed only when each consumer has committed or given up. So the outbox row itself is
the durable queue: if the process dies mid-delivery the row is still unsent, is delivered
again on restart, and the consumers that already committed skip it. Web requests never wait
for consumers; they only commit outbox rows, and the commit hook wakes the relay thread.

Where a RabbitMQ consumer would dead-letter, the in-process one records the reason in the
outbox row's last_error (the row is marked sent: the other consumers had it). Find them with
`uow.outbox.dead_lettered(limit)`; an admin delivers such a row again with "Deliver again" on
the operations page (services.notifications.operations.deliver_again: the consumers that
processed it skip it). A row no consumer binds is refused as unroutable and
retried later, as with a bare broker; with `keep_unrouted` (what `safeguard serve` uses) it
is marked sent with the note "unrouted: ..." in last_error instead, as the broker's
alternate exchange keeps it (services.messaging.topology), and is not retried. Both notes
make `uow.outbox.dead_lettered` list the row: tell them apart by their first word.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Sequence

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from services.db import SqlAlchemyUnitOfWork
from services.messaging.consumer import Outcome, RetryPolicy, UnitOfWorkFactory, process_delivery
from services.messaging.ports import (
    Consumer,
    Delivery,
    OutgoingMessage,
    PublishFailed,
    PublishOutcome,
    check_consumers,
)
from services.messaging.reconnect import wait_or_stop
from services.messaging.relay import OutboxRelay, RelaySettings
from services.messaging.relay_guard import SingleRelayGuard
from services.messaging.topology import topic_matches
from services.messaging.wakeup import CommitHook, EventWakeup, Wakeup, make_wakeup

logger = logging.getLogger(__name__)


class InProcessPublisher:
    """Delivers each message to the matching consumers in the calling thread."""

    def __init__(
        self,
        consumers: Sequence[Consumer],
        uow_factory: UnitOfWorkFactory,
        stop: threading.Event,
        *,
        policy: RetryPolicy | None = None,
        keep_unrouted: bool = False,
    ) -> None:
        self._consumers = check_consumers(consumers)
        self._uow_factory = uow_factory
        self._stop = stop
        self._policy = policy or RetryPolicy()
        self._keep_unrouted = keep_unrouted

    def publish(self, messages: Sequence[OutgoingMessage]) -> PublishOutcome:
        """Deliver in order; a message is confirmed once every matching consumer is done."""
        confirmed: list[str] = []
        refused: dict[str, str] = {}
        notes: dict[str, str] = {}
        for message in messages:
            targets = [c for c in self._consumers if _binds(c, message.routing_key)]
            if not targets:
                reason = f"no in-process consumer binds routing key {message.routing_key!r}"
                if self._keep_unrouted:
                    confirmed.append(message.message_id)
                    notes[message.message_id] = f"unrouted: {reason}: kept, not retried"
                else:
                    refused[message.message_id] = f"unroutable: {reason}"
                continue
            dead: list[str] = []
            for consumer in targets:
                result = process_delivery(
                    consumer, _delivery(message), self._uow_factory, self._policy, self._sleep
                )
                if result.outcome is Outcome.ABANDONED:
                    failure = PublishFailed(
                        f"stopped while consumer {consumer.name} retried message "
                        f"{message.message_id}: it stays pending"
                    )
                    return PublishOutcome(tuple(confirmed), refused, notes, failure)
                if result.outcome is Outcome.DEAD_LETTERED:
                    dead.append(f"dead letter: consumer {consumer.name} gave up: {result.reason}")
            confirmed.append(message.message_id)
            if dead:
                notes[message.message_id] = "; ".join(dead)
        return PublishOutcome(tuple(confirmed), refused, notes)

    def keep_alive(self) -> None:
        """Nothing to keep alive."""

    def close(self) -> None:
        """Nothing to close."""

    def _sleep(self, seconds: float) -> bool:
        return wait_or_stop(self._stop, seconds)


class InProcessConsumerRunner:
    """Runs the consumers in-process: the outbox relay with an InProcessPublisher."""

    def __init__(
        self,
        consumers: Sequence[Consumer],
        uow_factory: UnitOfWorkFactory,
        wakeup: Wakeup,
        *,
        policy: RetryPolicy | None = None,
        settings: RelaySettings | None = None,
        keep_unrouted: bool = False,
    ) -> None:
        self._consumers = check_consumers(consumers)
        self._uow_factory = uow_factory
        self._wakeup = wakeup
        self._policy = policy
        self._settings = settings
        self._keep_unrouted = keep_unrouted

    def run(self, stop: threading.Event) -> None:
        """Relay and deliver until `stop` is set."""
        publisher = InProcessPublisher(
            self._consumers,
            self._uow_factory,
            stop,
            policy=self._policy,
            keep_unrouted=self._keep_unrouted,
        )
        relay = OutboxRelay(self._uow_factory, publisher, self._wakeup, settings=self._settings)
        relay.run(stop)


class EmbeddedMessaging:
    """The in-process relay and consumers on a background thread, for `safeguard serve`.

    start() hooks the session factory so each commit that writes outbox rows wakes the relay
    at once (on PostgreSQL the NOTIFY trigger does it), and takes the one-relay-per-SQLite
    lock in the thread (a second process on the same file stands by). stop() finishes the
    current batch and joins the thread.
    """

    def __init__(
        self,
        engine: Engine,
        session_factory: sessionmaker[Session],
        consumers: Sequence[Consumer],
        *,
        policy: RetryPolicy | None = None,
        settings: RelaySettings | None = None,
        keep_unrouted: bool = False,
    ) -> None:
        self._engine = engine
        self._session_factory = session_factory
        self._consumers = check_consumers(consumers)
        self._policy = policy
        self._settings = settings
        self._keep_unrouted = keep_unrouted
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._hook: CommitHook | None = None

    def start(self) -> None:
        """Start the relay thread (once)."""
        if self._thread is not None:
            raise RuntimeError("embedded messaging is already started")
        wakeup = make_wakeup(self._engine)
        if isinstance(wakeup, EventWakeup):
            self._hook = CommitHook(self._session_factory, wakeup)
            self._hook.install()
        self._thread = threading.Thread(
            target=self._run, args=(wakeup,), name="safeguard-relay", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the thread to stop after its batch and wait up to `timeout` seconds."""
        self._stop.set()
        if self._hook is not None:
            self._hook.remove()
            self._hook = None
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                logger.error("the in-process relay did not stop within %.0fs", timeout)
            self._thread = None

    def _run(self, wakeup: Wakeup) -> None:
        url = self._engine.url.render_as_string(hide_password=False)
        with SingleRelayGuard(url) as guard:
            if not guard.acquire(self._stop):
                return
            runner = InProcessConsumerRunner(
                self._consumers,
                lambda: SqlAlchemyUnitOfWork(self._session_factory),
                wakeup,
                policy=self._policy,
                settings=self._settings,
                keep_unrouted=self._keep_unrouted,
            )
            runner.run(self._stop)


def _binds(consumer: Consumer, routing_key: str) -> bool:
    return any(topic_matches(pattern, routing_key) for pattern in consumer.bindings)


def _delivery(message: OutgoingMessage) -> Delivery:
    return Delivery(
        message_id=message.message_id,
        routing_key=message.routing_key,
        event_type=message.event_type,
        # Each consumer gets its own copy, as each would get its own body from the broker.
        payload=copy.deepcopy(dict(message.payload)),
    )
