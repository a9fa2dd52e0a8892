"""`safeguard scheduler`: fire due incident timers against SAFEGUARD_DATABASE_URL."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import NoReturn

import click

from services.bootstrap import bootstrap
from services.config import Settings, SettingsInvalid
from services.db.migrate import current_revision, head_revision
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
    try:
        settings = Settings.from_env()
    except SettingsInvalid as error:
        _fail(str(error))
    if current_revision(settings.database_url) != head_revision():
        _fail("The database is not set up or not up to date: run `safeguard init` first.")
    _log_to_stderr()
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


def _log_to_stderr() -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )


def _fail(message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(1)
