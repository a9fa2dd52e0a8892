"""Fixtures and helpers for the messaging tests: a broker namespace, a fresh database, a consumer.

RabbitMQ comes from SAFEGUARD_TEST_AMQP_URL (default: the local broker, guest/guest). Each
test works under its own exchange/queue prefix and deletes what it declared. When the broker
cannot be reached the test is skipped with the reason, except under CI, where it fails.

Run as a module, this file is also the consumer process the crash tests kill:
`python -m tests.integration.messaging_fixtures --database-url ... --amqp-url ... --prefix ...`.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pika
import pika.exceptions
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from services.db import SqlAlchemyUnitOfWork, make_engine, make_session_factory, upgrade_database
from services.db.models import AuditEvent, OutboxMessage
from services.messaging import (
    Consumer,
    Delivery,
    MessageInvalid,
    RabbitMQConsumerRunner,
    RetryPolicy,
    Topology,
)
from services.messaging.reconnect import Backoff
from tests.conftest import broker_held
from tests.integration.conftest import empty_database, running_in_ci

AMQP_URL_ENV = "SAFEGUARD_TEST_AMQP_URL"
DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
ROOT = Path(__file__).resolve().parents[2]
SAFEGUARD = Path(sys.executable).parent / "safeguard"
EFFECT_ACTION = "messaging.test_effect"
FAST_RETRIES = RetryPolicy(max_attempts=3, first_delay=0.01, max_delay=0.05)


def fast_backoff() -> Backoff:
    """A short reconnect backoff, so tests recover quickly."""
    return Backoff(first=0.1, cap=1.0)


# --- the broker -------------------------------------------------------------------------------


def amqp_test_url() -> str:
    """The broker URL the tests use."""
    return os.environ.get(AMQP_URL_ENV, DEFAULT_AMQP_URL)


def require_rabbitmq(url: str) -> None:
    """Skip (or under CI, fail) the calling test when RabbitMQ cannot be reached."""
    parameters = pika.URLParameters(url)
    parameters.connection_attempts = 1
    parameters.socket_timeout = 3
    try:
        pika.BlockingConnection(parameters).close()
    except (pika.exceptions.AMQPError, OSError) as exc:
        reason = (
            f"RabbitMQ not reachable at {parameters.host}:{parameters.port}: set {AMQP_URL_ENV} "
            f"({type(exc).__name__}: {exc})"
        )
        if running_in_ci():
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)


@dataclass
class BrokerNamespace:
    """A namespace on the broker for one test: a unique prefix, and the names to delete."""

    url: str
    topology: Topology
    consumer_names: set[str] = field(default_factory=set)
    tap_queues: set[str] = field(default_factory=set)

    def track(self, *consumers: Consumer) -> None:
        """Note consumers whose queues the test declares (deleted afterwards)."""
        self.consumer_names.update(c.name for c in consumers)

    @contextmanager
    def channel(self) -> Iterator[Any]:
        """A plain channel for the test's own looks at the broker."""
        connection = pika.BlockingConnection(pika.URLParameters(self.url))
        try:
            yield connection.channel()
        finally:
            if connection.is_open:
                connection.close()

    def tap(self, pattern: str = "#") -> str:
        """Declare a queue that receives a copy of every event matching `pattern`."""
        name = f"{self.topology.prefix}.tap.{len(self.tap_queues)}"
        with self.channel() as channel:
            channel.exchange_declare(self.topology.events_exchange, "topic", durable=True)
            channel.queue_declare(name, durable=True)
            channel.queue_bind(name, self.topology.events_exchange, routing_key=pattern)
        self.tap_queues.add(name)
        return name

    def read_all(self, queue: str, *, idle: float = 1.0, limit: int = 100_000) -> list[Any]:
        """Take every message from a queue, stopping after `idle` seconds with none (acked)."""
        taken: list[Any] = []
        with self.channel() as channel:
            for method, properties, body in channel.consume(queue, inactivity_timeout=idle):
                if method is None or len(taken) >= limit:
                    break
                taken.append((method, properties, body))
                channel.basic_ack(method.delivery_tag)
            channel.cancel()
        return taken

    def message_count(self, queue: str) -> int:
        """How many ready messages a queue holds."""
        with self.channel() as channel:
            return int(channel.queue_declare(queue, passive=True).method.message_count)

    def delete(self) -> None:
        """Delete the queues and exchanges of this namespace."""
        topology = self.topology
        queues = [*self.tap_queues]
        for name in self.consumer_names:
            queues += [topology.queue(name), topology.dead_queue(name)]
        queues.append(topology.unrouted_queue)  # declared by `safeguard relay` subprocesses
        for queue in queues:
            self._quietly("queue_delete", queue)
        exchanges = (topology.events_exchange, topology.dead_exchange, topology.unrouted_exchange)
        for exchange in exchanges:
            self._quietly("exchange_delete", exchange)

    def _quietly(self, method: str, name: str) -> None:
        try:
            with self.channel() as channel:
                getattr(channel, method)(name)
        except pika.exceptions.AMQPError:
            pass  # already gone


