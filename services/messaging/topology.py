"""The broker topology: names, queue arguments, declarations, and topic matching for in-process use.

With the default prefix "safeguard":

- `safeguard.events`: durable topic exchange; the relay publishes every outbox row here under
  its routing key (`school.<id>.role.<role>.task.ready`, `school.<id>.incident.closed`, ...).
- `safeguard.dead`: durable direct exchange receiving dead letters.
- `safeguard.<consumer>`: one durable quorum queue per consumer, bound to `safeguard.events`
  by the consumer's patterns, with x-dead-letter-exchange `safeguard.dead`,
  x-dead-letter-routing-key `<consumer>`, x-delivery-limit (default 10),
  x-dead-letter-strategy at-least-once and x-overflow reject-publish (what at-least-once
  dead-lettering needs): a message the consumer gives up on, or one delivered too many times
  without an ack, moves to the dead-letter queue and is never dropped.
- `safeguard.<consumer>.dead`: the consumer's durable quorum dead-letter queue.

Declaring is idempotent; a queue declared earlier with other arguments makes the broker close
the channel (PRECONDITION_FAILED): delete the queue or use a new consumer name to change them.
Bindings removed from a consumer stay on the broker until unbound by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from services.messaging.ports import Consumer, check_consumers

if TYPE_CHECKING:
    from pika.adapters.blocking_connection import BlockingChannel

DEFAULT_PREFIX = "safeguard"
DEFAULT_DELIVERY_LIMIT = 10


@dataclass(frozen=True)
class Topology:
    """Names and arguments of the exchanges and queues, under one prefix (one per deployment)."""

    prefix: str = DEFAULT_PREFIX
    delivery_limit: int = DEFAULT_DELIVERY_LIMIT

    @property
    def events_exchange(self) -> str:
        """The topic exchange every event is published to."""
        return f"{self.prefix}.events"

    @property
    def dead_exchange(self) -> str:
        """The direct exchange dead letters go through."""
        return f"{self.prefix}.dead"

    def queue(self, consumer_name: str) -> str:
        """The consumer's queue."""
        return f"{self.prefix}.{consumer_name}"

    def dead_queue(self, consumer_name: str) -> str:
        """The consumer's dead-letter queue."""
        return f"{self.prefix}.{consumer_name}.dead"

    def queue_arguments(self, consumer_name: str) -> dict[str, Any]:
        """The x-arguments of a consumer's queue."""
        return {
            "x-queue-type": "quorum",
            "x-dead-letter-exchange": self.dead_exchange,
            "x-dead-letter-routing-key": consumer_name,
            "x-delivery-limit": self.delivery_limit,
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        }


def declare_exchanges(channel: BlockingChannel, topology: Topology) -> None:
    """Declare the events and dead-letter exchanges (what the relay needs)."""
    channel.exchange_declare(topology.events_exchange, "topic", durable=True)
    channel.exchange_declare(topology.dead_exchange, "direct", durable=True)


def declare(channel: BlockingChannel, topology: Topology, consumers: Sequence[Consumer]) -> None:
    """Declare the exchanges, then each consumer's queue, its bindings and its dead-letter queue."""
    declare_exchanges(channel, topology)
    for consumer in check_consumers(consumers):
        dead = topology.dead_queue(consumer.name)
        channel.queue_declare(dead, durable=True, arguments={"x-queue-type": "quorum"})
        channel.queue_bind(dead, topology.dead_exchange, routing_key=consumer.name)
        queue = topology.queue(consumer.name)
        channel.queue_declare(
            queue, durable=True, arguments=topology.queue_arguments(consumer.name)
        )
        for pattern in consumer.bindings:
            channel.queue_bind(queue, topology.events_exchange, routing_key=pattern)


def topic_matches(pattern: str, routing_key: str) -> bool:
    """Tell whether a topic pattern matches a routing key as RabbitMQ does.

    Words are separated by dots; `*` matches exactly one word, `#` zero or more.
    """
    return _match(pattern.split("."), routing_key.split("."))


def _match(pattern: list[str], words: list[str]) -> bool:
    # reachable[j]: the pattern read so far can match the first j words.
    reachable = [True] + [False] * len(words)
    for part in pattern:
        if part == "#":
            for j in range(1, len(words) + 1):
                reachable[j] = reachable[j] or reachable[j - 1]
        else:
            reachable = [False] + [
                reachable[j] and part in ("*", words[j]) for j in range(len(words))
            ]
    return reachable[-1]
