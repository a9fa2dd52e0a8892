"""Size checks the sandbox guards share: bounded materialising and text-length estimates."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sized
from itertools import islice
from typing import Any

from workflow.sandbox_limits import MAX_INT_BITS, Refusal, current, tick

# Python types whose repr has a small, fixed bound; anything unknown counts as this many chars.
_SMALL_REPR = 100
# Sets and dicts are filled this many items at a time, with a deadline check in between.
HASHED_CHUNK = 256


def materialise(iterable: Iterable[Any], what: str) -> list[Any]:
    """Copy an iterable into a list, refusing (before building it) one longer than allowed."""
    limits = current()
    if isinstance(iterable, Sized):
        limits.check_length(len(iterable), what)
        items = list(iterable)
    else:
        # An iterator's length is unknown: take one item more than allowed to tell.
        items = list(islice(iterable, limits.max_sequence + 1))
        limits.check_length(len(items), what)
    limits.charge(len(items))
    return items


def hashed_set(items: list[Any]) -> set[Any]:
    """set(items), built a chunk at a time so that the time bound can stop it."""
    # Keys crafted to share one hash (ints k * (2**61 - 1), say) make each insert walk all the
    # earlier ones: set() of a 10**5-item list would then run for minutes inside one C call.
    # Chunks bound each C call; the deadline check between them bounds the whole. A set or dict
    # built this way (or item by item under the tracer) has collision chains short enough that
    # later operations between such containers cost no more than building them did.
    result: set[Any] = set()
    for start in range(0, len(items), HASHED_CHUNK):
        result.update(items[start : start + HASHED_CHUNK])
        tick()
    return result


def hashed_dict(pairs: list[Any]) -> dict[Any, Any]:
    """dict(pairs), built a chunk at a time so that the time bound can stop it."""
    result: dict[Any, Any] = {}
    for start in range(0, len(pairs), HASHED_CHUNK):
        result.update(pairs[start : start + HASHED_CHUNK])
        tick()
    return result


def check_text(value: object, what: str) -> int:
    """Refuse to turn `value` into text when the text would be too long; return its estimate."""
    limits = current()
    size = text_size(value, limits.max_sequence)
    if size > limits.max_sequence:
        raise Refusal(f"{what} would be longer than {limits.max_sequence:,} characters")
    limits.charge(size)
    return size


def text_size(value: object, limit: int) -> int:
    """Estimate the length of str(value), stopping as soon as the estimate passes `limit`."""
    total = 0
    pending = [value]
    seen: set[int] = set()
    while pending and total <= limit:
        item = pending.pop()
        if isinstance(item, str):
            total += len(item) + 2
        elif isinstance(item, bytes):
            total += 4 * len(item) + 3
        elif isinstance(item, int):
            total += item.bit_length() * 3 // 10 + 2
        elif isinstance(item, (list, tuple, set, frozenset, dict)):
            if id(item) in seen:  # a container inside itself prints as [...]
                total += 5
                continue
            seen.add(id(item))
            total += 2 + 2 * len(item) + (2 * len(item) if isinstance(item, dict) else 0)
            if total <= limit:
                pending.extend(item)
                if isinstance(item, dict):
                    pending.extend(item.values())
        else:
            total += _SMALL_REPR
    return total


def check_int_bits(bits: int) -> None:
    """Refuse to build an integer of more than MAX_INT_BITS bits."""
    if bits > MAX_INT_BITS:
        digits = int(bits * math.log10(2)) + 1
        raise Refusal(
            f"the result would be a number of {bits:,} bits (about {digits:,} digits); "
            f"at most {MAX_INT_BITS:,} bits allowed"
        )
