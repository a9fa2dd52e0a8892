"""Benchmark: from a task completion's commit to the notifier handling its event, over RabbitMQ.

    .venv/bin/python bench/routing.py [--completions 200] [--events 2000] [--rate 0]
                                      [--no-email] [--timeout 120]

On PostgreSQL (a fresh schema in the `test` database on 127.0.0.1:5432, user postgres) and
RabbitMQ (127.0.0.1:5672, guest, under a prefix of its own) it migrates the schema, deploys the
default process, seeds a school with two DSLs and a reporter, and runs `safeguard notifier` and
`safeguard relay` as subprocesses. Email goes to an SMTP server (aiosmtpd, a process of its
own on a free loopback port, keeping mail in a temporary Maildir), so the notifier sends real
emails (two per task-ready event, one per DSL); `--no-email` leaves SMTP unset instead
(in-app notifications only).

1. Set-up (untimed): reports `--completions` concerns through the domain bus and waits until
   the notifier has handled each resulting task-ready event.
2. Routing latency: completes each incident's "initial review" through the domain bus, one
   after another from one thread, as a DSL would (at most `--rate` a second, if given). For
   every task-ready event those commits wrote, latency = the notifier's
   processed_messages.processed_at (stamped just before its commit) - the moment the
   completion's COMMIT was sent (noted in this process, by a hook on its engine and sessions).
   Printed: p50/p95/max, commit -> published (sent_at) for comparison, the same two from the
   outbox row's created_at (stamped at its INSERT, earlier in the completion's transaction:
   the time from there to the COMMIT is the completion's, not the routing's), the
   notifier's pace, and the CPU (user + system, from /proc) the relay, the notifier and the
   mailer used per event from the first completion until every email was settled: work
   counted, which the machine's other load disturbs far less than the latencies.
3. Relay throughput: commits `--events` outbox rows at once (timer-scheduled events, which no
   consumer binds: the broker keeps them in `<prefix>.unrouted`) and times commit -> the last
   row marked sent by the relay (confirmed by the broker).
4. Raw confirmed publishing, in the same run, of the same messages (routing keys, bodies,
   properties) to the same exchange: a pika BlockingChannel with publisher confirms (one
   confirm wait per message), and the relay's own pipelined-confirm connection in batches of
   100 without the database. Ratios relay / raw are printed.

Loopback only; every wait is bounded (`--timeout`); whatever it started (subprocesses, the
SMTP server, the schema, exchanges and queues) is removed when it ends, even on failure.
Everything shares this machine's 2 cores: read the ratios rather than the absolute numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pika
import pika.exceptions
from sqlalchemy import Connection, Engine, create_engine, event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from services.bootstrap import Runtime, bootstrap
from services.config import Settings
from services.db import upgrade_database
from services.db.column_types import utcnow
from services.db.models import EmailDelivery, OutboxMessage, ProcessedMessage
from services.domain.commands import CompleteTask, DeployDefinitions, StartIncident
from services.messaging.confirms import ConfirmingConnection
from services.messaging.ports import OutgoingMessage
from services.messaging.rabbitmq import connection_parameters
from services.messaging.topology import deployment_topology
from services.messaging.wire import encode_body, properties_for
from workflow.model import SourceFile

ROOT = Path(__file__).resolve().parents[1]

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
SAFEGUARD = Path(sys.executable).with_name("safeguard")
BPMN = ROOT / "bpmn"
S1 = ROOT / "bpmn" / "scenarios" / "s1.json"
SENDER = "safeguard@bench.test"


# --- the world -------------------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    """The seeded school: who reports, who reviews, and the two DSLs to be told."""

    school_id: int
    reporter_id: int
    dsl_id: int


def s1_data(step: int) -> dict[str, Any]:
    """The data of one step of scenario S1."""
    steps: list[dict[str, Any]] = json.loads(S1.read_text(encoding="utf-8"))["steps"]
    return dict(steps[step]["data"])


def seed(runtime: Runtime) -> World:
    """Deploy the default process and add a school with a reporter and two DSLs."""
    files = [BPMN / "sharing-nudes-response.bpmn", *sorted(BPMN.glob("*.dmn"))]
    runtime.bus.handle(DeployDefinitions([SourceFile(p.name, p.read_bytes()) for p in files], None))
    with runtime.unit_of_work() as uow:
        school = uow.schools.add("Bench School", f"bench-{secrets.token_hex(3)}")
        ids = []
        for name, role in (("reporter", "staff"), ("dsl1", "dsl"), ("dsl2", "dsl")):
            user = uow.users.add(f"{name}@bench.test", name, "not-a-password-hash")
            uow.users.grant(user.id, school.id, role)
            ids.append(user.id)
        uow.commit()
        return World(school.id, ids[0], ids[1])


def report_concerns(runtime: Runtime, world: World, count: int) -> list[str]:
    """Report `count` concerns; return the id of each incident's initial review task."""
    data = s1_data(0)
    reviews = []
    for _ in range(count):
        outcome = runtime.bus.handle(StartIncident(world.school_id, world.reporter_id, data))
        assert outcome.incident_id is not None
        with runtime.unit_of_work() as uow:
            [task] = [
                t
                for t in uow.tasks.for_incident(outcome.incident_id, state="ready")
                if t.bpmn_id == "initial_review"
            ]
            reviews.append(task.id)
    return reviews


