"""Per-call resource bounds of the sandbox: a CPU-time budget and a size budget.

The time bound counts the CPU time of the evaluating thread (time.thread_time), not the wall
clock: on a busy server a decision that takes microseconds of work may wait a second for a core,
and a wall-clock deadline would fail it (it did, for the literal `False`, under CI load). A
thread that is descheduled, or waits for the GIL while another thread runs, spends no CPU time,
so only the expression's own work counts against it.
"""

from __future__ import annotations

import sys
import threading
from time import thread_time
from types import FrameType
from typing import Any

# The CPU seconds one sandbox call may use unless a Sandbox is given its own bound: generous,
# since real expressions take microseconds; it only has to stop runaway loops.
DEFAULT_CPU_SECONDS = 1.0

# Compiled sandbox code carries this file name, so the tracer can tell it from our own guards.
SANDBOX_FILENAME = "<sandbox>"
# Integers may not grow past this many bits (about 3,000 decimal digits): enough for any count or
# amount a workflow meets, and far below what makes `x * y` or `str(x)` slow.
MAX_INT_BITS = 10_000
# Over one call, every sequence the guards see built may add up to this many times max_sequence
# items: it stops a loop that keeps building large strings or lists inside the time bound.
TOTAL_FACTOR = 20


class Refusal(Exception):
    """A guard refused an operation; the message says which and why."""


class DeadlineExceeded(BaseException):
    """The call ran past its time bound (a BaseException, so nothing on the way catches it)."""


class CallLimits:
    """The bounds of one sandbox call: its CPU deadline and how many items it may still build."""

    __slots__ = ("deadline", "max_sequence", "max_total", "spent", "tracer")

    def __init__(self, time_limit: float, max_sequence: int) -> None:
        self.deadline = thread_time() + time_limit
        self.max_sequence = max_sequence
        self.max_total = max_sequence * TOTAL_FACTOR
        self.spent = 0
        self.tracer = _make_tracer(self.deadline)

    def check_length(self, length: int, what: str) -> None:
        """Refuse to build `what` when it would hold more than max_sequence items."""
        if length > self.max_sequence:
            raise Refusal(
                f"{what} would have {length:,} items; at most {self.max_sequence:,} allowed"
            )

    def charge(self, length: int) -> None:
        """Count `length` newly built items against the call's total."""
        self.spent += length
        if self.spent > self.max_total:
            raise Refusal(f"built more than {self.max_total:,} items in total")


def _make_tracer(deadline: float) -> Any:
    # sys.settrace calls the tracer on every new frame ('call') and, for the frames it returns
    # itself for, on every new line and every jump back to an earlier instruction (each loop
    # round; the one-instruction `while True: pass` gets a `_tick_()` call from the policy).
    # Only sandbox frames get line events; our guards are short and only need the call check.
    # Raising from a trace function ends the traced code with that exception (and CPython drops
    # the tracer); the caller restores the previous one. No signals: it works in any thread.
    def tracer(frame: FrameType, event: str, arg: object) -> Any:
        if thread_time() > deadline:
            raise DeadlineExceeded
        if frame.f_code.co_filename == SANDBOX_FILENAME:
            return tracer
        return None

    return tracer


_active = threading.local()


def tick() -> None:
    """Called at the top of every `while` round: raise once the CPU deadline has passed."""
    if thread_time() > current().deadline:
        raise DeadlineExceeded


def current() -> CallLimits:
    """The limits of the sandbox call running in this thread."""
    limits: CallLimits | None = getattr(_active, "limits", None)
    if limits is None:  # a guard kept past its call, e.g. inside a generator handed out
        raise Refusal("sandboxed code ran outside its sandbox call")
    return limits


def run_bounded(limits: CallLimits, code: Any, namespace: dict[str, Any], mode: str) -> Any:
    """Run compiled code under these limits, restoring the previous tracer and limits after."""
    previous_limits = getattr(_active, "limits", None)
    previous_trace = sys.gettrace()
    _active.limits = limits
    sys.settrace(limits.tracer)
    try:
        if mode == "eval":
            return eval(code, namespace)  # noqa: S307 - RestrictedPython code with guards
        exec(code, namespace)  # noqa: S102 - RestrictedPython code with guards
        return None
    finally:
        sys.settrace(previous_trace)
        _active.limits = previous_limits