@pytest.fixture(scope="session")
def amqp_url() -> str:
    """The URL of a reachable broker (else skip, or fail under CI)."""
    url = amqp_test_url()
    # Session fixtures come before the per-test broker lock (tests/conftest.py): probe under it,
    # or a restart by another suite on this machine reads as "not reachable".
    with broker_held(exclusive=False):
        require_rabbitmq(url)
    return url


@pytest.fixture
def broker(amqp_url: str) -> Iterator[BrokerNamespace]:
    """A unique exchange/queue prefix on the broker, deleted after the test."""
    test_broker = BrokerNamespace(amqp_url, Topology(prefix=f"sf_test_{secrets.token_hex(4)}"))
    try:
        yield test_broker
    finally:
        test_broker.delete()


def broker_is_up(url: str) -> bool:
    """Tell whether the broker accepts connections."""
    parameters = pika.URLParameters(url)
    parameters.connection_attempts = 1
    parameters.socket_timeout = 2
    try:
        pika.BlockingConnection(parameters).close()
    except (pika.exceptions.AMQPError, OSError):
        return False
    return True


def restart_broker(url: str, down_seconds: float) -> None:
    """Stop the local broker's app, keep it down a while, start it: started again whatever fails."""
    rabbitmqctl = "/usr/sbin/rabbitmqctl"
    if not Path(rabbitmqctl).exists():
        pytest.skip("rabbitmqctl is not on this machine: cannot restart the broker")
    try:
        subprocess.run([rabbitmqctl, "stop_app"], check=True, capture_output=True, timeout=60)
        time.sleep(down_seconds)
    finally:
        subprocess.run([rabbitmqctl, "start_app"], check=True, capture_output=True, timeout=120)
        subprocess.run(
            [rabbitmqctl, "await_startup"], check=False, capture_output=True, timeout=120
        )
        wait_until(lambda: broker_is_up(url), 60, "the broker to accept connections again")


# --- the database -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Database:
    """A fresh migrated database: its URL, engine and session factory."""

    url: str
    engine: Engine
    session_factory: sessionmaker[Session]

    def uow(self) -> SqlAlchemyUnitOfWork:
        """A new unit of work."""
        return SqlAlchemyUnitOfWork(self.session_factory)


@contextmanager
def fresh_database(backend: str, directory: Path) -> Iterator[Database]:
    """A new migrated database on `backend`, dropped afterwards."""
    with empty_database(backend, directory) as url:
        upgrade_database(url)
        engine = make_engine(url)
        try:
            yield Database(url, engine, make_session_factory(engine))
        finally:
            engine.dispose()


@pytest.fixture
def database(backend: str, tmp_path: Path) -> Iterator[Database]:
    """A database of its own for each test (no other test's outbox rows in the way)."""
    with fresh_database(backend, tmp_path) as db:
        yield db


@pytest.fixture
def postgres_database(tmp_path: Path) -> Iterator[Database]:
    """A PostgreSQL database of its own, for tests of what only PostgreSQL does."""
    with fresh_database("postgres", tmp_path) as db:
        yield db


def write_events(
    database: Database,
    count: int,
    *,
    routing_key: str = "school.7.role.dsl.task.ready",
    per_commit: int = 50,
) -> list[str]:
    """Commit `count` outbox rows, `per_commit` per transaction; return their message ids."""
    ids: list[str] = []
    for start in range(0, count, per_commit):
        with database.uow() as uow:
            for n in range(start, min(count, start + per_commit)):
                ids.append(uow.outbox.add(routing_key, "TestEvent", {"n": n}).message_id)
            uow.commit()
    return ids


def unsent_count(database: Database, ids: Sequence[str] | None = None) -> int:
    """How many outbox rows (of `ids`, if given) are not sent yet."""
    with database.uow() as uow:
        query = select(func.count()).where(OutboxMessage.sent_at.is_(None))
        if ids is not None:
            query = query.where(OutboxMessage.message_id.in_(ids))
        return int(uow.session.scalar(query) or 0)


def outbox_row(database: Database, message_id: str) -> OutboxMessage:
    """The outbox row of a message id."""
    with database.uow() as uow:
        row = uow.session.scalar(
            select(OutboxMessage).where(OutboxMessage.message_id == message_id)
        )
        assert row is not None, f"no outbox row {message_id}"
        return row


# --- a consumer whose effect can be counted ---------------------------------------------------


@dataclass
class RecordingConsumer:
    """Writes one audit event per message it handles: its effect, counted by `effects`.

    `fail_first` makes the first N calls raise; `fail_always` makes every call raise;
    `invalid` makes it raise MessageInvalid; `delay` sleeps in each call.
    """

    name: str
    bindings: tuple[str, ...] = ("school.#",)
    fail_first: int = 0
    fail_always: bool = False
    invalid: bool = False
    delay: float = 0.0
    calls: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def handle(self, message: Delivery, uow: SqlAlchemyUnitOfWork) -> None:
        """Record the effect (and fail or wait as configured)."""
        with self.lock:
            self.calls += 1
            call = self.calls
        if self.delay:
            time.sleep(self.delay)
        uow.audit.add(
            EFFECT_ACTION,
            f"message:{message.message_id}",
            actor_id=None,
            reason=self.name,
            new_values={"attempts": message.attempts, "event_type": message.event_type},
        )
        uow.session.flush()  # the effect is written before any failure: it must roll back
        if self.invalid:
            raise MessageInvalid(f"payload of {message.message_id} lacks what {self.name} needs")
        if self.fail_always or call <= self.fail_first:
            raise RuntimeError(f"boom in {self.name} on {message.message_id}")


