"""The guard functions RestrictedPython's rewritten code calls: attributes, items, operators.

The policy (sandbox_policy.py) turns `a.b` into `_getattr_(a, 'b')`, `a[b]` into `_getitem_(a, b)`,
`a * b` into `_mul_(a, b)`, `a == b` into `_eq_(a, b)` (sandbox_nesting supplies the comparison
guards) and so on; this module supplies those names.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

from RestrictedPython.Guards import (
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr_raise,
)
from RestrictedPython.transformer import INSPECT_ATTRIBUTES

from workflow.sandbox_limits import Refusal, current, tick
from workflow.sandbox_methods import DICT_VIEWS, guard_method
from workflow.sandbox_nesting import (
    COMPARISON_GUARDS,
    FLAT_TYPES,
    check_walk,
    guarded_compared,
    guarded_hashed,
    nested_size,
)
from workflow.sandbox_sizes import (
    check_int_bits,
    check_text,
    hashed_dict,
    hashed_set,
    materialise,
    text_size,
)

# Attributes refused whatever they are on: frames, code and tracebacks (RestrictedPython's list),
# str.format/format_map (their templates reach attributes: '{0.__class__}'), mro (reaches
# `object`), and translate/maketrans (one call can multiply a string's length).
REFUSED_ATTRIBUTES = INSPECT_ATTRIBUTES | {"format", "format_map", "mro", "translate", "maketrans"}
# Widths and precisions in % and f-string formatting ('%9999999d') are capped at this.
MAX_FORMAT_WIDTH = 1000
_SEQUENCES = (str, bytes, list, tuple)
# RestrictedPython's getattr, behind our own checks: it refuses str.format and the like as well.
_safer_getattr: Callable[[Any, str], Any] = safer_getattr_raise
_PERCENT_FIELD = re.compile(r"%(?:\([^)]*\))?[#0 +\-]*(\*|\d+)?(?:\.(\*|\d*))?")
# In the arguments of `_dict_`, this marks the next one as the mapping of a `**mapping` entry.
MAPPING_ENTRY = object()


def guarded_getattr(obj: Any, name: str) -> Any:
    """`obj.name`, refusing hidden attributes and modules, with size checks on methods."""
    if name.startswith("_") or name in REFUSED_ATTRIBUTES:
        raise Refusal(f"attribute {name!r} is not allowed")
    if isinstance(obj, ModuleType):
        raise Refusal(f"modules are not available (attribute {name!r} of one was asked for)")
    value = _safer_getattr(obj, name)
    if isinstance(value, ModuleType):
        raise Refusal(f"modules are not available (attribute {name!r} is one)")
    return guard_method(obj, name, value)


def guarded_getitem(obj: Any, key: Any) -> Any:
    """`obj[key]`; a slice builds a new sequence, which counts against the call's total."""
    if isinstance(key, tuple):  # a dict hashes it, and compares it with keys of equal hash
        check_walk(key, "uses a key")
    value = obj[key]
    if type(key) is slice and isinstance(value, _SEQUENCES):
        current().charge(len(value))
    return value


def guarded_write(obj: Any) -> Any:
    """The target of `obj[k] = v`, `del obj[k]` or `obj.a = v`: only lists and dicts change."""
    if isinstance(obj, (dict, list)):
        return obj
    raise Refusal(f"a {type(obj).__name__} cannot be changed; only lists and dicts can")


def guarded_add(left: Any, right: Any) -> Any:
    """`left + right`, refusing a joined sequence longer than allowed."""
    if isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
        _check_new_sequence(len(left) + len(right), "joined sequence")
    return left + right


def guarded_mul(left: Any, right: Any) -> Any:
    """`left * right`, refusing huge numbers and repeated sequences before computing them."""
    _check_mul(left, right)
    return left * right


def guarded_pow(base: Any, exponent: Any) -> Any:
    """`base ** exponent`, refusing integer powers with too many digits before computing them."""
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 1 and abs(base) > 1:
        check_int_bits(int(exponent * math.log2(abs(base))) + 1)  # the bits of base**exponent
    return base**exponent


