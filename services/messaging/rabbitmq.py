"""The RabbitMQ adapters (pika): a confirming publisher for the relay and a consumer runner.

A pika connection belongs to one thread of one process: each adapter connects lazily in the
thread that uses it (never at import, never before a fork) and drops a connection inherited
across a fork instead of sharing it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from functools import partial

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel
from pika.spec import Basic

from services.messaging.confirms import ConfirmingConnection
from services.messaging.consumer import (
    Outcome,
    RetryPolicy,
    UnitOfWorkFactory,
    process_delivery,
)
from services.messaging.ports import (
    Consumer,
    MessageInvalid,
    OutgoingMessage,
    PublishFailed,
    PublishOutcome,
    check_consumers,
)
from services.messaging.reconnect import Backoff, wait_or_stop
from services.messaging.topology import Topology, declare
from services.messaging.wire import (
    dead_letter_properties,
    decode_delivery,
    earlier_deliveries,
)

logger = logging.getLogger(__name__)

DEFAULT_PREFETCH = 20
# Broker errors and socket errors both mean "reconnect" to the adapters.
BROKER_ERRORS: tuple[type[Exception], ...] = (pika.exceptions.AMQPError, OSError)


def connection_parameters(amqp_url: str, connection_name: str) -> pika.URLParameters:
    """Parameters with bounded timeouts and a connection name the broker's tools show."""
    parameters = pika.URLParameters(amqp_url)
    parameters.connection_attempts = 1
    parameters.socket_timeout = 5
    parameters.stack_timeout = 10
    parameters.blocked_connection_timeout = 30
    parameters.client_properties = {"connection_name": connection_name}
    return parameters


def connect(amqp_url: str, connection_name: str) -> pika.BlockingConnection:
    """Open a blocking connection (see connection_parameters)."""
    return pika.BlockingConnection(connection_parameters(amqp_url, connection_name))


def close_quietly(connection: pika.BlockingConnection | None) -> None:
    """Close a connection that may already be broken, ignoring why it cannot be closed."""
    if connection is None or connection.is_closed:
        return
    try:
        connection.close()
    except BROKER_ERRORS as exc:
        logger.debug("closing a broken broker connection: %s", exc)


class RabbitMQPublisher:
    """Publishes to the events exchange with publisher confirms and `mandatory`.

    A message is confirmed only when the broker acked it and did not return it: a returned
    (unroutable) or nacked message is refused with the reason, and the relay retries it later.
    A batch is written whole and its confirms collected after (confirms.py). The first
    publish declares the exchanges (and the queues of `declare_for`) and opens the confirm
    channel; after a broken connection the next publish does both again.
    """

    def __init__(
        self,
        amqp_url: str,
        topology: Topology,
        *,
        declare_for: Sequence[Consumer] = (),
        connection_name: str = "safeguard-relay",
        confirm_timeout: float = 30.0,
    ) -> None:
        self._url = amqp_url
        self._topology = topology
        self._declare_for = check_consumers(declare_for)
        self._connection_name = connection_name
        self._confirm_timeout = confirm_timeout
        self._connection: ConfirmingConnection | None = None
        self._pid = 0

    def publish(self, messages: Sequence[OutgoingMessage]) -> PublishOutcome:
        """Publish the batch and wait for its confirms; a broken connection sets `failure`."""
        try:
            connection = self._open()
            outcome = connection.publish(
                self._topology.events_exchange, messages, self._confirm_timeout
            )
        except PublishFailed as exc:
            outcome = PublishOutcome(failure=exc)
        except BROKER_ERRORS as exc:
            outcome = PublishOutcome(failure=PublishFailed(_describe(exc)))
        if outcome.failure is not None:
            self.close()
            failure = PublishFailed(f"broker unavailable at {self._where()}: {outcome.failure}")
            return PublishOutcome(outcome.confirmed, outcome.refused, failure=failure)
        return outcome

    def keep_alive(self) -> None:
        """Exchange heartbeats between batches; a connection found broken is dropped."""
        if self._connection is None or self._pid != os.getpid():
            return
        try:
            self._connection.service()
        except BROKER_ERRORS as exc:
            logger.info("publisher connection lost while idle (%s)", _describe(exc))
            self.close()
            return
        if not self._connection.is_open:
            self.close()

    def close(self) -> None:
        """Close the connection (the next publish reconnects and redeclares)."""
        connection, self._connection = self._connection, None
        if connection is not None and self._pid == os.getpid():
            connection.close()

    def _open(self) -> ConfirmingConnection:
        if self._pid != os.getpid():
            # Inherited across a fork: the socket belongs to the parent; never touch it.
            self._connection = None
        if self._connection is not None and self._connection.is_open:
            return self._connection
        self.close()
        declaring = connect(self._url, f"{self._connection_name}-declare")
        try:
            declare(declaring.channel(), self._topology, self._declare_for)
        finally:
            close_quietly(declaring)
        parameters = connection_parameters(self._url, self._connection_name)
        self._connection = ConfirmingConnection(parameters)
        self._pid = os.getpid()
        logger.info("publisher connected to %s", self._where())
        return self._connection

    def _where(self) -> str:
        return _shown(self._url)


