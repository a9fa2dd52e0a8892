"""Where handlers get the time from: the system clock in production, a fixed one in tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Tells the current moment as an aware UTC datetime."""

    def now(self) -> datetime:
        """Return the current moment (aware, UTC)."""
        ...


class SystemClock:
    """The real time."""

    def now(self) -> datetime:
        """Return the current moment (aware, UTC)."""
        return datetime.now(UTC)


class FixedClock:
    """A clock that says what it is told: for tests, simulations and replaying a day."""

    def __init__(self, moment: datetime) -> None:
        self._moment = _aware(moment)

    def now(self) -> datetime:
        """Return the moment the clock was set to."""
        return self._moment

    def set(self, moment: datetime) -> None:
        """Move the clock to `moment` (aware)."""
        self._moment = _aware(moment)

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward by `delta` and return the new moment."""
        self._moment += delta
        return self._moment


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"a clock needs an aware datetime, got naive {moment!r}")
    return moment.astimezone(UTC)