# --- measuring ------------------------------------------------------------------------------


def routed_ready_ids(runtime: Runtime, since_id: int = 0) -> list[str]:
    """Message ids of the TaskReady rows written after outbox id `since_id`."""
    with runtime.unit_of_work() as uow:
        query = select(OutboxMessage.message_id).where(
            OutboxMessage.event_type == "TaskReady", OutboxMessage.id > since_id
        )
        return list(uow.session.scalars(query))


def handled_count(runtime: Runtime, message_ids: list[str]) -> int:
    """How many of these messages the notifier has handled."""
    with runtime.unit_of_work() as uow:
        query = select(func.count()).where(
            ProcessedMessage.consumer == "notifier", ProcessedMessage.message_id.in_(message_ids)
        )
        return int(uow.session.scalar(query) or 0)


class CommitClock:
    """Notes when the transaction that wrote each outbox row sent its COMMIT (this process)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._commit_sent: datetime | None = None
        self.committed: dict[str, datetime] = {}

    def install(self) -> None:
        """Hook the engine's commits and every session's flushes and commits."""
        event.listen(self._engine, "commit", self._on_commit)
        event.listen(Session, "after_flush", self._after_flush)
        event.listen(Session, "after_commit", self._after_commit)

    def remove(self) -> None:
        """Unhook."""
        event.remove(self._engine, "commit", self._on_commit)
        event.remove(Session, "after_flush", self._after_flush)
        event.remove(Session, "after_commit", self._after_commit)

    def _on_commit(self, _connection: Connection) -> None:
        # Just before the COMMIT goes to the server: the commit's own time counts as routing.
        self._commit_sent = utcnow()

    def _after_flush(self, session: Session, _context: Any) -> None:
        written = [o.message_id for o in session.new if isinstance(o, OutboxMessage)]
        session.info.setdefault("bench_outbox", []).extend(written)

    def _after_commit(self, session: Session) -> None:
        written = session.info.pop("bench_outbox", [])
        if written and self._commit_sent is not None:
            self.committed.update(dict.fromkeys(written, self._commit_sent))


@dataclass(frozen=True)
class Timings:
    """Per message, in ms: commit -> handled by the notifier, commit -> published, the same two
    from the outbox INSERT; and the notifier's pace: messages/s from first handling to last."""

    handled: list[float]
    published: list[float]
    handled_from_insert: list[float]
    published_from_insert: list[float]
    notifier_rate: float


def latencies(runtime: Runtime, message_ids: list[str], committed: dict[str, datetime]) -> Timings:
    """The timings of these messages (`committed`: when each one's COMMIT was sent)."""
    with runtime.unit_of_work() as uow:
        rows = uow.session.execute(
            select(
                OutboxMessage.message_id,
                OutboxMessage.created_at,
                OutboxMessage.sent_at,
                ProcessedMessage.processed_at,
            )
            .join(ProcessedMessage, ProcessedMessage.message_id == OutboxMessage.message_id)
            .where(
                ProcessedMessage.consumer == "notifier",
                OutboxMessage.message_id.in_(message_ids),
            )
        ).all()
    missing = [m for m, *_ in rows if m not in committed]
    if missing:
        raise RuntimeError(f"no commit time noted for {len(missing)} events, e.g. {missing[0]}")

    def ms(later: datetime | None, earlier: datetime) -> float | None:
        return (later - earlier).total_seconds() * 1000 if later is not None else None

    def kept(values: list[float | None]) -> list[float]:
        return [v for v in values if v is not None]

    done = sorted(p for _m, _c, _s, p in rows)
    span = (done[-1] - done[0]).total_seconds() if len(done) > 1 else 0.0
    return Timings(
        handled=kept([ms(p, committed[m]) for m, _c, _s, p in rows]),
        published=kept([ms(s, committed[m]) for m, _c, s, _p in rows]),
        handled_from_insert=kept([ms(p, c) for _m, c, _s, p in rows]),
        published_from_insert=kept([ms(s, c) for _m, c, s, _p in rows]),
        notifier_rate=(len(done) - 1) / span if span else float("nan"),
    )


