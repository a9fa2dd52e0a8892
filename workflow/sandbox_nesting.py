"""Bounded walks of nested values, made before C code walks them where the time bound cannot see.

Why this is needed. The time bound (sandbox_limits) sees Python-level events only, so it is sound
only if every single C call does a bounded amount of work: the deadline, checked between calls,
then bounds the whole. Building values is bounded already (every C-level builder is size-checked,
every loop round is seen). But shared references make a value's *walk* far larger than its
memory: `row = [0] * 10**5; big = [row for _ in range(10**5)]` takes milliseconds and under a
megabyte, yet `big == big2`, `{tuple(big)}`, `str(big)`, `sorted(big)` or `big.count(x)` each
reach 10**10 items inside one C call.

Why the checks are sound. The C walks of builtin values (rich comparison, hashing, repr, the
searches of list.count/index/remove, sorting, min/max) look at each element of a container they
reach once per time they reach it, and go deeper only through elements. So their work is bounded
by the *nested size* nested_size() computes: the element slots reached, a shared element counted
each time it is reached, plus string and bytes contents at one item per COMPARED_CHARS characters
(memcmp is fast, but 10**5 references to one 10**5-character string are 10**10 bytes). Further:
- comparing a with b walks both in step and stops at the first difference, so it costs at most
  the nested size of the smaller (sum of minima <= minimum of sums): one bounded operand is
  enough, and comparing with a scalar, or with a literal of constants, costs O(1) or the size of
  the literal (the policy leaves those comparisons alone);
- `x in xs` compares x with each element of xs: at most nested_size(xs), or O(len(xs)) when x is
  a number or short text; `x in s` for a set or dict hashes x (nested_size(x)) and compares it
  with the keys of equal hash, whose nested size was checked when they went in (a hashable key
  is immutable: it cannot grow later). Crafted keys of equal hash make chains that every insert
  walks; sets and dicts are filled a chunk at a time with a deadline check between (hashed_set
  in sandbox_sizes), so a chain costs no more than the checked work of building it;
- a sort makes O(n log n) comparisons, each element taking part in O(log n) of them: at most
  log2(n) times the nested size of the list (of the keys, with a key function).
A check walks with an explicit stack and stops once past its budget, so it costs O(budget) itself
(each C pass it makes is over one container whose length is already counted within the budget),
and it looks at the deadline as it goes. Scalars return before any walk.

Where the checks are. Everything sandboxed code can use that walks in C first passes its operands
here. The policy turns a single comparison into one guard call that sees both operands (`_eq_`,
`_in_`... below), wraps the operands of a chain (`_compared_`), and builds set and dict literals
with computed items through `_set_`/`_dict_` and keys of comprehensions and subscript stores
through `_hashed_`; comparisons with a literal of constants (`x == True`, `x in ['a', 'b']`)
stay as they are and cost nothing extra. The guards check tuple keys of `a[k]`; the builtins
and methods check what they sort, min/max, hash or search; sandbox_sizes bounds str() the same
way (text_size counts shared parts each time); `seq * n` is charged n times the nested size of
seq. A check runs right before its C call, with no sandboxed code in between, so nothing can grow
the value after it was measured. Copies (list(), tuple(), slices, `+`) are shallow, and
sum/any/all/len look at each top-level item once: their work is their length.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Collection
from datetime import date, datetime, time, timedelta
from itertools import compress, repeat
from time import thread_time
from typing import Any, cast

from workflow.sandbox_limits import CallLimits, DeadlineExceeded, Refusal, current

# Values C code walks in constant time (or, for text, in one fast pass).
FLAT_TYPES: frozenset[type] = frozenset(
    {bool, int, float, complex, str, bytes, type(None), date, datetime, time, timedelta}
)
_TEXT_TYPES: frozenset[type] = frozenset({str, bytes})
_NUMBERS_AND_DATES = FLAT_TYPES - _TEXT_TYPES
# type -> may it hold items worth walking (types missing here: True)
_MAY_NEST: dict[type, bool] = dict.fromkeys(FLAT_TYPES, False)
_IS_TEXT = _TEXT_TYPES.__contains__
# A walk looks at the clock once per this many containers.
_STEPS_PER_CLOCK_CHECK = 1024
# Comparisons count text at one item per this many characters (memcmp speed vs a compare step).
COMPARED_CHARS = 1024
# `x in c` for these hashes x and compares it only with the keys of the same hash.
_HASHED: tuple[type, ...] = (set, frozenset, dict, type({}.keys()), type({}.items()))
# The views of a dict (keys, values, items) walk and print as the items they show.
VIEW_TYPES: tuple[type, ...] = (type({}.keys()), type({}.values()), type({}.items()))


def nested_size(
    value: object, budget: int, *, chars_per_item: int = 0, deadline: float | None = None
) -> int:
    """Element slots reachable in `value`, shared ones counted each time; stops once past budget.

    With chars_per_item, strings and bytes inside containers count one item per that many
    characters too. Scalars count 0; a result over `budget` means "more than budget". With a
    deadline, raise DeadlineExceeded once it has passed (a budget of tiny lists walks slowly).
    """
    # One function, no helpers: under the tracer every Python call costs a trace event.
    if type(value) in FLAT_TYPES:
        return 0
    total = steps = 0
    pending = [value]
    while pending and total <= budget:
        steps += 1
        if not steps % _STEPS_PER_CLOCK_CHECK and deadline and thread_time() > deadline:
            raise DeadlineExceeded
        item = pending.pop()
        parts: Collection[Any]
        if isinstance(item, (list, tuple, set, frozenset)):
            parts = item
        elif isinstance(item, dict):
            parts = [*item, *item.values()]
        elif isinstance(item, VIEW_TYPES):
            parts = list(cast("Collection[Any]", item))
        else:
            continue
        total += len(parts)
        if not parts or total > budget:
            continue
        kinds = set(map(type, parts))  # in C, as are the passes below: no per-item Python
        if kinds <= _NUMBERS_AND_DATES:
            continue
        if chars_per_item and not kinds.isdisjoint(_TEXT_TYPES):
            texts = (
                parts if kinds <= _TEXT_TYPES else compress(parts, map(_IS_TEXT, map(type, parts)))
            )
            total += sum(map(len, texts)) // chars_per_item
        if not kinds <= FLAT_TYPES:
            pending.extend(compress(parts, map(_MAY_NEST.get, map(type, parts), repeat(True))))
    return total


def check_walk(value: object, what: str) -> None:
    """Refuse `what` ("compares values", say) when C would walk too much of `value`."""
    if type(value) in FLAT_TYPES:
        return
    limits = current()
    if _walked_size(value, limits) > limits.max_sequence:
        raise _too_large(what, limits.max_sequence)


def guarded_compared(value: Any) -> Any:
    """An operand of a chained comparison (`a < b < c`): refused when too large to compare."""
    if type(value) not in FLAT_TYPES:
        check_walk(value, "compares values")
    return value


def _ordering(apply: Callable[[Any, Any], Any], name: str) -> Callable[[Any, Any], Any]:
    def guard(left: Any, right: Any) -> Any:
        if type(left) not in FLAT_TYPES and type(right) not in FLAT_TYPES:
            limits = current()
            budget = limits.max_sequence
            if _walked_size(left, limits) > budget and _walked_size(right, limits) > budget:
                raise _too_large("compares values", budget)
        return apply(left, right)

    guard.__name__ = guard.__qualname__ = name
    guard.__doc__ = f"`left {name} right`, refused when both sides are too large to compare."
    return guard


def guarded_in(item: Any, container: Any) -> bool:
    """`item in container`, refused when the search could run too long."""
    _check_search(item, container)
    return item in container


def guarded_not_in(item: Any, container: Any) -> bool:
    """`item not in container`, refused when the search could run too long."""
    _check_search(item, container)
    return item not in container


def _check_search(item: Any, container: Any) -> None:
    kind = type(item)
    if isinstance(container, _HASHED):
        if kind not in FLAT_TYPES:
            check_walk(item, "looks up values")
    elif kind not in _NUMBERS_AND_DATES and not (
        kind in _TEXT_TYPES and len(item) <= COMPARED_CHARS
    ):
        check_walk(container, "searches values")


# A single comparison `a == b` becomes `_eq_(a, b)`, and so on (chains: see guarded_compared).
COMPARISON_GUARDS: dict[str, Callable[[Any, Any], Any]] = {
    "_eq_": _ordering(operator.eq, "=="),
    "_ne_": _ordering(operator.ne, "!="),
    "_lt_": _ordering(operator.lt, "<"),
    "_le_": _ordering(operator.le, "<="),
    "_gt_": _ordering(operator.gt, ">"),
    "_ge_": _ordering(operator.ge, ">="),
    "_in_": guarded_in,
    "_not_in_": guarded_not_in,
}


def guarded_hashed(value: Any) -> Any:
    """A set element or dict key: refused when hashing or comparing it could run too long."""
    if isinstance(value, tuple):  # of the builtin types, only a tuple's hash walks its items
        check_walk(value, "uses a key")
    return value


def checked_key(function: Callable[..., Any], what: str) -> Callable[..., Any]:
    """Wrap a sort/min/max key so its results, compared in C, stay within one walk budget."""
    # All keys of a sort are made before C compares any of them, so their sizes add up; each
    # call is a Python frame, so the time bound sees a key function that is itself slow.
    limits = current()
    left = limits.max_sequence

    def call(*args: Any) -> Any:
        nonlocal left
        result = function(*args)
        if type(result) not in FLAT_TYPES:
            left -= nested_size(
                result, left, chars_per_item=COMPARED_CHARS, deadline=limits.deadline
            )
            if left < 0:
                raise _too_large(f"{what} compares keys", limits.max_sequence)
        return result

    return call


def _walked_size(value: object, limits: CallLimits) -> int:
    return nested_size(
        value, limits.max_sequence, chars_per_item=COMPARED_CHARS, deadline=limits.deadline
    )


def _too_large(what: str, budget: int) -> Refusal:
    return Refusal(
        f"{what} too large (over {budget:,} items, counting the items of nested lists each "
        f"time they appear)"
    )
