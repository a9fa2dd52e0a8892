"""A CPU-time budget shared by many engine commands in one thread (a draft's scenario checks).

Each engine command is bounded on its own (spiff_engine.MAX_STEPS / MAX_SECONDS), but a draft's
checks run hundreds of commands: an expression that burns just under the sandbox's limit on
every step would make one autosave cost minutes of CPU. The engine asks `check_budget` before
every step, so the whole run stops within one step of its budget. CPU time of this thread,
never wall-clock time: a busy machine does not trip it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from workflow.errors import SafeguardError

_active = threading.local()


class CpuBudgetSpent(SafeguardError):
    """The run's CPU budget is used up; the command stopped before its next engine step."""


@contextmanager
def cpu_budget(seconds: float) -> Iterator[None]:
    """Bound the engine steps run inside this block to `seconds` of this thread's CPU time."""
    previous = getattr(_active, "deadline", None)
    deadline = time.thread_time() + seconds
    _active.deadline = deadline if previous is None else min(previous, deadline)
    _active.seconds = seconds
    try:
        yield
    finally:
        _active.deadline = previous


def budget_spent() -> bool:
    """Whether a budget is active in this thread and used up."""
    deadline: float | None = getattr(_active, "deadline", None)
    return deadline is not None and time.thread_time() > deadline


def check_budget(element_id: str) -> None:
    """Raise CpuBudgetSpent when this thread's budget is used up (no budget: never)."""
    if budget_spent():
        seconds = getattr(_active, "seconds", 0.0)
        raise CpuBudgetSpent(
            f"{element_id}: the checks used up their {seconds:g} s of CPU time; make the "
            "diagram's expressions and scripts cheaper"
        )
