"""The attributes sandboxed code may use on numbers and dates: an allow-list, not a deny-list.

Python adds methods over time, and one that allocates (`int.to_bytes(10**9, 'big')`) or builds an
oversized number (`int.from_bytes`) is one C call the time bound never sees. So numbers and dates
offer only these: each runs in time and memory bounded by its (bounded) operands.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

_NUMBER = frozenset({"real", "imag", "conjugate"})
_INT = _NUMBER | {
    "bit_length",
    "bit_count",
    "as_integer_ratio",
    "numerator",
    "denominator",
    "is_integer",
}
_FLOAT = _NUMBER | {"as_integer_ratio", "is_integer", "hex", "fromhex"}
_LIMITS = frozenset({"min", "max", "resolution"})
_CLOCK = frozenset({"hour", "minute", "second", "microsecond", "tzinfo", "fold"})
_ZONE = frozenset({"utcoffset", "dst", "tzname"})
_DATE = _LIMITS | {
    "year",
    "month",
    "day",
    "weekday",
    "isoweekday",
    "isocalendar",
    "isoformat",
    "strftime",
    "ctime",
    "toordinal",
    "replace",
    "timetuple",
    "fromisoformat",
    "fromordinal",
    "fromisocalendar",
    "today",
}
_DATETIME = (
    _DATE
    | _CLOCK
    | _ZONE
    | {
        "date",
        "time",
        "timetz",
        "timestamp",
        "astimezone",
        "utctimetuple",
        "now",
        "utcnow",
        "combine",
        "fromtimestamp",
        "utcfromtimestamp",
        "strptime",
    }
)
_TIME = _LIMITS | _CLOCK | _ZONE | {"isoformat", "strftime", "replace", "fromisoformat"}
_TIMEDELTA = _LIMITS | {"days", "seconds", "microseconds", "total_seconds"}

# Most specific first: a subclass takes the names of the first base it is a subclass of.
ALLOWED_ATTRIBUTES: dict[type, frozenset[str]] = {
    bool: _INT,
    int: _INT,
    float: _FLOAT,
    complex: _NUMBER,
    datetime: _DATETIME,
    date: _DATE,
    time: _TIME,
    timedelta: _TIMEDELTA,
}
SCALAR_BASES: tuple[type, ...] = tuple(ALLOWED_ATTRIBUTES)
