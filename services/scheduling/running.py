"""Running the scheduler: built from a Runtime, in its own process or as a background thread."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta

from services.runtime import Runtime
from services.scheduling.scheduler import Scheduler, SchedulerOptions


def scheduler_for(runtime: Runtime, poll_seconds: float | None = None) -> Scheduler:
    """A scheduler on the runtime's database, bus dependencies and settings."""
    settings = runtime.settings
    options = SchedulerOptions(
        poll_seconds=poll_seconds or float(settings.scheduler_poll_seconds),
        batch_size=settings.scheduler_batch_size,
        retry_delay=timedelta(seconds=settings.scheduler_retry_seconds),
    )
    return Scheduler(runtime.engine, runtime.bus.dependencies, options)


@dataclass(frozen=True)
class RunningScheduler:
    """A scheduler looping in a background thread; stop() ends it after the current round."""

    scheduler: Scheduler
    thread: threading.Thread
    stop_event: threading.Event

    def stop(self, timeout: float | None = 10.0) -> bool:
        """Ask the loop to end and wait for it; True if it has ended."""
        self.stop_event.set()
        self.thread.join(timeout)
        return not self.thread.is_alive()


def start_in_process_scheduler(runtime: Runtime, interval: float | None = None) -> RunningScheduler:
    """Start the scheduler in a daemon thread of this process (the embedded default).

    `interval` overrides SAFEGUARD_SCHEDULER_POLL_SECONDS. Call stop() on shutdown; a daemon
    thread also ends with the process, and whatever it was firing rolls back.
    """
    scheduler = scheduler_for(runtime, interval)
    stop_event = threading.Event()
    thread = threading.Thread(
        target=scheduler.run, args=(stop_event,), name="safeguard-scheduler", daemon=True
    )
    thread.start()
    return RunningScheduler(scheduler, thread, stop_event)
