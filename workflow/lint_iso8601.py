"""Recognise the ISO 8601 values BPMN timers take: durations, date-times, repeating intervals."""

from __future__ import annotations

import re
from datetime import datetime

_NUMBER = r"\d+(?:[.,]\d+)?"
_DURATION = re.compile(
    rf"P(?:(?P<years>{_NUMBER})Y)?(?:(?P<months>{_NUMBER})M)?(?:(?P<weeks>{_NUMBER})W)?"
    rf"(?:(?P<days>{_NUMBER})D)?"
    rf"(?P<time>T(?:(?P<hours>{_NUMBER})H)?(?:(?P<minutes>{_NUMBER})M)?(?:(?P<seconds>{_NUMBER})S)?)?",
    re.IGNORECASE,
)
_COMPONENTS = ("years", "months", "weeks", "days", "hours", "minutes", "seconds")
_REPETITIONS = re.compile(r"R\d*", re.IGNORECASE)


def is_duration(value: str) -> bool:
    """An ISO 8601 duration SpiffWorkflow can count from: 'P1D', 'PT24H', 'P1Y2M', 'P2W'."""
    match = _DURATION.fullmatch(value)
    if match is None:
        return False
    present = [name for name in _COMPONENTS if match.group(name) is not None]
    if not present:
        return False
    if match.group("time") and not any(match.group(n) for n in ("hours", "minutes", "seconds")):
        return False  # "P1DT": a T with nothing after it
    if "weeks" in present and len(present) > 1:
        return False  # SpiffWorkflow refuses weeks mixed with other parts
    # Only the smallest given part may carry a fraction ("PT1.5H", not "P1.5DT2H").
    return not any(_is_fraction(match.group(name)) for name in present[:-1])


# Rough lengths in days, enough to tell a real deadline from an absurd one ('P99999Y').
_DAYS = {"years": 366.0, "months": 31.0, "weeks": 7.0, "days": 1.0}
_SECONDS = {"hours": 3600.0, "minutes": 60.0, "seconds": 1.0}


def duration_days(value: str) -> float | None:
    """An ISO 8601 duration's length in days (months and years counted long); None if not one."""
    match = _DURATION.fullmatch(value)
    if match is None or not is_duration(value):
        return None
    days = 0.0
    for name, size in _DAYS.items():
        if match.group(name):
            days += float(match.group(name).replace(",", ".")) * size
    for name, size in _SECONDS.items():
        if match.group(name):
            days += float(match.group(name).replace(",", ".")) * size / 86400
    return days


def _is_fraction(number: str) -> bool:
    return "." in number or "," in number


def is_date_time(value: str) -> bool:
    """An ISO 8601 date or date-time: '2025-09-01', '2025-09-01T09:00:00Z', '2025-W36-1'."""
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def is_repeating_interval(value: str) -> bool:
    """An ISO 8601 repeating interval: 'R3/PT1H', 'R/2025-09-01T09:00:00Z/P1D', 'R2/P1D/<end>'."""
    parts = value.split("/")
    if len(parts) not in (2, 3) or not _REPETITIONS.fullmatch(parts[0]):
        return False
    if len(parts) == 2:
        return is_duration(parts[1])
    first, second = parts[1], parts[2]
    return (is_date_time(first) and is_duration(second)) or (
        is_duration(first) and is_date_time(second)
    )


def looks_like_iso(value: str) -> bool:
    """Any ISO 8601 value a timer might hold, written without the quotes Python needs."""
    return is_duration(value) or is_date_time(value) or is_repeating_interval(value)
