"""What every `safeguard` command shares: settings, refusals, logging and stopping on signals."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType
from typing import NoReturn

import click

from services.config import Settings, SettingsInvalid
from services.db.migrate import current_revision, head_revision


def fail(message: str) -> NoReturn:
    """Print the message on stderr and exit 1: how every command refuses."""
    click.echo(message, err=True)
    sys.exit(1)


def load_settings() -> Settings:
    """Settings from the environment, or exit naming the variable that is wrong."""
    try:
        return Settings.from_env()
    except SettingsInvalid as error:
        fail(str(error))


def require_current_database(settings: Settings) -> None:
    """Exit unless `safeguard init` has created or upgraded the database to this release."""
    if current_revision(settings.database_url) != head_revision():
        fail("The database is not set up or not up to date: run `safeguard init` first.")


def configure_logging() -> None:
    """INFO lines on stderr for a long-running process (unless logging is set up already)."""
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    logging.getLogger("pika").setLevel(logging.WARNING)  # its INFO lines narrate every frame


def stop_on_signals(stop: threading.Event, after: str) -> None:
    """Set `stop` on SIGTERM or SIGINT, logging that the process stops after `after`."""

    def request_stop(number: int, _frame: FrameType | None) -> None:
        logging.getLogger(__name__).info(
            "%s received: stopping after %s", signal.Signals(number).name, after
        )
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
