"""One relay per SQLite database: an exclusive lock on a file beside the database.

SQLite has no SKIP LOCKED, so two relays would read the same unsent rows and publish them
twice (harmless to deduping consumers, but wasteful). A second relay on the same SQLite file
stands by until the first exits; the operating system frees the lock when the holder dies,
even by SIGKILL. PostgreSQL needs no guard: relays share the work through SKIP LOCKED.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from pathlib import Path
from types import TracebackType
from typing import Self

from sqlalchemy.engine import make_url

logger = logging.getLogger(__name__)

_RETRY_SECONDS = 1.0


def lock_path(database_url: str) -> Path | None:
    """The lock file of a SQLite database file; None for PostgreSQL or an in-memory SQLite."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(f"{url.database}.relay-lock")


class SingleRelayGuard:
    """Holds the relay lock of a SQLite database while entered (no-op on PostgreSQL)."""

    def __init__(self, database_url: str) -> None:
        self._path = lock_path(database_url)
        self._fd: int | None = None

    def acquire(self, stop: threading.Event) -> bool:
        """Take the lock, standing by while another relay holds it; False if stopped first."""
        if self._path is None:
            return True
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        announced = False
        while not stop.is_set():
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not announced:
                    logger.warning(
                        "another relay holds %s: standing by (one relay per SQLite database)",
                        self._path,
                    )
                    announced = True
                stop.wait(_RETRY_SECONDS)
                continue
            self._fd = fd
            return True
        os.close(fd)
        return False

    def release(self) -> None:
        """Let another relay take over."""
        fd, self._fd = self._fd, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()
