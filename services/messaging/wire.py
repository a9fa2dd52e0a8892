"""How an event looks on the wire: AMQP properties and a JSON body, and the way back.

The body is the event's payload as a JSON object; message_id and type (the event type) travel
as AMQP properties, so the broker tools show them. Messages are persistent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pika

from services.messaging.ports import Delivery, MessageInvalid, OutgoingMessage

APP_ID = "safeguard-flow"
CONTENT_TYPE = "application/json"

# Headers a dead letter carries (besides the broker's own x-death on broker dead-lettering).
DEAD_REASON_HEADER = "x-safeguard-dead-reason"
DEAD_CONSUMER_HEADER = "x-safeguard-consumer"
DEAD_ATTEMPTS_HEADER = "x-safeguard-attempts"
ORIGINAL_ROUTING_KEY_HEADER = "x-safeguard-routing-key"


def encode_body(payload: Mapping[str, Any]) -> bytes:
    """The payload as compact UTF-8 JSON."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def properties_for(message: OutgoingMessage) -> pika.BasicProperties:
    """The AMQP properties of an outgoing event: persistent, typed, with its message id."""
    return pika.BasicProperties(
        message_id=message.message_id,
        type=message.event_type,
        content_type=CONTENT_TYPE,
        delivery_mode=pika.DeliveryMode.Persistent,
        timestamp=int(message.created_at.timestamp()),
        app_id=APP_ID,
    )


def decode_delivery(routing_key: str, properties: pika.BasicProperties, body: bytes) -> Delivery:
    """Turn a received message into a Delivery; MessageInvalid says what is wrong with it."""
    message_id = properties.message_id
    if not isinstance(message_id, str) or not message_id:
        raise MessageInvalid("the message has no message_id property")
    event_type = properties.type
    if not isinstance(event_type, str) or not event_type:
        raise MessageInvalid(f"message {message_id} has no type property (the event type)")
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise MessageInvalid(f"message {message_id}: the body is not valid JSON ({exc})") from None
    if not isinstance(payload, dict):
        raise MessageInvalid(
            f"message {message_id}: the body is JSON {type(payload).__name__}, not an object"
        )
    return Delivery(
        message_id=message_id,
        routing_key=routing_key,
        event_type=event_type,
        payload=payload,
        attempts=earlier_deliveries(properties) + 1,
    )


def earlier_deliveries(properties: pika.BasicProperties) -> int:
    """How often the broker delivered this message before (quorum queues' x-delivery-count)."""
    headers = properties.headers or {}
    count = headers.get("x-delivery-count", 0)
    return count if isinstance(count, int) and count >= 0 else 0


def dead_letter_properties(
    properties: pika.BasicProperties,
    *,
    consumer: str,
    routing_key: str,
    reason: str,
    attempts: int,
) -> pika.BasicProperties:
    """The original properties plus headers saying which consumer gave up, when, and why."""
    headers = dict(properties.headers or {})
    headers.update(
        {
            DEAD_REASON_HEADER: reason,
            DEAD_CONSUMER_HEADER: consumer,
            DEAD_ATTEMPTS_HEADER: attempts,
            ORIGINAL_ROUTING_KEY_HEADER: routing_key,
        }
    )
    return pika.BasicProperties(
        message_id=properties.message_id,
        type=properties.type,
        content_type=properties.content_type,
        delivery_mode=pika.DeliveryMode.Persistent,
        timestamp=properties.timestamp,
        app_id=properties.app_id,
        headers=headers,
    )