def effects(database: Database, consumer_name: str) -> Counter[str]:
    """How many times the consumer's effect was committed, per message id."""
    with database.uow() as uow:
        rows = uow.session.execute(
            select(AuditEvent.target, func.count())
            .where(AuditEvent.action == EFFECT_ACTION, AuditEvent.reason == consumer_name)
            .group_by(AuditEvent.target)
        ).all()
    return Counter({str(target).removeprefix("message:"): int(n) for target, n in rows})


# --- running things until they are done -------------------------------------------------------


# Waits are hang guards, not speed tests: CI shares two cores with everything else, so a wait
# never gives up sooner than this, whatever a test asks for.
MIN_WAIT_SECONDS = 90.0


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `predicate` until true; fail naming `what` after `timeout` (at least 90) seconds."""
    timeout = max(timeout, MIN_WAIT_SECONDS)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def wait_for_count(count: Callable[[], int], target: int, what: str) -> None:
    """Poll `count` until it equals `target`; fail only when it stops moving for 90 seconds.

    A big batch on a loaded machine may take any time; a hang is a count that no longer changes.
    """
    last, stalled_since = count(), time.monotonic()
    while last != target:
        if time.monotonic() - stalled_since > MIN_WAIT_SECONDS:
            raise AssertionError(f"{what}: stuck at {last} of {target} for {MIN_WAIT_SECONDS:.0f}s")
        time.sleep(0.05)
        now = count()
        if now != last:
            last, stalled_since = now, time.monotonic()


@contextmanager
def running(target: Callable[[threading.Event], None], name: str) -> Iterator[threading.Event]:
    """Run `target(stop)` on a thread; on exit set stop and join it (failing if it hangs)."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def _run() -> None:
        try:
            target(stop)
        except BaseException as exc:
            errors.append(exc)
            raise

    thread = threading.Thread(target=_run, name=name, daemon=True)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive(), f"{name} did not stop within 30s"
    assert not errors, f"{name} raised {errors[0]!r}"


def start_relay_process(database: Database, amqp_url: str, prefix: str) -> subprocess.Popen[str]:
    """Start `safeguard relay` against the test database and broker namespace."""
    env = {
        **os.environ,
        "SAFEGUARD_DATABASE_URL": database.url,
        "SAFEGUARD_AMQP_URL": amqp_url,
    }
    return subprocess.Popen(
        [str(SAFEGUARD), "relay", "--prefix", prefix, "--batch-size", "100"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def start_consumer_process(
    database: Database, broker: BrokerNamespace, name: str, *extra: str
) -> subprocess.Popen[str]:
    """Start this module as a consumer process (see main) on the test namespace."""
    args = ["--database-url", database.url, "--amqp-url", broker.url]
    args += ["--prefix", broker.topology.prefix, "--name", name, *extra]
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.messaging_fixtures", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def stop_process(process: subprocess.Popen[str], sig: int = signal.SIGTERM) -> tuple[int, str]:
    """Send `sig`, wait up to 90 s (then kill), return the exit code and the output."""
    if process.poll() is None:
        process.send_signal(sig)
    return wait_for_exit(process)


def wait_for_exit(process: subprocess.Popen[str], timeout: float = 90) -> tuple[int, str]:
    """Wait up to `timeout` seconds for the process to end (then kill it); code and output."""
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate(timeout=10)
    return process.returncode, output


# --- the consumer process ---------------------------------------------------------------------


class _KillingUnitOfWork(SqlAlchemyUnitOfWork):
    """Kills its own process with SIGKILL right after the Nth commit: before the ack."""

    commits = 0
    kill_after: int | None = None

    def commit(self) -> None:
        super().commit()
        type(self).commits += 1
        limit = type(self).kill_after
        if limit is not None and type(self).commits >= limit:
            os.kill(os.getpid(), signal.SIGKILL)


def main(argv: Sequence[str] | None = None) -> None:
    """Consume one RecordingConsumer's queue until SIGTERM (the crash tests' consumer process)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--amqp-url", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--prefetch", type=int, default=20)
    parser.add_argument("--kill-after-commit", type=int, default=None)
    args = parser.parse_args(argv)
    engine = make_engine(args.database_url)
    session_factory = make_session_factory(engine)
    _KillingUnitOfWork.kill_after = args.kill_after_commit
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    runner = RabbitMQConsumerRunner(
        args.amqp_url,
        Topology(prefix=args.prefix),
        [RecordingConsumer(args.name, delay=args.delay)],
        lambda: _KillingUnitOfWork(session_factory),
        prefetch=args.prefetch,
        backoff=fast_backoff(),
    )
    try:
        runner.run(stop)
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