def guarded_lshift(value: Any, shift: Any) -> Any:
    """`value << shift`, refusing integers with too many digits before computing them."""
    if isinstance(value, int) and isinstance(shift, int) and value and shift > 0:
        check_int_bits(value.bit_length() + shift)
    return value << shift


def guarded_mod(left: Any, right: Any) -> Any:
    """`left % right`; for %-formatting, refuse huge widths and over-long results first."""
    if not isinstance(left, (str, bytes)):
        return left % right
    template = left if isinstance(left, str) else left.decode("latin-1")
    padding = sum(
        _format_number(number)
        for field in _PERCENT_FIELD.finditer(template)
        for number in field.groups()
    )
    limits = current()
    if len(template) + padding + text_size(right, limits.max_sequence) > limits.max_sequence:
        raise Refusal(f"formatted text would be longer than {limits.max_sequence:,} characters")
    result = left % right
    limits.charge(len(result))
    return result


def guarded_or(left: Any, right: Any) -> Any:
    """`left | right`; a list meeting a dict view becomes a set chunk by chunk first."""
    return _set_operation(operator.or_, left, right)


def guarded_and(left: Any, right: Any) -> Any:
    """`left & right`; a list meeting a dict view becomes a set chunk by chunk first."""
    return _set_operation(operator.and_, left, right)


def guarded_xor(left: Any, right: Any) -> Any:
    """`left ^ right`; a list meeting a dict view becomes a set chunk by chunk first."""
    return _set_operation(operator.xor, left, right)


def guarded_sub(left: Any, right: Any) -> Any:
    """`left - right`; a list meeting a dict view becomes a set chunk by chunk first."""
    return _set_operation(operator.sub, left, right)


def guarded_inplacevar(op: str, target: Any, value: Any) -> Any:
    """`target op= value` for a plain name, with the same checks as the operator itself."""
    try:
        apply = _IN_PLACE[op]
    except KeyError:
        raise Refusal(f"operator {op} is not allowed") from None
    return apply(target, value)


def guarded_sized(value: Any) -> Any:
    """The value of `*value` or `**value` in a literal or call, refused when too long."""
    if isinstance(value, Mapping):
        _check_new_sequence(len(value), "unpacked value")
        return value
    return materialise(value, "unpacked value")


def guarded_formatted(value: Any) -> Any:
    """The value of an f-string field, refused when its text would be too long."""
    check_text(value, "formatted value")
    return value


def guarded_set_display(*items: Any) -> set[Any]:
    """A set literal with computed items, `{a, b}`: hashed after a size check, a chunk at a time."""
    if set(map(type, items)) <= FLAT_TYPES:
        return set(items)  # as many items as the literal has: no more than compiled code builds
    return hashed_set(list(items))


def guarded_dict_display(*entries: Any) -> dict[Any, Any]:
    """A dict literal with computed keys: `{k: v, **m}` arrives as (k, v, MAPPING_ENTRY, m)."""
    result: dict[Any, Any] = {}
    pairs: list[tuple[Any, Any]] = []
    for index in range(0, len(entries), 2):
        key, value = entries[index], entries[index + 1]
        if key is not MAPPING_ENTRY:
            pairs.append((key, value))
            continue
        hashed_dict(pairs, into=result)  # the entries so far first: later ones win, as in Python
        pairs = []
        if not hasattr(value, "keys"):
            raise TypeError(f"{type(value).__name__!r} object is not a mapping")
        result.update(value)
    return hashed_dict(pairs, into=result)


