"""What one process shares, built by the composition root (services.bootstrap) and passed down.

Modules below the root (the scheduler, the workers, the web extensions) take a Runtime from
here, never from services.bootstrap, so the root stays at the top of the import graph.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from services.config import Settings
from services.db import SqlAlchemyUnitOfWork
from services.domain.bus import MessageBus
from services.domain.clock import Clock


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
