"""Suite-wide fixtures: tests that use the RabbitMQ broker never overlap one that restarts it."""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

# One lock file per user on this machine: xdist workers (and two suites run side by side) see it.
BROKER_LOCK = Path(tempfile.gettempdir()) / f"safeguard-tests-broker-{os.getuid()}.lock"


def _uses_broker(request: pytest.FixtureRequest) -> bool:
    """Tell whether the test talks to the real broker."""
    return (
        "amqp_url" in request.fixturenames
        or request.node.get_closest_marker("rabbitmq") is not None
    )


@pytest.fixture(autouse=True)
def broker_turn(request: pytest.FixtureRequest) -> Iterator[None]:
    """Share the broker with other tests, or hold it alone while a test restarts it."""
    restarts = request.node.get_closest_marker("restarts_broker") is not None
    if not restarts and not _uses_broker(request):
        yield
        return
    with broker_held(exclusive=restarts):
        yield


@contextmanager
def broker_held(exclusive: bool) -> Iterator[None]:
    """Hold the machine-wide broker lock: shared to use the broker, alone to restart it."""
    with BROKER_LOCK.open("a") as lock:
        # Blocks without a deadline: the holder is a test that ends (or is killed with its worker).
        fcntl.flock(lock, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