def pending_emails(runtime: Runtime) -> int:
    """How many queued emails the mailer has not settled yet."""
    with runtime.unit_of_work() as uow:
        query = select(func.count()).where(EmailDelivery.state == "pending")
        return int(uow.session.scalar(query) or 0)


def cpu_seconds(pid: int) -> float:
    """CPU (user + system) a child process has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def p95_of(values: list[float]) -> float:
    """The 95th percentile of the values (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def percentiles(values: list[float]) -> str:
    """p50 / p95 / max of the values, in ms."""
    if not values:
        return "no samples"
    ordered = sorted(values)
    p95 = p95_of(ordered)
    return f"p50 {statistics.median(ordered):7.1f} ms  p95 {p95:7.1f} ms  max {ordered[-1]:7.1f} ms"


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll until true; return the seconds it took; fail naming `what` after `timeout`."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.02)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def throughput_rows(count: int, school_id: int) -> list[OutgoingMessage]:
    """Timer-scheduled events like the handlers write (no consumer binds them)."""
    now = utcnow()
    return [
        OutgoingMessage(
            message_id=str(uuid.uuid4()),
            routing_key=f"school.{school_id}.incident.timer.scheduled",
            event_type="TimerScheduled",
            payload={
                "incident_id": str(uuid.uuid4()),
                "due_at": now.isoformat(),
                "school_id": school_id,
            },
            created_at=now,
        )
        for _ in range(count)
    ]


def relay_throughput(runtime: Runtime, rows: list[OutgoingMessage], timeout: float) -> float:
    """Commit the rows at once; events/s from the commit to the last one marked sent."""
    with runtime.unit_of_work() as uow:
        for row in rows:
            uow.outbox.add(
                row.routing_key, row.event_type, dict(row.payload), message_id=row.message_id
            )
        uow.commit()
    committed = utcnow()
    ids = [r.message_id for r in rows]

    def all_sent() -> bool:
        with runtime.unit_of_work() as uow:
            query = select(func.count()).where(
                OutboxMessage.message_id.in_(ids), OutboxMessage.sent_at.is_not(None)
            )
            return int(uow.session.scalar(query) or 0) == len(ids)

    wait_for(all_sent, timeout, f"the relay to send {len(ids)} events")
    with runtime.unit_of_work() as uow:
        last: datetime | None = uow.session.scalar(
            select(func.max(OutboxMessage.sent_at)).where(OutboxMessage.message_id.in_(ids))
        )
    assert last is not None
    return len(ids) / max((last - committed).total_seconds(), 1e-6)


def raw_blocking_rate(exchange: str, rows: list[OutgoingMessage]) -> float:
    """Messages/s through a BlockingChannel with confirms (one confirm wait per message)."""
    connection = pika.BlockingConnection(connection_parameters(AMQP_URL, "bench-raw-blocking"))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        start = time.perf_counter()
        for row in rows:
            channel.basic_publish(
                exchange,
                row.routing_key,
                encode_body(row.payload),
                properties_for(row),
                mandatory=True,
            )
        return len(rows) / (time.perf_counter() - start)
    finally:
        connection.close()


def raw_pipelined_rate(exchange: str, rows: list[OutgoingMessage], batch: int = 100) -> float:
    """Messages/s through the relay's pipelined-confirm connection, batches of `batch`, no DB."""
    connection = ConfirmingConnection(connection_parameters(AMQP_URL, "bench-raw-pipelined"))
    try:
        start = time.perf_counter()
        for first in range(0, len(rows), batch):
            outcome = connection.publish(exchange, rows[first : first + batch], 30.0)
            if outcome.failure is not None or outcome.refused:
                raise RuntimeError(f"raw publish failed: {outcome.failure or outcome.refused}")
        return len(rows) / (time.perf_counter() - start)
    finally:
        connection.close()


# --- what it starts, and stops ----------------------------------------------------------------


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A fresh schema in the test database; its URL; dropped afterwards."""
    schema = f"bench_routing_{secrets.token_hex(4)}"
    admin = create_engine(POSTGRES_URL, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def smtp_server(enabled: bool, folder: Path) -> Iterator[tuple[int | None, Callable[[], int]]]:
    """aiosmtpd in a process of its own (no GIL shared with the driver) keeping mail in a
    Maildir under `folder`: its port and a count of messages received (or None, 0: no email).
    """
    maildir = folder / "maildir"
    for part in ("tmp", "new", "cur"):
        (maildir / part).mkdir(parents=True)

    def received() -> int:
        return sum(1 for _ in (maildir / "new").iterdir())

    if not enabled:
        yield None, received
        return
    port = free_port()
    command = [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}"]
    command += ["-c", "aiosmtpd.handlers.Mailbox", str(maildir)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: accepts(port), 30, "the SMTP server")
        yield port, received
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)


def accepts(port: int) -> bool:
    """Whether something listens on this loopback port."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def process(name: str, env: dict[str, str], logs: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run `safeguard <name>`; SIGTERM it afterwards (SIGKILL if it hangs)."""
    log = (logs / f"{name}.log").open("wb")
    child = subprocess.Popen([str(SAFEGUARD), name], env=env, cwd=ROOT, stdout=log, stderr=log)
    try:
        yield child
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(10)
        log.close()


def queue_exists(queue: str) -> bool:
    """Whether the broker has this queue."""
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        connection.channel().queue_declare(queue, passive=True)
        return True
    except pika.exceptions.ChannelClosedByBroker:
        return False
    finally:
        if connection.is_open:
            connection.close()


def delete_broker_names(prefix: str) -> None:
    """Delete the queues and exchanges the run declared under `prefix`."""
    topology = deployment_topology(prefix)
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        for queue in (topology.queue("notifier"), topology.dead_queue("notifier")):
            connection.channel().queue_delete(queue)
        connection.channel().queue_delete(topology.unrouted_queue)
        for exchange in (
            topology.events_exchange,
            topology.dead_exchange,
            topology.unrouted_exchange,
        ):
            connection.channel().exchange_delete(exchange)
    finally:
        connection.close()


# --- the run --------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> None:
    """Set up, measure, print; clean up whatever happens."""
    prefix = f"bench_{secrets.token_hex(4)}"
    topology = deployment_topology(prefix)
    logs = Path(tempfile.mkdtemp(prefix="bench-routing-"))
    try:
        with postgres_schema() as url, smtp_server(not args.no_email, logs) as (smtp, emails):
            upgrade_database(url)
            env = subprocess_env(url, prefix, smtp)
            settings = Settings.from_env(env)
            runtime = bootstrap(settings)
            try:
                world = seed(runtime)
                mailer = process("mailer", env, logs) if smtp is not None else nullcontext()
                with (
                    process("notifier", env, logs) as notifier,
                    process("relay", env, logs) as relay,
                    mailer as mailing,
                ):
                    wait_for(
                        lambda: queue_exists(topology.queue("notifier")), args.timeout, "the queue"
                    )
                    children = {"relay": relay.pid, "notifier": notifier.pid}
                    if mailing is not None:
                        children["mailer"] = mailing.pid
                    figures = measure(
                        args, runtime, world, topology.events_exchange, emails, children
                    )
                    if args.json:
                        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")
            finally:
                runtime.close()
    except BaseException:
        for log in sorted(logs.glob("*.log")):
            tail = log.read_text(errors="replace").splitlines()[-15:]
            print(f"--- {log.name} (last lines) ---", *tail, sep="\n", file=sys.stderr)
        raise
    finally:
        delete_broker_names(prefix)
        shutil.rmtree(logs, ignore_errors=True)


def subprocess_env(database_url: str, prefix: str, smtp_port: int | None) -> dict[str, str]:
    """The environment of `safeguard relay` and `safeguard notifier`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAFEGUARD_")}
    env.update(
        SAFEGUARD_DATABASE_URL=database_url,
        SAFEGUARD_AMQP_URL=AMQP_URL,
        SAFEGUARD_AMQP_PREFIX=prefix,
        SAFEGUARD_SECRET_KEY=secrets.token_hex(16),
        SAFEGUARD_BASE_URL="http://127.0.0.1:5000",
    )
    if smtp_port is not None:
        env.update(
            SAFEGUARD_SMTP_HOST="127.0.0.1",
            SAFEGUARD_SMTP_PORT=str(smtp_port),
            SAFEGUARD_SMTP_STARTTLS="false",
            SAFEGUARD_SMTP_FROM=SENDER,
        )
    return env


def measure(
    args: argparse.Namespace,
    runtime: Runtime,
    world: World,
    exchange: str,
    emails: Callable[[], int],
    children: dict[str, int],
) -> dict[str, float]:
    """The three measurements, printed; returns the figures bench/run.py collects."""
    timeout = args.timeout
    print(f"Set-up: reporting {args.completions} concerns (untimed) ...", flush=True)
    reviews = report_concerns(runtime, world, args.completions)
    ready = routed_ready_ids(runtime)
    wait_for(lambda: handled_count(runtime, ready) == len(ready), timeout, "the set-up events")
    with runtime.unit_of_work() as uow:
        since = int(uow.session.scalar(select(func.max(OutboxMessage.id))) or 0)

    wait_for(lambda: not pending_emails(runtime), timeout, "the set-up emails")
    cpu_before = {name: cpu_seconds(pid) for name, pid in children.items()}
    review_data = s1_data(1)
    clock = CommitClock(runtime.engine)
    clock.install()
    try:
        start = time.perf_counter()
        for number, task_id in enumerate(reviews):
            if args.rate:
                time.sleep(max(0.0, start + number / args.rate - time.perf_counter()))
            runtime.bus.handle(CompleteTask(task_id, world.dsl_id, review_data))
        driving = time.perf_counter() - start
    finally:
        clock.remove()
    ready = routed_ready_ids(runtime, since)
    wait_for(lambda: handled_count(runtime, ready) == len(ready), timeout, "the notifier")
    timings = latencies(runtime, ready, clock.committed)
    wait_for(lambda: not pending_emails(runtime), timeout, "the mailer")
    cpu_per_event = {
        name: (cpu_seconds(pid) - cpu_before[name]) * 1000 / max(len(ready), 1)
        for name, pid in children.items()
    }

    rows = throughput_rows(args.events, world.school_id)
    relay_rate = relay_throughput(runtime, rows, timeout)
    blocking_rate = raw_blocking_rate(exchange, throughput_rows(args.events, world.school_id))
    pipelined_rate = raw_pipelined_rate(exchange, throughput_rows(args.events, world.school_id))

    email = f"{emails()} emails received by the SMTP server" if not args.no_email else "email off"
    print(
        "\n".join(
            [
                "",
                f"Routing latency: {len(reviews)} completions through the domain bus in "
                f"{driving:.1f}s ({len(reviews) / driving:.0f}/s, one thread"
                f"{f', paced at {args.rate}/s' if args.rate else ''}), "
                f"{len(ready)} task-ready events ({email})",
                f"  commit -> notifier handled   {percentiles(timings.handled)}",
                f"  commit -> relay published    {percentiles(timings.published)}",
                f"  insert -> notifier handled   {percentiles(timings.handled_from_insert)}",
                f"  insert -> relay published    {percentiles(timings.published_from_insert)}",
                f"  notifier pace, first to last handled: {timings.notifier_rate:.0f} events/s "
                "(equals the completion rate while it keeps up)",
                "  CPU per event (user+system, until every email went): "
                + ", ".join(f"{name} {ms:.2f} ms" for name, ms in cpu_per_event.items()),
                "",
                f"Throughput ({args.events} events committed at once, no consumer binds them):",
                f"  relay (outbox -> broker, confirmed, marked sent)   {relay_rate:8.0f} events/s",
                f"  raw pika BlockingChannel, confirm per message      {blocking_rate:8.0f} msg/s",
                f"  raw pipelined confirms, batches of 100, no DB      {pipelined_rate:8.0f} msg/s",
                f"  relay / raw blocking = {relay_rate / blocking_rate:.2f};  "
                f"relay / raw pipelined = {relay_rate / pipelined_rate:.2f}",
            ]
        )
    )
    return {
        "routing_p95_ms": round(p95_of(timings.handled), 2),
        "routing_publish_p95_ms": round(p95_of(timings.published), 2),
        "routing_from_insert_p95_ms": round(p95_of(timings.handled_from_insert), 2),
        **{f"routing_cpu_{name}_ms": round(ms, 3) for name, ms in cpu_per_event.items()},
        "relay_per_s": round(relay_rate),
        "relay_raw_blocking_per_s": round(blocking_rate),
    }


def bounded(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from low to high."""

    def parse(raw: str) -> int:
        value = int(raw)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not in {low}..{high}")
        return value

    return parse


def main() -> None:
    """Parse the options and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--completions", type=bounded(1, 2000), default=200, help="completions (default 200)"
    )
    parser.add_argument(
        "--events", type=bounded(1, 20_000), default=2000, help="throughput events (default 2000)"
    )
    parser.add_argument(
        "--rate", type=bounded(0, 1000), default=0, help="completions/s at most (0: unpaced)"
    )
    parser.add_argument("--no-email", action="store_true", help="leave SMTP unset")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument(
        "--timeout", type=bounded(1, 600), default=120, help="seconds per wait (default 120)"
    )
    run(parser.parse_args())


if __name__ == "__main__":
    main()
