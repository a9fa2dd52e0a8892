"""Capped exponential backoff with jitter, for reconnecting to the broker or the database."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Delays of first, first*factor, ... up to cap seconds; reset() after a success.

    Jitter spreads each delay by up to ±`jitter` of itself, so processes that lost the
    broker together do not all knock again in the same instant.
    """

    first: float = 0.5
    cap: float = 30.0
    factor: float = 2.0
    jitter: float = 0.2
    _failures: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if not (0 < self.first <= self.cap and self.factor >= 1 and 0 <= self.jitter < 1):
            raise ValueError(
                f"backoff needs 0 < first <= cap, factor >= 1 and 0 <= jitter < 1: {self!r}"
            )

    @property
    def failures(self) -> int:
        """Failures since the last reset."""
        return self._failures

    def next_delay(self) -> float:
        """Count a failure and return how long to wait before trying again."""
        # The exponent stops growing long after the cap is reached (no float overflow).
        base = min(self.cap, self.first * self.factor ** min(self._failures, 60))
        self._failures += 1
        spread = base * self.jitter
        return max(0.0, base + random.uniform(-spread, spread))  # noqa: S311 (jitter, not secrets)

    def reset(self) -> None:
        """Forget the failures (after a successful connection)."""
        self._failures = 0


def wait_or_stop(stop: threading.Event, seconds: float) -> bool:
    """Sleep up to `seconds`; return True if the sleep ran its course, False if stop was set."""
    return not stop.wait(max(0.0, seconds))
