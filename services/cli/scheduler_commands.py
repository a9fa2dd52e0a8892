"""`safeguard scheduler`: fire due incident timers against SAFEGUARD_DATABASE_URL."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import click

from services.bootstrap import bootstrap
from services.cli.process import configure_logging, load_settings, require_current_database
from services.scheduling.running import scheduler_for

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@click.command()
@click.option("--once", is_flag=True, help="Run one round, print what it did and exit.")
@click.option(
    "--poll-seconds",
    type=click.FloatRange(min=0.01),
    default=None,
    help="How often to look for due timers (default: SAFEGUARD_SCHEDULER_POLL_SECONDS).",
)
def scheduler(once: bool, poll_seconds: float | None) -> None:
    """Fire due incident timers until stopped (SIGTERM or Ctrl+C end it cleanly)."""
    settings = load_settings()
    require_current_database(settings)
    configure_logging()
    runtime = bootstrap(settings)
    try:
        timers = scheduler_for(runtime, poll_seconds)
        if once:
            done = timers.run_once()
            click.echo(
                f"Fired {len(done.fired)}, failed {len(done.failed)}, "
                f"skipped {len(done.skipped)} incident(s)."
            )
            return
        stop = threading.Event()
        with _stopped_by_signals(stop):
            timers.run(stop)
    finally:
        runtime.close()


@contextmanager
def _stopped_by_signals(stop: threading.Event) -> Iterator[None]:
    def request_stop(number: int, _frame: FrameType | None) -> None:
        logging.getLogger(__name__).info("%s received: stopping", signal.Signals(number).name)
        stop.set()

    previous = {number: signal.signal(number, request_stop) for number in _STOP_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