def guarded_apply(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`function(*args, **kwargs)`: the unpacked values were size-checked on the way in."""
    return function(*args, **kwargs)


def _set_operation(apply: Callable[[Any, Any], Any], left: Any, right: Any) -> Any:
    # `d.keys() | keys` builds a set from `keys` inside one C call; with keys crafted to share a
    # hash that runs for minutes (see hashed_set), so such a list is made a set first.
    if isinstance(left, DICT_VIEWS) or isinstance(right, DICT_VIEWS):
        return apply(_as_hashed(left), _as_hashed(right))
    return apply(left, right)


def _as_hashed(value: Any) -> Any:
    if isinstance(value, (set, frozenset, dict, *DICT_VIEWS)):
        return value
    return hashed_set(materialise(value, "operand"))


def _check_mul(left: Any, right: Any) -> None:
    if isinstance(left, int) and isinstance(right, int):
        check_int_bits(left.bit_length() + right.bit_length())
    elif isinstance(left, _SEQUENCES) and isinstance(right, int):
        _check_repeated(left, right)
    elif isinstance(right, _SEQUENCES) and isinstance(left, int):
        _check_repeated(right, left)


def _check_repeated(sequence: Any, times: int) -> None:
    # `[row] * n` holds n references to row: n * len(row) items for anything that walks it.
    if times <= 0 or isinstance(sequence, (str, bytes)):
        _check_new_sequence(len(sequence) * max(times, 0), "repeated sequence")
        return
    limits = current()
    size = nested_size(sequence, limits.max_sequence // times)
    if size == len(sequence):  # nothing nested, or the outer list alone is already too long
        _check_new_sequence(size * times, "repeated sequence")
    elif size * times > limits.max_sequence:
        raise Refusal(
            f"repeated sequence would hold over {limits.max_sequence:,} items, counting the items "
            f"of nested lists each time they appear; at most {limits.max_sequence:,} allowed"
        )
    else:
        limits.charge(size * times)


def _check_new_sequence(length: int, what: str) -> None:
    limits = current()
    limits.check_length(length, what)
    limits.charge(length)


def _format_number(number: str | None) -> int:
    if number == "*":
        raise Refusal("'*' widths in % formatting are not allowed")
    if not number:
        return 0
    if len(number) > 6 or int(number) > MAX_FORMAT_WIDTH:
        raise Refusal(f"format width {number} is too large; at most {MAX_FORMAT_WIDTH} allowed")
    return int(number)


def _in_place_add(target: Any, value: Any) -> Any:
    if isinstance(target, _SEQUENCES) and isinstance(value, _SEQUENCES):
        _check_new_sequence(len(target) + len(value), "joined sequence")
    target += value
    return target


def _in_place_mul(target: Any, value: Any) -> Any:
    _check_mul(target, value)
    target *= value
    return target


_IN_PLACE: dict[str, Callable[[Any, Any], Any]] = {
    "+=": _in_place_add,
    "-=": lambda target, value: _set_operation(operator.isub, target, value),
    "*=": _in_place_mul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": guarded_mod,
    "**=": guarded_pow,
    "<<=": guarded_lshift,
    ">>=": operator.irshift,
    "|=": lambda target, value: _set_operation(operator.ior, target, value),
    "&=": lambda target, value: _set_operation(operator.iand, target, value),
    "^=": lambda target, value: _set_operation(operator.ixor, target, value),
}

# The names the rewritten code calls, as the policy writes them.
GUARDS: dict[str, Any] = {
    "_getattr_": guarded_getattr,
    "_getitem_": guarded_getitem,
    "_write_": guarded_write,
    "_getiter_": iter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_inplacevar_": guarded_inplacevar,
    "_apply_": guarded_apply,
    "_add_": guarded_add,
    "_mul_": guarded_mul,
    "_pow_": guarded_pow,
    "_lshift_": guarded_lshift,
    "_mod_": guarded_mod,
    "_or_": guarded_or,
    "_and_": guarded_and,
    "_xor_": guarded_xor,
    "_sub_": guarded_sub,
    "_sized_": guarded_sized,
    "_formatted_": guarded_formatted,
    "_compared_": guarded_compared,
    **COMPARISON_GUARDS,
    "_hashed_": guarded_hashed,
    "_set_": guarded_set_display,
    "_dict_": guarded_dict_display,
    "_mapping_": MAPPING_ENTRY,
    "_tick_": tick,
}
