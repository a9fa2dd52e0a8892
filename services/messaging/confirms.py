"""Publishing a batch with pipelined publisher confirms, on one pika SelectConnection.

pika's BlockingChannel waits for each confirm before the next publish (~1 ms a message, so
under 1k msg/s). Here the whole batch is written first and the confirms (often `multiple`)
are collected afterwards, driving pika's IO loop in the calling thread the way
BlockingConnection does (IOLoop.poll and process_timeouts): one round trip per batch.

A message counts as confirmed only on a Basic.Ack with no Basic.Return before it (RabbitMQ
sends the return of an unroutable `mandatory` message before its ack). A Basic.Nack, a
return, a lost connection or a timeout leave it unconfirmed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import pika
import pika.exceptions
from pika.adapters.select_connection import IOLoop, SelectConnection
from pika.channel import Channel
from pika.spec import Basic

from services.messaging.ports import OutgoingMessage, PublishFailed, PublishOutcome
from services.messaging.wire import encode_body, properties_for

logger = logging.getLogger(__name__)

_POLL_SLICE = 1.0  # seconds: the longest one poll may block before the deadline is checked


class ConfirmingConnection:
    """A connection with one channel in confirm mode; publish() returns when all are settled."""

    def __init__(self, parameters: pika.ConnectionParameters, *, timeout: float = 10.0) -> None:
        self._error: PublishFailed | None = None
        self._channel: Channel | None = None
        self._ready = False
        self._next_tag = 0
        self._pending: dict[int, OutgoingMessage] = {}
        self._returned: dict[str, str] = {}
        self._confirmed: list[str] = []
        self._refused: dict[str, str] = {}
        self._exchange = ""
        self._ioloop = IOLoop()
        self._ioloop.activate_poller()
        self._connection = SelectConnection(
            parameters,
            on_open_callback=self._on_open,
            on_open_error_callback=self._on_open_error,
            on_close_callback=self._on_close,
            custom_ioloop=self._ioloop,
        )
        try:
            self._run_until(lambda: self._ready, timeout, "opening a confirm-mode channel")
        except PublishFailed:
            self.close()
            raise

    @property
    def is_open(self) -> bool:
        """True while the connection and its channel can publish."""
        return self._error is None and self._ready and bool(self._connection.is_open)

    def publish(
        self, exchange: str, messages: Sequence[OutgoingMessage], timeout: float
    ) -> PublishOutcome:
        """Publish every message (mandatory, persistent), then wait for all their confirms."""
        if self._channel is None or not self.is_open:
            raise PublishFailed("the confirm channel is not open")
        self._confirmed, self._refused, self._exchange = [], {}, exchange
        for message in messages:
            self._channel.basic_publish(
                exchange,
                message.routing_key,
                encode_body(message.payload),
                properties_for(message),
                mandatory=True,
            )
            self._next_tag += 1
            self._pending[self._next_tag] = message
        failure: PublishFailed | None = None
        try:
            self._run_until(lambda: not self._pending, timeout, "waiting for publisher confirms")
        except PublishFailed as exc:
            failure = exc
            self._pending.clear()  # their fate is unknown: they stay unsent and go again
        return PublishOutcome(tuple(self._confirmed), dict(self._refused), failure=failure)

    def service(self) -> None:
        """Handle what the broker sent meanwhile (heartbeats, a close) without blocking."""
        timer = self._ioloop.call_later(0, _nothing)
        try:
            self._ioloop.poll()
            self._ioloop.process_timeouts()
        finally:
            self._ioloop.remove_timeout(timer)

    def close(self) -> None:
        """Close the connection (waiting briefly for the broker) and release the IO loop."""
        try:
            if not (self._connection.is_closed or self._connection.is_closing):
                self._connection.close()
            self._error = None  # closing is what we want now: wait for it, not for confirms
            self._run_until(lambda: bool(self._connection.is_closed), 5, "closing")
        except (PublishFailed, pika.exceptions.AMQPError, OSError) as exc:
            logger.debug("closing the publisher connection: %s", exc)
        finally:
            self._ioloop.close()

    def _run_until(self, condition: Callable[[], bool], timeout: float, doing: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if self._error is not None:
                raise self._error
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PublishFailed(f"timed out after {timeout:.0f}s {doing}")
            timer = self._ioloop.call_later(min(remaining, _POLL_SLICE), _nothing)
            try:
                self._ioloop.poll()
                self._ioloop.process_timeouts()
            finally:
                self._ioloop.remove_timeout(timer)

    def _on_open(self, connection: Any) -> None:
        connection.channel(on_open_callback=self._on_channel_open)

    def _on_open_error(self, _connection: Any, error: BaseException | str) -> None:
        self._error = PublishFailed(f"cannot connect: {error}")

    def _on_close(self, _connection: Any, reason: BaseException) -> None:
        if self._error is None:
            self._error = PublishFailed(f"connection closed: {reason}")

    def _on_channel_open(self, channel: Channel) -> None:
        self._channel = channel
        channel.add_on_close_callback(self._on_channel_closed)
        channel.add_on_return_callback(self._on_return)
        channel.confirm_delivery(ack_nack_callback=self._on_confirm, callback=self._on_selected)

    def _on_selected(self, _frame: Any) -> None:
        self._ready = True

    def _on_channel_closed(self, _channel: Channel, reason: BaseException) -> None:
        if self._error is None:
            self._error = PublishFailed(f"channel closed: {reason}")

    def _on_return(
        self, _channel: Channel, method: Basic.Return, properties: Any, _body: bytes
    ) -> None:
        message_id = getattr(properties, "message_id", None)
        if isinstance(message_id, str):
            self._returned[message_id] = f"{method.reply_code} {method.reply_text}"

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        tag = int(method.delivery_tag)
        tags = sorted(t for t in self._pending if t <= tag) if method.multiple else [tag]
        for settled in tags:
            message = self._pending.pop(settled, None)
            if message is None:
                continue
            self._settle(message, nacked=isinstance(method, Basic.Nack))

    def _settle(self, message: OutgoingMessage, *, nacked: bool) -> None:
        returned = self._returned.pop(message.message_id, None)
        if nacked:
            self._refused[message.message_id] = (
                "nacked by the broker (it could not take the message, e.g. a full queue)"
            )
        elif returned is not None:
            self._refused[message.message_id] = (
                f"unroutable ({returned}): no queue is bound to routing key "
                f"{message.routing_key!r} on exchange {self._exchange!r}"
            )
        else:
            self._confirmed.append(message.message_id)


def _nothing() -> None:
    """A timer callback whose only job is to bound how long one poll blocks."""
