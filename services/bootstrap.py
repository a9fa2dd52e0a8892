"""The composition root: turns Settings into the engine, sessions and units of work the app uses.

Nothing is built at import time: every process (web, CLI, worker) calls `bootstrap(settings)`
once and passes the result down. Tests build their own with a temp database or a fixed clock.
`start_embedded_services(runtime)` starts what the embedded default (no broker) runs beside
the web app: the in-process relay with the notifier, the timer scheduler, and (with SMTP
configured) the sender of queued notification emails.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from services.config import Settings
from services.db import make_engine, make_session_factory
from services.domain.bus import bootstrap as bootstrap_bus
from services.domain.clock import Clock, SystemClock
from services.messaging import EmbeddedMessaging
from services.notifications import (
    RunningEmailSender,
    email_sender_for,
    notifier_for,
    start_email_sender,
)
from services.notifications.email_queue import EMAIL_POLL_SECONDS
from services.runtime import Runtime
from services.scheduling.calendars import school_calendars
from services.scheduling.running import RunningScheduler, start_in_process_scheduler
from services.workers import worker_consumers
from workflow.sandbox import set_default_time_limit

__all__ = ["EmbeddedServices", "Runtime", "bootstrap", "start_embedded_services"]


def bootstrap(
    settings: Settings, *, clock: Clock | None = None, engine: Engine | None = None
) -> Runtime:
    """Build the runtime for these settings (creating the folder a SQLite file needs).

    Tests pass a fixed `clock`, and an `engine` to share one pool across many apps.
    """
    set_default_time_limit(settings.sandbox_cpu_ms / 1000)
    if engine is None:
        ensure_instance_dir(settings)
        engine = make_engine(settings.database_url)
    session_factory = make_session_factory(engine)
    clock = clock or SystemClock()
    return Runtime(
        settings=settings,
        engine=engine,
        session_factory=session_factory,
        clock=clock,
        # Timers count plain time unless they name the school-day calendar (see
        # workflow.timing.CALENDAR_PROPERTY): weekdays that are not bank holidays.
        bus=bootstrap_bus(session_factory, clock=clock, calendar=school_calendars()),
    )


def ensure_instance_dir(settings: Settings) -> None:
    """Create the folder of a SQLite database file (by default the instance folder) if missing."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


@dataclass(frozen=True)
class EmbeddedServices:
    """The background work of the embedded default, running in this process's threads."""

    messaging: EmbeddedMessaging
    scheduler: RunningScheduler
    stopping: threading.Event  # cuts a worker's retry pause short on the way out
    emails: RunningEmailSender | None = None  # None: SMTP is not configured

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the scheduler, the relay and the email sender after what each has in hand."""
        self.stopping.set()
        if not self.scheduler.stop(timeout):
            logging.getLogger(__name__).error("the in-process scheduler did not stop in time")
        if self.emails is not None and not self.emails.stop(timeout):
            logging.getLogger(__name__).error("the in-process email sender did not stop in time")
        self.messaging.stop(timeout)


def start_embedded_services(
    runtime: Runtime,
    *,
    scheduler_interval: float | None = None,
    email_interval: float = EMAIL_POLL_SECONDS,
) -> EmbeddedServices:
    """Start the in-process relay with the notifier and workers, the scheduler and email sender.

    For `safeguard serve` when SAFEGUARD_AMQP_URL is unset; call stop() on the way out. Events
    no consumer binds are marked sent with a note rather than retried (as the broker's
    alternate exchange keeps them). The email sender runs only when SMTP is configured.
    """
    stopping = threading.Event()
    consumers = [
        notifier_for(runtime.settings, clock=runtime.clock.now),
        *worker_consumers(runtime, stop=stopping),
    ]
    messaging = EmbeddedMessaging(
        runtime.engine, runtime.session_factory, consumers, keep_unrouted=True
    )
    messaging.start()
    try:
        scheduler = start_in_process_scheduler(runtime, scheduler_interval)
    except BaseException:
        messaging.stop()
        raise
    sender = email_sender_for(runtime.settings, runtime.uow_factory, runtime.clock.now)
    emails = start_email_sender(sender, email_interval) if sender is not None else None
    return EmbeddedServices(messaging, scheduler, stopping, emails)
