"""Size checks the sandbox guards share: bounded materialising and text-length estimates."""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sized
from itertools import chain, compress, islice
from typing import Any, cast

from workflow.sandbox_limits import MAX_INT_BITS, Refusal, current, tick
from workflow.sandbox_nesting import FLAT_TYPES, VIEW_TYPES, check_walk

# Python types whose repr has a small, fixed bound; anything unknown counts as this many chars.
_SMALL_REPR = 100
# Sets and dicts are filled this many items at a time, with a deadline check in between.
HASHED_CHUNK = 256
_IS_TUPLE = frozenset({tuple}).__contains__


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
    check_walk(items, "hashes values")
    result: set[Any] = set()
    step = _chunk(items)
    for start in range(0, len(items), step):
        result.update(items[start : start + step])
        tick()
    return result


def hashed_dict(pairs: list[Any], into: dict[Any, Any] | None = None) -> dict[Any, Any]:
    """dict(pairs) (or `into` updated with them), built a chunk at a time like hashed_set."""
    pairs = [_as_pair(pair) for pair in pairs]
    keys = [pair[0] for pair in pairs if type(pair) in (tuple, list) and pair]
    check_walk(keys, "hashes values")
    result: dict[Any, Any] = {} if into is None else into
    step = _chunk(keys)
    for start in range(0, len(pairs), step):
        result.update(pairs[start : start + step])
        tick()
    return result


def _chunk(keys: list[Any]) -> int:
    # Comparing a key with each earlier key of the same hash costs as much as the key's size: a
    # chunk holds HASHED_CHUNK items' worth. A tuple holding tuples may be as large as a walk
    # budget (sandbox_nesting): those go in one at a time, a deadline check after each.
    kinds = set(map(type, keys))
    if kinds <= FLAT_TYPES:
        return HASHED_CHUNK
    if not kinds - FLAT_TYPES <= {tuple}:
        return 1
    tuples = list(compress(keys, map(_IS_TUPLE, map(type, keys))))
    if not set(map(type, chain.from_iterable(tuples))) <= FLAT_TYPES:
        return 1
    return max(1, HASHED_CHUNK // max(map(len, tuples), default=1))


def _as_pair(pair: Any) -> Any:
    # dict() takes any iterable of two items as a pair; make it a tuple so its key can be checked.
    if type(pair) in (tuple, list, str, bytes):
        return pair
    try:
        return tuple(islice(pair, 3))  # a third item is enough for dict() to name the error
    except TypeError:
        return pair  # not iterable: dict() itself raises its TypeError


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
    # A part shared by many containers prints each time it appears, so it counts each time: a
    # set of already-seen parts would let `str([[[0] * 100] * 100] * 100)` print 3,000,000
    # characters on an estimate of a few hundred. A container inside itself prints as [...];
    # here it runs the estimate past `limit` and is refused.
    total = 0
    pending = [value]
    while pending and total <= limit:
        item = pending.pop()
        if isinstance(item, str):
            total += len(item) + 2
        elif isinstance(item, bytes):
            total += 4 * len(item) + 3
        elif isinstance(item, int):
            total += item.bit_length() * 3 // 10 + 2
        elif isinstance(item, (list, tuple, set, frozenset, dict, *VIEW_TYPES)):
            parts = cast("Collection[Any]", item)
            total += 2 + 2 * len(parts) + (2 * len(parts) if isinstance(parts, dict) else 0)
            if total <= limit:
                pending.extend(parts)
                if isinstance(parts, dict):
                    pending.extend(parts.values())
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
