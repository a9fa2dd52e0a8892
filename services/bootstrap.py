"""The composition root: turns Settings into the engine, sessions and units of work the app uses.

Nothing is built at import time: every process (web, CLI, worker) calls `bootstrap(settings)`
once and passes the result down. Tests build their own with a temp database or a fixed clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from services.config import Settings
from services.db import SqlAlchemyUnitOfWork, make_engine, make_session_factory
from services.domain.bus import MessageBus
from services.domain.bus import bootstrap as bootstrap_bus
from services.domain.clock import Clock, SystemClock
from services.scheduling.calendars import school_calendars


@dataclass(frozen=True)
class Runtime:
    """What one process shares: settings, the engine, sessions, the clock and the message bus."""

    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    clock: Clock
    bus: MessageBus

    def unit_of_work(self) -> SqlAlchemyUnitOfWork:
        """Return a new unit of work (enter it with `with`); one per command or request."""
        return SqlAlchemyUnitOfWork(self.session_factory)

    @property
    def uow_factory(self) -> Callable[[], SqlAlchemyUnitOfWork]:
        """The unit-of-work factory, for code that takes one as an argument."""
        return self.unit_of_work

    def close(self) -> None:
        """Close the engine's pooled connections (at the end of a CLI command or a test)."""
        self.engine.dispose()


def bootstrap(
    settings: Settings, *, clock: Clock | None = None, engine: Engine | None = None
) -> Runtime:
    """Build the runtime for these settings (creating the folder a SQLite file needs).

    Tests pass a fixed `clock`, and an `engine` to share one pool across many apps.
    """
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
