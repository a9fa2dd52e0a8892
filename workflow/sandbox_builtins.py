"""The few builtins sandboxed code sees, with bounds on those that build or iterate in C."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from workflow.sandbox_limits import Refusal, current
from workflow.sandbox_nesting import check_walk, checked_key
from workflow.sandbox_sizes import check_text, hashed_dict, hashed_set, materialise

# zip() builds tuples as wide as its argument count: `list(zip(*[r] * 10**5))` would be one C call
# building 10**5 tuples of 10**5 items, so the width is capped.
MAX_ZIP_ARGUMENTS = 10
# round(x, -n) computes 10**n in C.
MAX_ROUND_DIGITS = 400
_INTERNAL_MODULES = frozenset({"time", "_strptime"})


def bounded_range(*args: int) -> range:
    """range(), refused when it would hold more than max_sequence numbers."""
    numbers = range(*args)
    limits = current()
    try:
        length = len(numbers)
    except OverflowError:  # more than sys.maxsize numbers
        raise Refusal(f"range() would have more than {limits.max_sequence:,} items") from None
    limits.check_length(length, "range()")
    return numbers


def bounded_list(iterable: Iterable[Any] = ()) -> list[Any]:
    """list(), refused when it would be longer than allowed."""
    return materialise(iterable, "list()")


def bounded_tuple(iterable: Iterable[Any] = ()) -> tuple[Any, ...]:
    """tuple(), refused when it would be longer than allowed."""
    return tuple(materialise(iterable, "tuple()"))


def bounded_set(iterable: Iterable[Any] = ()) -> set[Any]:
    """set(), refused when it would be larger than allowed."""
    return hashed_set(materialise(iterable, "set()"))


def bounded_dict(*args: Any, **kwargs: Any) -> dict[Any, Any]:
    """dict(), refused when it would be larger than allowed."""
    if len(args) > 1:
        raise TypeError(f"dict expected at most 1 argument, got {len(args)}")
    source: Any = args[0] if args else ()
    limits = current()
    limits.check_length(len(kwargs), "dict()")
    if isinstance(source, Mapping):
        limits.check_length(len(source), "dict()")
        limits.charge(len(source))
        result = dict(source)
    else:
        result = hashed_dict(materialise(source, "dict()"))
    result.update(kwargs)
    return result


def bounded_sorted(iterable: Iterable[Any], *, key: Any = None, reverse: bool = False) -> list[Any]:
    """sorted(), refused when the list would be longer, or its items larger, than allowed."""
    items = materialise(iterable, "sorted()")
    options = _compared_items(items, {"key": key}, "sorted()")
    items.sort(key=options["key"], reverse=reverse)
    return items


def keyed_min(*args: Any, **kwargs: Any) -> Any:
    """min(), refused when comparing its items could run too long."""
    return min(*_compared_arguments(args, kwargs, "min()"), **kwargs)


def keyed_max(*args: Any, **kwargs: Any) -> Any:
    """max(), refused when comparing its items could run too long."""
    return max(*_compared_arguments(args, kwargs, "max()"), **kwargs)


def _compared_items(items: Any, kwargs: dict[str, Any], what: str) -> dict[str, Any]:
    # Before C compares `items` (or their keys): check their size, or wrap the key to check each
    # result. The key function is then a Python frame per call: the time bound sees a slow one.
    if kwargs.get("key") is None:
        check_walk(items, f"{what} compares values")
    else:
        kwargs["key"] = checked_key(kwargs["key"], what)
    return kwargs


def _compared_arguments(
    args: tuple[Any, ...], kwargs: dict[str, Any], what: str
) -> tuple[Any, ...]:
    # min(iterable) or min(a, b, ...): an iterable is copied (bounded) so it can be measured.
    if len(args) != 1:
        _compared_items(args, kwargs, what)
        return args
    items = materialise(args[0], what)
    _compared_items(items, kwargs, what)
    return (items,)


def bounded_str(value: object = "") -> str:
    """str(), refused when the text would be longer than allowed."""
    if type(value) is str:
        return value
    check_text(value, "str()")
    return str(value)


def bounded_zip(*iterables: Iterable[Any], strict: bool = False) -> zip[tuple[Any, ...]]:
    """zip() of at most MAX_ZIP_ARGUMENTS iterables."""
    if len(iterables) > MAX_ZIP_ARGUMENTS:
        raise Refusal(f"zip() takes at most {MAX_ZIP_ARGUMENTS} iterables, got {len(iterables)}")
    return zip(*iterables, strict=strict)


def number_sum(iterable: Iterable[Any], start: int | float = 0) -> Any:
    """sum() of numbers: summing lists or strings would copy them in C at every step."""
    if not isinstance(start, (int, float)):
        raise Refusal("sum() adds numbers only")
    return sum(iterable, start)


def bounded_round(number: Any, ndigits: int | None = None) -> Any:
    """round(), with ndigits within +-MAX_ROUND_DIGITS."""
    if isinstance(ndigits, int) and abs(ndigits) > MAX_ROUND_DIGITS:
        raise Refusal(f"round() takes at most {MAX_ROUND_DIGITS} digits")
    return round(number) if ndigits is None else round(number, ndigits)


def limited_isinstance(value: object, kinds: Any) -> bool:
    """isinstance() against the builtin types the sandbox offers, and nothing else."""
    wanted = kinds if isinstance(kinds, tuple) else (kinds,)
    try:
        types = tuple(_TYPE_OF[kind] for kind in wanted)
    except (KeyError, TypeError):  # an unknown or unhashable kind
        raise Refusal(f"isinstance() accepts only {', '.join(_TYPE_NAMES)}") from None
    return isinstance(value, types)


def internal_import(
    name: str,
    globals: Any = None,
    locals: Any = None,
    fromlist: Any = (),
    level: int = 0,
) -> Any:
    """__import__ for C code only: datetime.strftime imports `time` through it, for example."""
    # C code imports helpers through the __import__ of the running frame's builtins. Sandboxed
    # code cannot name __import__ (names starting with '_' are refused), so only such internal
    # imports reach this, and only of these modules.
    if level == 0 and (name in _INTERNAL_MODULES or name.split(".")[0] == "encodings"):
        return __import__(name, globals, locals, fromlist, level)
    raise ImportError(f"import of {name} is not allowed")


def _named(function: Callable[..., Any], name: str) -> Callable[..., Any]:
    # Error messages ("list() takes at most 1 argument") then speak of what the author wrote.
    function.__name__ = function.__qualname__ = name
    return function


_WRAPPED: dict[str, Callable[..., Any]] = {
    "range": bounded_range,
    "list": bounded_list,
    "tuple": bounded_tuple,
    "set": bounded_set,
    "dict": bounded_dict,
    "sorted": bounded_sorted,
    "str": bounded_str,
    "zip": bounded_zip,
    "sum": number_sum,
    "min": keyed_min,
    "max": keyed_max,
    "round": bounded_round,
    "isinstance": limited_isinstance,
}
_PLAIN: dict[str, Any] = {
    "len": len,
    "any": any,
    "all": all,
    "abs": abs,
    "int": int,
    "float": float,
    "bool": bool,
    "enumerate": enumerate,
    "True": True,
    "False": False,
    "None": None,
    "__import__": internal_import,
}
SAFE_BUILTINS: dict[str, Any] = {
    **_PLAIN,
    **{name: _named(function, name) for name, function in _WRAPPED.items()},
}
_TYPE_OF: dict[Any, type] = {
    SAFE_BUILTINS[name]: real
    for name, real in [
        ("str", str),
        ("int", int),
        ("float", float),
        ("bool", bool),
        ("list", list),
        ("dict", dict),
        ("set", set),
        ("tuple", tuple),
    ]
}
_TYPE_NAMES = ("str", "int", "float", "bool", "list", "dict", "set", "tuple")
