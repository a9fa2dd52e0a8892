"""The messaging ports: what a consumer is, what it receives, and what publishers and runners do.

The RabbitMQ adapters (rabbitmq.py) and the in-process ones (in_process.py) implement the same
Publisher and ConsumerRunner; consumers are written once against `Consumer` and `Delivery`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from services.db import SqlAlchemyUnitOfWork

_CONSUMER_NAME = re.compile(r"[a-z][a-z0-9_-]{0,62}")


class MessageInvalid(Exception):
    """A message no attempt can handle (bad JSON, a missing field): dead-letter it at once.

    Consumers raise it for payloads they cannot use; the framework raises it for bodies
    that are not a JSON object or lack the message id or event type.
    """


class PublishFailed(Exception):
    """The publisher lost the broker (or was stopped) before finishing a batch."""


@dataclass(frozen=True)
class OutgoingMessage:
    """An outbox row on its way to the broker."""

    message_id: str
    routing_key: str
    event_type: str
    payload: Mapping[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class Delivery:
    """A message as a consumer receives it.

    `attempts` counts this attempt and the earlier ones this consumer made on the message
    (1 the first time). A message can arrive more than once: the framework skips ids the
    consumer has already processed, so `handle` sees each message id once per commit.
    """

    message_id: str
    routing_key: str
    event_type: str
    payload: Mapping[str, Any]
    attempts: int = 1


@dataclass(frozen=True)
class PublishOutcome:
    """What became of a batch: the relay marks `confirmed` sent and retries `refused` later.

    `notes` holds problems with confirmed messages (in-process dead letters) for the outbox
    row's last_error; `failure` is set when the batch stopped early: messages in none of the
    three maps were not published (or not confirmed) and stay pending.
    """

    confirmed: tuple[str, ...] = ()
    refused: Mapping[str, str] = field(default_factory=dict)
    notes: Mapping[str, str] = field(default_factory=dict)
    failure: PublishFailed | None = None


class Consumer(Protocol):
    """A consumer: a unique name (its queue), the routing-key patterns it wants, a handler.

    `handle` does its work through `uow` and must not commit: the framework records the
    message as processed in the same transaction and commits both, then acks. Raise
    MessageInvalid for a message that can never succeed; any other exception is retried and
    the message dead-lettered after the last attempt.

    Before `handle`, the framework looks the message up among the processed ones. A consumer
    with a true `effects_only_in_transaction` attribute (nothing done outside `uow`: no
    email sent, no job run) is spared that look-up: a duplicate is handled again and its
    commit refused on the processed_messages key, which rolls its effects back.
    """

    @property
    def name(self) -> str:
        """Lower-case letters, digits, `_` and `-`: the queue name and the dedupe key."""
        ...

    @property
    def bindings(self) -> tuple[str, ...]:
        """Topic patterns, e.g. "school.*.role.dsl.task.ready" or "school.#"."""
        ...

    def handle(self, message: Delivery, uow: SqlAlchemyUnitOfWork) -> None:
        """Apply the message's effect through `uow` (no commit)."""
        ...


class Publisher(Protocol):
    """Sends a batch to the broker and reports which messages it confirmed."""

    def publish(self, messages: Sequence[OutgoingMessage]) -> PublishOutcome:
        """Publish in order; stop at the first connection problem (outcome.failure)."""
        ...

    def keep_alive(self) -> None:
        """Service the connection between batches (heartbeats); never raises."""
        ...

    def close(self) -> None:
        """Drop the connection, if any (the next publish reconnects and redeclares)."""
        ...


class ConsumerRunner(Protocol):
    """Delivers messages to its consumers until told to stop."""

    def run(self, stop: threading.Event) -> None:
        """Deliver until `stop` is set; reconnect with backoff when the broker or DB goes."""
        ...


def check_consumer(consumer: Consumer) -> None:
    """Refuse a consumer whose name or bindings cannot name a queue or match a routing key."""
    if not _CONSUMER_NAME.fullmatch(consumer.name):
        raise ValueError(
            f"consumer name {consumer.name!r} is not usable: use 1-63 lower-case letters, "
            "digits, '_' or '-', starting with a letter"
        )
    if not consumer.bindings or any(not b or " " in b for b in consumer.bindings):
        raise ValueError(
            f"consumer {consumer.name!r} has no bindings or an empty one: {consumer.bindings!r}"
        )


def check_consumers(consumers: Sequence[Consumer]) -> tuple[Consumer, ...]:
    """Check each consumer and that no two share a name; return them as a tuple."""
    names = [c.name for c in consumers]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"two consumers share the name {duplicates[0]!r}: names must be unique")
    for consumer in consumers:
        check_consumer(consumer)
    return tuple(consumers)
