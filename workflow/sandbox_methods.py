"""Size checks on the methods of str, bytes, list, tuple, dict and set; allow-lists for the rest.

`'a'.ljust(10**10)` or `sep.join(parts)` builds its whole result inside one C call: no line event,
so the time bound never sees it. Each such method gets a check that predicts the result's length
from its arguments and refuses before the call; every str/bytes method's result also counts
against the call's total, so a loop of `.upper()` copies cannot eat the memory either. Methods
that compare or hash in C (count, index, remove, sort, get, add...) check the size of what they
walk first (sandbox_nesting). Numbers and dates offer only the attributes listed here:
`(1).to_bytes(10**9, 'big')` would allocate a gigabyte in one call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, time
from typing import Any

from workflow.sandbox_limits import Refusal, current
from workflow.sandbox_method_names import ALLOWED_ATTRIBUTES, SCALAR_BASES
from workflow.sandbox_nesting import check_walk, checked_key, guarded_hashed
from workflow.sandbox_sizes import hashed_dict, hashed_set, materialise

Args = tuple[Any, ...]
# A check gets (the object, the call's args, its kwargs) and returns (the predicted length of the
# result, the args to call with): iterables are copied into bounded lists on the way. It may
# change kwargs in place (each call gets its own dict).
Check = Callable[[Any, Args, dict[str, Any]], tuple[int, Args]]
_BUILT = (str, bytes, list, tuple, dict, set, frozenset)
# dict.keys() and dict.items() take part in set operations with any iterable.
DICT_VIEWS: tuple[type, ...] = (type({}.keys()), type({}.items()))


def guard_method(obj: Any, name: str, value: Any) -> Any:
    """Wrap a method that can build a large value in its check; return anything else as is."""
    if isinstance(obj, (str, bytes)):
        return _checked(obj, name, value, _TEXT_CHECKS.get(name)) if callable(value) else value
    for kind, checks in _METHOD_CHECKS:
        if isinstance(obj, kind) and name in checks:
            return _checked(obj, name, value, checks[name])
    _check_allowed(obj, name)
    return value


def _check_allowed(obj: Any, name: str) -> None:
    kind = obj if isinstance(obj, type) else type(obj)
    allowed = ALLOWED_ATTRIBUTES.get(kind)
    if allowed is None and issubclass(kind, SCALAR_BASES):  # a subclass: IntEnum, say
        allowed = next(
            names for base, names in ALLOWED_ATTRIBUTES.items() if issubclass(kind, base)
        )
    if allowed is not None and name not in allowed:
        raise Refusal(f"attribute {name!r} of {kind.__name__} is not allowed")


def _checked(obj: Any, name: str, method: Callable[..., Any], check: Check | None) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        limits = current()
        if check is not None:
            length, args = check(obj, args, kwargs)
            limits.check_length(length, f"the result of {name}()")
        result = method(*args, **kwargs)
        if isinstance(result, _BUILT) and result is not obj:
            limits.charge(len(result))
        return result

    call.__name__ = call.__qualname__ = name
    return call


def _padded(obj: Any, args: Args, kwargs: dict[str, Any]) -> tuple[int, Args]:
    width = args[0] if args else kwargs.get("width", 0)
    return (max(len(obj), width) if isinstance(width, int) else len(obj)), args


def _tabs_expanded(obj: Any, args: Args, kwargs: dict[str, Any]) -> tuple[int, Args]:
    size = args[0] if args else kwargs.get("tabsize", 8)
    tab = "\t" if isinstance(obj, str) else b"\t"
    extra = obj.count(tab) * size if isinstance(size, int) and size > 0 else 0
    return len(obj) + extra, args


def _replaced(obj: Any, args: Args, kwargs: dict[str, Any]) -> tuple[int, Args]:
    if len(args) < 2 or not all(isinstance(a, (str, bytes)) for a in args[:2]):
        return len(obj), args  # the method itself raises its TypeError
    old, new = args[0], args[1]
    count = args[2] if len(args) > 2 else kwargs.get("count", -1)
    hits = obj.count(old) if old else len(obj) + 1
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    return len(obj) + hits * max(len(new) - len(old), 0), args


def _joined(obj: Any, args: Args, kwargs: dict[str, Any]) -> tuple[int, Args]:
    if len(args) != 1:
        return 0, args
    parts = materialise(args[0], "join()")
    try:
        length = sum(map(len, parts))  # in C: a generator here would raise a trace event per part
    except TypeError:
        return 0, (parts,)  # join() itself raises the TypeError about the part that is no string
    return length + len(obj) * max(len(parts) - 1, 0), (parts,)


def _sorted_in_place(obj: Any, args: Args, kwargs: dict[str, Any]) -> tuple[int, Args]:
    if kwargs.get("key") is None:
        check_walk(obj, "sort() compares values")
    else:
        kwargs["key"] = checked_key(kwargs["key"], "sort()")
    return len(obj), args


def _searched(obj: Any, args: Args, kwargs: dict[str, Any]) -> tuple[int, Args]:
    # x compared with each item costs at most the items' own size: checking obj is enough.
    check_walk(obj, "searches values")
    return 0, args


def _keyed(obj: Any, args: Args, kwargs: dict[str, Any]) -> tuple[int, Args]:
    if args:
        guarded_hashed(args[0])
    return 0, args


def _keyed_one_more(obj: Any, args: Args, kwargs: dict[str, Any]) -> tuple[int, Args]:
    _keyed(obj, args, kwargs)
    return len(obj) + 1, args


def _time_formatted(obj: Any, args: Args, kwargs: dict[str, Any]) -> tuple[int, Args]:
    # C strftime gives up past 256 characters per format character (CPython's buffer bound).
    template = args[0] if args else kwargs.get("format", "")
    return (256 * len(template) if isinstance(template, str) else 0), args


def _one_more(obj: Any, args: Args, kwargs: dict[str, Any]) -> tuple[int, Args]:
    return len(obj) + 1, args


def _copied(obj: Any, args: Args, kwargs: dict[str, Any]) -> tuple[int, Args]:
    return len(obj), args


def _extended(obj: Any, args: Args, kwargs: dict[str, Any]) -> tuple[int, Args]:
    others = tuple(a if isinstance(a, Mapping) else materialise(a, "argument") for a in args)
    return len(obj) + sum(len(o) for o in others) + len(kwargs), others


def _merged(obj: Any, args: Args, kwargs: dict[str, Any]) -> tuple[int, Args]:
    others = _hashed(obj, args)
    return len(obj) + sum(len(o) for o in others) + len(kwargs), others


def _compared(obj: Any, args: Args, kwargs: dict[str, Any]) -> tuple[int, Args]:
    return len(obj), _hashed(obj, args)


def _hashed(obj: Any, args: Args) -> Args:
    # A list of keys (or of pairs, for dict.update) becomes a set (dict) first, chunk by chunk,
    # so the C-level merge only ever meets containers the time bound has already paid for.
    build = hashed_dict if isinstance(obj, dict) else hashed_set
    return tuple(
        a if isinstance(a, (Mapping, set, frozenset)) else build(materialise(a, "argument"))
        for a in args
    )


def _from_keys(obj: Any, args: Args, kwargs: dict[str, Any]) -> tuple[int, Args]:
    if not args:
        return 0, args
    keys = hashed_dict([(key, None) for key in materialise(args[0], "fromkeys()")])
    return len(keys), (keys, *args[1:])


_TEXT_CHECKS: dict[str, Check] = {
    "center": _padded,
    "ljust": _padded,
    "rjust": _padded,
    "zfill": _padded,
    "expandtabs": _tabs_expanded,
    "replace": _replaced,
    "join": _joined,
}
_SEARCH_CHECKS: dict[str, Check] = {"count": _searched, "index": _searched}
_LIST_CHECKS: dict[str, Check] = {
    **_SEARCH_CHECKS,
    "remove": _searched,
    "append": _one_more,
    "insert": _one_more,
    "extend": _extended,
    "copy": _copied,
    "sort": _sorted_in_place,
}
_DICT_CHECKS: dict[str, Check] = {
    "get": _keyed,
    "pop": _keyed,
    "update": _merged,
    "setdefault": _keyed_one_more,
    "copy": _copied,
    "fromkeys": _from_keys,
}
_SET_CHECKS: dict[str, Check] = {
    "add": _keyed_one_more,
    "discard": _keyed,
    "remove": _keyed,
    "update": _merged,
    "union": _merged,
    "intersection": _compared,
    "intersection_update": _compared,
    "difference": _compared,
    "difference_update": _compared,
    "symmetric_difference": _merged,
    "symmetric_difference_update": _merged,
    "issubset": _compared,
    "issuperset": _compared,
    "isdisjoint": _compared,
    "copy": _copied,
}
_METHOD_CHECKS: tuple[tuple[type | tuple[type, ...], dict[str, Check]], ...] = (
    (list, _LIST_CHECKS),
    (tuple, _SEARCH_CHECKS),
    (dict, _DICT_CHECKS),
    ((set, frozenset), _SET_CHECKS),
    (DICT_VIEWS, {"isdisjoint": _compared}),
    ((date, time), {"strftime": _time_formatted}),
)
