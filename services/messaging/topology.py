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
- With `keep_unrouted` (what `safeguard relay` and `safeguard notifier` declare): the events
  exchange has the alternate exchange `safeguard.unrouted` (fanout), bound to the durable
  quorum queue `safeguard.unrouted` (at most UNROUTED_MAX_LENGTH messages, oldest dropped
  first). An event no consumer binds (incident.started, say) goes there: the broker confirms
  it, the relay marks it sent, and it stays visible instead of being retried for ever.
  Without it (the default, and the tests of the bare relay) the broker returns such an event
  and the relay retries it later.

Changing an exchange's arguments needs it deleted first: declaring `safeguard.events` with
the alternate exchange where an older version declared it without (or the reverse) fails
with PRECONDITION_FAILED. Then the exchange is used as it is, with a warning in the log, and
unrouted events keep being retried. To migrate (exchanges hold no messages, but deleting one
drops its bindings): stop the relay, delete the exchange (`rabbitmqctl eval
'rabbit_exchange:delete(rabbit_misc:r(<<"/">>, exchange, <<"safeguard.events">>), false,
<<"admin">>).'` or the management UI), start every consumer process (each redeclares its
bindings), then start the relay.

Declaring is idempotent; a queue declared earlier with other arguments makes the broker close
the channel (PRECONDITION_FAILED): delete the queue or use a new consumer name to change them.
Bindings removed from a consumer stay on the broker until unbound by hand.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pika.exceptions

from services.messaging.ports import Consumer, check_consumers

if TYPE_CHECKING:
    from pika.adapters.blocking_connection import BlockingChannel

logger = logging.getLogger(__name__)

DEFAULT_PREFIX = "safeguard"
DEFAULT_DELIVERY_LIMIT = 10
UNROUTED_MAX_LENGTH = 100_000
_PRECONDITION_FAILED = 406


@dataclass(frozen=True)
class Topology:
    """Names and arguments of the exchanges and queues, under one prefix (one per deployment)."""

    prefix: str = DEFAULT_PREFIX
    delivery_limit: int = DEFAULT_DELIVERY_LIMIT
    keep_unrouted: bool = False

    @property
    def events_exchange(self) -> str:
        """The topic exchange every event is published to."""
        return f"{self.prefix}.events"

    @property
    def unrouted_exchange(self) -> str:
        """The alternate exchange of the events exchange (with keep_unrouted)."""
        return f"{self.prefix}.unrouted"

    @property
    def unrouted_queue(self) -> str:
        """The queue keeping events no consumer binds (with keep_unrouted)."""
        return f"{self.prefix}.unrouted"

    def events_exchange_arguments(self) -> dict[str, Any]:
        """The x-arguments of the events exchange."""
        return {"alternate-exchange": self.unrouted_exchange} if self.keep_unrouted else {}

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


def deployment_topology(prefix: str = DEFAULT_PREFIX) -> Topology:
    """The topology the relay and consumer processes of a deployment share: unrouted kept."""
    return Topology(prefix=prefix, keep_unrouted=True)


def declare_exchanges(channel: BlockingChannel, topology: Topology) -> None:
    """Declare the events and dead-letter exchanges (what the relay needs), and the unrouted."""
    if topology.keep_unrouted:
        channel.exchange_declare(topology.unrouted_exchange, "fanout", durable=True)
        channel.queue_declare(
            topology.unrouted_queue,
            durable=True,
            arguments={"x-queue-type": "quorum", "x-max-length": UNROUTED_MAX_LENGTH},
        )
        channel.queue_bind(topology.unrouted_queue, topology.unrouted_exchange)
    _declare_events_exchange(channel, topology)
    channel.exchange_declare(topology.dead_exchange, "direct", durable=True)


def _declare_events_exchange(channel: BlockingChannel, topology: Topology) -> None:
    # Tried on a channel of its own: PRECONDITION_FAILED closes the channel it happens on.
    probe = channel.connection.channel()
    try:
        probe.exchange_declare(
            topology.events_exchange,
            "topic",
            durable=True,
            arguments=topology.events_exchange_arguments(),
        )
    except pika.exceptions.ChannelClosedByBroker as exc:
        if exc.reply_code != _PRECONDITION_FAILED:
            raise
        logger.warning(
            "exchange %s exists with other arguments than %s (%s): using it as it is, so "
            "events no consumer binds are %s; see services/messaging/topology.py to migrate",
            topology.events_exchange,
            topology.events_exchange_arguments(),
            exc.reply_text,
            "retried rather than kept" if topology.keep_unrouted else "kept",
        )
        channel.exchange_declare(topology.events_exchange, passive=True)
    finally:
        if probe.is_open:
            probe.close()


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
