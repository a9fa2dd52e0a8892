"""Reading the fields of an event's payload: a missing or mistyped one makes the message invalid."""

from __future__ import annotations

from services.messaging.ports import Delivery, MessageInvalid


def number_field(message: Delivery, key: str) -> int:
    """The payload's integer `key`; MessageInvalid if it is missing or not an integer."""
    value = message.payload.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise MessageInvalid(f"{message.event_type} {message.message_id}: {key} is not a number")
    return value


def text_field(message: Delivery, key: str) -> str:
    """The payload's non-empty string `key`; MessageInvalid if it is missing."""
    value = message.payload.get(key)
    if not isinstance(value, str) or not value:
        raise MessageInvalid(f"{message.event_type} {message.message_id}: {key} is missing")
    return value