class RabbitMQConsumerRunner:
    """Consumes each consumer's queue; acks only after the consumer's commit.

    One connection and channel per runner (run it in one thread), prefetch `prefetch`
    unacked messages. A message the consumer gives up on is published to the dead-letter
    exchange with headers giving the reason (confirmed), then acked; if even that fails the
    message is rejected, and the queue's own dead-lettering moves it (x-death says why).
    """

    def __init__(
        self,
        amqp_url: str,
        topology: Topology,
        consumers: Sequence[Consumer],
        uow_factory: UnitOfWorkFactory,
        *,
        prefetch: int = DEFAULT_PREFETCH,
        policy: RetryPolicy | None = None,
        backoff: Backoff | None = None,
        connection_name: str = "safeguard-consumer",
    ) -> None:
        self._url = amqp_url
        self._topology = topology
        self._consumers = check_consumers(consumers)
        if not self._consumers:
            raise ValueError("a consumer runner needs at least one consumer")
        self._uow_factory = uow_factory
        self._prefetch = prefetch
        self._policy = policy or RetryPolicy()
        self._backoff = backoff or Backoff()
        self._connection_name = connection_name

    def run(self, stop: threading.Event) -> None:
        """Consume until `stop` is set, reconnecting (and redeclaring) with capped backoff."""
        while not stop.is_set():
            try:
                self._consume(stop)
            except BROKER_ERRORS as exc:
                delay = self._backoff.next_delay()
                logger.warning(
                    "consumer runner lost the broker at %s (%s); reconnecting in %.1fs",
                    _shown(self._url),
                    _describe(exc),
                    delay,
                )
                wait_or_stop(stop, delay)

    def _consume(self, stop: threading.Event) -> None:
        connection = connect(self._url, self._connection_name)
        try:
            channel = connection.channel()
            channel.confirm_delivery()  # for dead letters this runner publishes
            channel.basic_qos(prefetch_count=self._prefetch)
            declare(channel, self._topology, self._consumers)
            for consumer in self._consumers:
                callback = partial(self._on_message, connection, stop, consumer)
                channel.basic_consume(self._topology.queue(consumer.name), callback)
            self._backoff.reset()
            logger.info(
                "consuming %s from %s",
                ", ".join(self._topology.queue(c.name) for c in self._consumers),
                _shown(self._url),
            )
            while not stop.is_set():
                connection.process_data_events(time_limit=0.2)
        finally:
            # Unacked deliveries go back to their queues when the connection closes.
            close_quietly(connection)

    def _on_message(
        self,
        connection: pika.BlockingConnection,
        stop: threading.Event,
        consumer: Consumer,
        channel: BlockingChannel,
        method: Basic.Deliver,
        properties: pika.BasicProperties,
        body: bytes,
    ) -> None:
        tag = method.delivery_tag
        routing_key = str(method.routing_key)
        try:
            delivery = decode_delivery(routing_key, properties, body)
        except MessageInvalid as exc:
            self._dead_letter(
                channel, consumer, method, properties, body, f"invalid message: {exc}"
            )
            return
        sleep = partial(_sleep_serving, connection, stop)
        result = process_delivery(consumer, delivery, self._uow_factory, self._policy, sleep)
        if result.outcome in (Outcome.PROCESSED, Outcome.DUPLICATE):
            channel.basic_ack(tag)
        elif result.outcome is Outcome.DEAD_LETTERED:
            reason = result.reason or "dead-lettered"
            self._dead_letter(channel, consumer, method, properties, body, reason, result.attempts)
        else:
            channel.basic_nack(tag, requeue=True)

    def _dead_letter(
        self,
        channel: BlockingChannel,
        consumer: Consumer,
        method: Basic.Deliver,
        properties: pika.BasicProperties,
        body: bytes,
        reason: str,
        attempts: int | None = None,
    ) -> None:
        routing_key = str(method.routing_key)
        tries = attempts if attempts is not None else earlier_deliveries(properties) + 1
        dead = dead_letter_properties(
            properties,
            consumer=consumer.name,
            routing_key=routing_key,
            reason=reason,
            attempts=tries,
        )
        try:
            channel.basic_publish(
                self._topology.dead_exchange, consumer.name, body, dead, mandatory=True
            )
        except (pika.exceptions.UnroutableError, pika.exceptions.NackError) as exc:
            logger.error(
                "consumer %s could not publish dead letter %s (%s); rejecting it instead",
                consumer.name,
                properties.message_id,
                _describe(exc),
            )
            channel.basic_reject(method.delivery_tag, requeue=False)
            return
        channel.basic_ack(method.delivery_tag)


def _sleep_serving(
    connection: pika.BlockingConnection, stop: threading.Event, seconds: float
) -> bool:
    # connection.sleep keeps heartbeats flowing while a handler waits to retry.
    deadline = time.monotonic() + seconds
    while not stop.is_set():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return True
        connection.sleep(min(remaining, 0.2))
    return False


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _shown(url: str) -> str:
    parameters = pika.URLParameters(url)
    return f"amqp://{parameters.host}:{parameters.port}{'/' + parameters.virtual_host.lstrip('/')}"
