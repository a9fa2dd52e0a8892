"""Waking the relay promptly when outbox rows commit, with a poll as the fallback.

PostgreSQL: a trigger on outbox inserts (migration 0002) sends NOTIFY on OUTBOX_CHANNEL when
the writing transaction commits, from any process; the relay LISTENs on its own autocommit
connection. SQLite has no NOTIFY: an in-process Event is set after each commit that wrote
outbox rows (a session hook on the process's session factory), which wakes a relay running in
the same process (the embedded default). Either way the relay also polls every few seconds,
for rows that fall due later (available_at) and for writers in other SQLite processes.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Protocol

import psycopg
from sqlalchemy import Connection, Engine, event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from services.db.models import OutboxMessage

logger = logging.getLogger(__name__)

OUTBOX_CHANNEL = "safeguard_outbox"  # must match migration 0002's trigger
_SLICE = 0.2  # seconds between looks at the stop flag while waiting
_PENDING = "safeguard_outbox_written"


class Wakeup(Protocol):
    """Waits until new outbox rows may be there, the timeout passes, or stop is set."""

    def listen(self) -> None:
        """Start listening (before the relay's first drain, so no commit slips between)."""
        ...

    def wait(self, timeout: float, stop: threading.Event) -> bool:
        """Return True when woken by new rows, False on timeout or stop."""
        ...

    def close(self) -> None:
        """Release what the wake-up holds (a listening connection)."""
        ...


class EventWakeup:
    """An in-process wake-up: `notify()` (from the commit hook) wakes `wait()`."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def notify(self) -> None:
        """Wake the waiting relay."""
        self._event.set()

    def listen(self) -> None:
        """Nothing to start: notify() may come at any time."""

    def wait(self, timeout: float, stop: threading.Event) -> bool:
        """Wait for notify(), the timeout or stop."""
        deadline = time.monotonic() + timeout
        while not stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if self._event.wait(min(remaining, _SLICE)):
                self._event.clear()
                return True
        return False

    def close(self) -> None:
        """Nothing to release."""


class PostgresWakeup:
    """LISTENs on OUTBOX_CHANNEL on a dedicated autocommit connection; relistens after errors."""

    def __init__(self, engine: Engine, channel: str = OUTBOX_CHANNEL) -> None:
        self._engine = engine
        self._channel = channel
        self._connection: Connection | None = None

    def wait(self, timeout: float, stop: threading.Event) -> bool:
        """Wait for a notification, the timeout or stop; fall back to sleeping on errors."""
        deadline = time.monotonic() + timeout
        while not stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                listener = self._listener()
                if any(
                    True for _ in listener.notifies(timeout=min(remaining, _SLICE), stop_after=1)
                ):
                    # Several commits may have notified: one wake-up covers them all.
                    for _ in listener.notifies(timeout=0):
                        pass
                    return True
            except (SQLAlchemyError, psycopg.Error, OSError) as exc:
                self._drop(exc)
                stop.wait(min(remaining, 1.0))
        return False

    def listen(self) -> None:
        """Start listening now; on failure, wait() tries again (and polls meanwhile)."""
        try:
            self._listener()
        except (SQLAlchemyError, psycopg.Error, OSError) as exc:
            self._drop(exc)

    def close(self) -> None:
        """Close the listening connection."""
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except SQLAlchemyError as exc:
                logger.debug("closing the LISTEN connection: %s", exc)

    def _listener(self) -> Any:
        if self._connection is None:
            connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            connection.exec_driver_sql(f"LISTEN {self._channel}")
            self._connection = connection
            logger.info("relay listening for outbox notifications on %s", self._channel)
        return self._connection.connection.dbapi_connection

    def _drop(self, exc: BaseException) -> None:
        logger.warning("relay LISTEN connection failed (%s); polling until it is back", exc)
        if self._connection is not None:
            try:
                self._connection.invalidate()
            except SQLAlchemyError as close_exc:
                logger.debug("invalidating the LISTEN connection: %s", close_exc)
        self.close()


class CommitHook:
    """Sets an EventWakeup after each commit of a session that inserted outbox rows."""

    def __init__(self, session_factory: sessionmaker[Session], wakeup: EventWakeup) -> None:
        self._factory = session_factory
        self._wakeup = wakeup

    def install(self) -> None:
        """Listen on the session factory's sessions."""
        event.listen(self._factory, "after_flush", self._after_flush)
        event.listen(self._factory, "after_commit", self._after_commit)
        event.listen(self._factory, "after_rollback", self._after_rollback)

    def remove(self) -> None:
        """Stop listening."""
        event.remove(self._factory, "after_flush", self._after_flush)
        event.remove(self._factory, "after_commit", self._after_commit)
        event.remove(self._factory, "after_rollback", self._after_rollback)

    def _after_flush(self, session: Session, _context: Any) -> None:
        # In after_flush, session.new still lists what this flush inserted.
        if any(isinstance(obj, OutboxMessage) for obj in session.new):
            session.info[_PENDING] = True

    def _after_commit(self, session: Session) -> None:
        if session.info.pop(_PENDING, False):
            self._wakeup.notify()

    def _after_rollback(self, session: Session) -> None:
        session.info.pop(_PENDING, None)


def make_wakeup(engine: Engine) -> Wakeup:
    """A PostgresWakeup on PostgreSQL; on SQLite an EventWakeup (hook it with CommitHook).

    Without the hook (a relay in another process than the SQLite writers) it only polls.
    """
    if engine.dialect.name == "postgresql":
        return PostgresWakeup(engine)
    return EventWakeup()
