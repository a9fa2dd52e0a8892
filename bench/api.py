"""Benchmark: task completions through the JSON API under gunicorn, beside a raw write baseline.

    .venv/bin/python bench/api.py [--seconds 10] [--clients 4] [--incidents 40]
                                  [--backends sqlite,postgres] [--workers 2] [--threads 4]

For SQLite (a temp file, WAL) and then PostgreSQL (a fresh schema in the `test` database on
127.0.0.1:5432, user postgres), it migrates an empty database, seeds a school, one user per client
(staff, DSL and headteacher, so one person can walk the whole S1 route) with an API token, and
pre-creates `--incidents` incidents per client. It then serves the app with gunicorn configured
as in production (services/web/gunicorn_conf.py; --workers, --threads, --worker-class and
--keep-alive override it) on a free loopback port and has `--clients` threads, each with one
keep-alive connection, complete S1's tasks through POST /api/v1/tasks/{id}/complete (each
response names the next task) until `--seconds` pass or the incidents run out. After one
untimed warm-up incident per client, it prints completions/s and p50/p95 latency.

The baseline, measured in the same run under the same gunicorn settings: a minimal Flask
endpoint doing one comparable write per request (a 30 KB text UPDATE and 3 small INSERTs in one
transaction, on the same engine settings), driven the same way. Both servers run on this
machine's 2 cores beside the client threads, so read the ratio, not the absolute numbers.
Everything it starts (gunicorn, the schema, temp files) is removed when it ends.

gunicorn imports this file as the module `api` (`--pythonpath bench`, factories
`api:api_app()` and `api:baseline_app()`): bench/ is not a package, and a `bench` module
elsewhere on the path would shadow `bench.api`.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import runpy
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, Text, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

ROOT = Path(__file__).resolve().parents[1]
BPMN = ROOT / "bpmn"
GUNICORN = Path(sys.executable).with_name("gunicorn")
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SERVER_CONFIG = "services.web.gunicorn_conf"
BASELINE_TEXT_BYTES = 30_000
TEXT_FILE_ENV = "BENCH_BASELINE_TEXT_FILE"

metadata = MetaData()
bench_state = Table(
    "bench_state",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("body", Text, nullable=False),
    Column("version", Integer, nullable=False),
)
bench_rows = Table(
    "bench_rows",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("slot", Integer, nullable=False),
    Column("kind", String(40), nullable=False),
    Column("note", String(200), nullable=False),
)


# --- what gunicorn serves -------------------------------------------------------------------


def api_app() -> Any:
    """The real app, built from SAFEGUARD_* environment variables (gunicorn factory)."""
    from services.config import Settings
    from services.web import create_app

    return create_app(Settings.from_env())


def baseline_app() -> Any:
    """A minimal Flask app whose one endpoint does the comparable write (gunicorn factory)."""
    from flask import Flask, jsonify, request

    from services.db import make_engine

    engine = make_engine(os.environ["SAFEGUARD_DATABASE_URL"])
    body = Path(os.environ[TEXT_FILE_ENV]).read_text(encoding="utf-8")
    app = Flask("baseline")

    @app.post("/write")
    def write() -> Any:
        slot = int(request.get_json()["slot"])
        with engine.begin() as connection:
            connection.execute(
                bench_state.update()
                .where(bench_state.c.id == slot)
                .values(body=body, version=bench_state.c.version + 1)
            )
            for kind in ("task", "audit", "outbox"):
                connection.execute(bench_rows.insert().values(slot=slot, kind=kind, note="x" * 60))
        return jsonify(ok=True)

    return app


# --- the S1 route and the seed --------------------------------------------------------------


def s1_route() -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]], str]:
    """The disclosure, (bpmn id, answers) for each later S1 step, and a 30 KB state-like text."""
    from workflow import engine
    from workflow.definition import load_definition
    from workflow.formdata import placeholder_data
    from workflow.model import SourceFile
    from workflow.simulate import DEFAULT_START

    files = [BPMN / "sharing-nudes-response.bpmn", *sorted(BPMN.glob("*.dmn"))]
    definition = load_definition([SourceFile(p.name, p.read_bytes()) for p in files])
    steps = json.loads((BPMN / "scenarios" / "s1.json").read_text())["steps"]
    status = engine.start_instance(definition, DEFAULT_START)
    answers: list[tuple[str, dict[str, Any]]] = []
    for step in steps:
        task = next(t for t in status.ready if t.bpmn_id == step["complete"])
        data = placeholder_data(task.form, step.get("data") or {})
        answers.append((task.bpmn_id, data))
        status = engine.complete_task(definition, status.state, task.id, data, DEFAULT_START)
    state = status.state * (BASELINE_TEXT_BYTES // len(status.state) + 1)
    return answers[0][1], answers[1:], state[:BASELINE_TEXT_BYTES]


@dataclass(frozen=True)
class Seed:
    """Per client: its API token and the first ready task of each of its incidents."""

    tokens: list[str]
    first_tasks: list[list[str]]


def seed(
    url: str, clients: int, incidents: int, disclosure: dict[str, Any], schools: int = 1
) -> Seed:
    """Migrate, deploy, create the schools, users with tokens, and each client's incidents."""
    from services.bootstrap import bootstrap
    from services.config import Settings
    from services.db import upgrade_database
    from services.domain.commands import DeployDefinitions, StartIncident
    from services.domain.events import TaskReady
    from services.web.auth import issue_api_token
    from workflow.model import SourceFile

    upgrade_database(url)
    runtime = bootstrap(Settings.from_env({"SAFEGUARD_DATABASE_URL": url}))
    try:
        files = [BPMN / "sharing-nudes-response.bpmn", *sorted(BPMN.glob("*.dmn"))]
        runtime.bus.handle(
            DeployDefinitions([SourceFile(p.name, p.read_bytes()) for p in files], None)
        )
        users, tokens = _people(runtime, clients, issue_api_token, schools)
        first_tasks: list[list[str]] = [[] for _ in range(clients)]
        for _ in range(incidents):
            for client, (user_id, school_id) in enumerate(users):
                outcome = runtime.bus.handle(StartIncident(school_id, user_id, disclosure))
                first_tasks[client].append(outcome.of_type(TaskReady)[0].task_id)
        return Seed(tokens, first_tasks)
    finally:
        runtime.close()


def _people(
    runtime: Any, clients: int, issue: Callable[..., str], schools: int = 1
) -> tuple[list[tuple[int, int]], list[str]]:
    # Clients take the schools in turn: one school's writers share its audit chain's head.
    with runtime.unit_of_work() as uow:
        made = [
            uow.schools.add(f"Bench School {n}", f"bench-{secrets.token_hex(3)}")
            for n in range(max(1, schools))
        ]
        users: list[tuple[int, int]] = []
        tokens: list[str] = []
        for number in range(clients):
            school = made[number % len(made)]
            user = uow.users.add(f"client{number}@bench.test", f"Client {number}", "unusable")
            user.totp_secret = "A" * 32  # API tokens need a second factor
            for role in ("staff", "dsl", "headteacher"):
                uow.users.grant(user.id, school.id, role)
            users.append((user.id, school.id))
            tokens.append(issue(uow, user.id, "bench"))
        uow.commit()
    return users, tokens


def make_baseline_tables(url: str, clients: int) -> None:
    """The baseline's tables, with one state row per client."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        metadata.create_all(engine)
        with engine.begin() as connection:
            connection.execute(
                bench_state.insert(), [{"id": n, "body": "", "version": 0} for n in range(clients)]
            )
    finally:
        engine.dispose()


# --- databases and servers ------------------------------------------------------------------


@contextlib.contextmanager
def database(backend: str, directory: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or a PostgreSQL schema dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{directory / 'bench.sqlite3'}"
        return
    base = make_url(POSTGRES_URL)
    schema = f"sf_bench_{secrets.token_hex(4)}"
    admin = create_engine(base, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        scoped = base.update_query_dict({"options": f"-csearch_path={schema}"})
        yield scoped.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Server:
    """A running gunicorn: where it listens and its master's process id."""

    port: int
    pid: int

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the master and its workers."""
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if stat.parent.name == str(self.pid) or fields[1] == str(self.pid):
                    total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / os.sysconf("SC_CLK_TCK")

    def worker_cpu_seconds(self) -> list[float]:
        """CPU time used so far by each worker, largest first (shows how load is spread)."""
        found: list[float] = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if fields[1] == str(self.pid):
                    found.append((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))
        return sorted(found, reverse=True)

    def worker_rss_mb(self) -> float:
        """The largest resident set of its workers, in MB (what one web process holds)."""
        largest = 0
        for status in Path("/proc").glob("[0-9]*/status"):
            with contextlib.suppress(OSError):
                lines = dict(
                    line.split(":", 1) for line in status.read_text().splitlines() if ":" in line
                )
                if lines.get("PPid", "").strip() == str(self.pid):
                    largest = max(largest, int(lines["VmRSS"].split()[0]))  # kB
        return largest / 1024


@contextlib.contextmanager
def gunicorn(
    app: str, env: dict[str, str], log: Path, ready_path: str, shape: dict[str, str]
) -> Iterator[Server]:
    """Serve `app` with gunicorn, configured as in production, on a free loopback port."""
    port = free_port()
    # The production settings (services/web/gunicorn_conf.py), read from the same variables.
    settings = {f"SAFEGUARD_WEB_{name}": value for name, value in shape.items()}
    env = {**env, **settings, "SAFEGUARD_WEB_BIND": f"127.0.0.1:{port}"}
    command = [
        str(GUNICORN),
        f"--config=python:{SERVER_CONFIG}",
        "--log-level=warning",
        f"--chdir={ROOT}",
        f"--pythonpath={ROOT / 'bench'}",
        app,
    ]
    with log.open("ab") as output:
        server = subprocess.Popen(  # our own fixed command line
            command, env={**os.environ, **env}, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        _wait_until_serving(server, port, ready_path, log)
        yield Server(port, server.pid)
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)


def _wait_until_serving(server: subprocess.Popen[bytes], port: int, path: str, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(
                f"gunicorn exited with {server.returncode}:\n{log.read_text()[-3000:]}"
            )
        with contextlib.suppress(OSError):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", path)
            if connection.getresponse().status < 500:
                connection.close()
                return
        time.sleep(0.2)
    raise RuntimeError(
        f"gunicorn did not answer on port {port} within 30 s:\n{log.read_text()[-3000:]}"
    )


# --- the clients ----------------------------------------------------------------------------


@dataclass
class Tally:
    """What the clients measured."""

    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0
    server_cpu_seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, latencies: list[float], failures: list[str]) -> None:
        """Merge one client's figures."""
        with self.lock:
            self.latencies.extend(latencies)
            self.failures.extend(failures)


def post_json(
    connection: http.client.HTTPConnection, path: str, body: Any, token: str | None
) -> tuple[int, Any, float]:
    """POST a JSON body on a kept-alive connection; return status, parsed body and seconds."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    started = time.perf_counter()
    connection.request("POST", path, body=json.dumps(body), headers=headers)
    response = connection.getresponse()
    data = response.read()
    elapsed = time.perf_counter() - started
    return response.status, json.loads(data) if data else None, elapsed


def walk_incident(
    connection: http.client.HTTPConnection,
    token: str,
    first_task: str,
    route: list[tuple[str, dict[str, Any]]],
    deadline: float,
    latencies: list[float],
) -> None:
    """Complete one incident's S1 tasks in order (each response names the next task)."""
    task_id: str | None = first_task
    for index, (bpmn_id, values) in enumerate(route):
        if task_id is None or time.monotonic() >= deadline:
            return
        status, body, elapsed = post_json(
            connection, f"/api/v1/tasks/{task_id}/complete", {"values": values}, token
        )
        if status != 200:
            raise RuntimeError(f"completing {bpmn_id} gave {status}: {body}")
        latencies.append(elapsed)
        following = route[index + 1][0] if index + 1 < len(route) else None
        task_id = next((t["id"] for t in body["new_tasks"] if t["bpmn_id"] == following), None)
        if following is not None and task_id is None:
            raise RuntimeError(f"after {bpmn_id}, {following} did not become ready: {body}")


Work = Callable[[int, http.client.HTTPConnection, float, list[float]], None]
WarmUp = Callable[[int, http.client.HTTPConnection], None]


def run_clients(
    clients: int, server: Server, seconds: float, work: Work, warm_up: WarmUp | None = None
) -> Tally:
    """Run `clients` threads, each with one keep-alive connection; return what they measured.

    Each client warms up (untimed), waits for the others, then works until `seconds` pass.
    """
    tally = Tally()
    ready = threading.Barrier(clients + 1)

    def client(number: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        latencies: list[float] = []
        failures: list[str] = []
        try:
            if warm_up is not None:
                warm_up(number, connection)
            ready.wait()
            work(number, connection, time.monotonic() + seconds, latencies)
        except Exception as error:  # reported with the figures, never swallowed
            failures.append(f"client {number}: {type(error).__name__}: {error}")
            ready.abort()
        finally:
            connection.close()
            tally.add(latencies, failures)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    with contextlib.suppress(threading.BrokenBarrierError):
        ready.wait()
    started, cpu = time.monotonic(), server.cpu_seconds()
    for thread in threads:
        thread.join()
    tally.wall_seconds = time.monotonic() - started
    tally.server_cpu_seconds = server.cpu_seconds() - cpu
    return tally


# --- the two measurements -------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """One measured series: requests, rate and latency percentiles."""

    label: str
    requests: int
    per_second: float
    p50_ms: float
    p95_ms: float
    cpu_ms: float  # the server's CPU time per request (its workers, not the database)
    rss_mb: float = 0.0  # the largest worker's resident memory at the end (API series only)


def figures(label: str, tally: Tally) -> Figures:
    """Summarise a run; fail loudly, naming them, if any client failed."""
    if tally.failures:
        raise RuntimeError(f"{label}: " + "; ".join(tally.failures[:5]))
    if len(tally.latencies) < 2:
        raise RuntimeError(f"{label}: only {len(tally.latencies)} requests completed")
    cuts = statistics.quantiles(tally.latencies, n=100)
    count = len(tally.latencies)
    return Figures(
        label,
        count,
        count / tally.wall_seconds,
        cuts[49] * 1000,
        cuts[94] * 1000,
        tally.server_cpu_seconds * 1000 / count,
    )


def measure_api(
    server: Server, seeded: Seed, route: list[tuple[str, dict[str, Any]]], seconds: float
) -> Figures:
    """Drive S1 completions through the API; each client's first incident is the warm-up."""

    def warm_up(number: int, connection: http.client.HTTPConnection) -> None:
        first = seeded.first_tasks[number][0]
        walk_incident(connection, seeded.tokens[number], first, route, float("inf"), [])

    def work(
        number: int, connection: http.client.HTTPConnection, deadline: float, out: list[float]
    ) -> None:
        for first in seeded.first_tasks[number][1:]:
            if time.monotonic() >= deadline:
                return
            walk_incident(connection, seeded.tokens[number], first, route, deadline, out)

    before = server.worker_cpu_seconds()
    tally = run_clients(len(seeded.tokens), server, seconds, work, warm_up)
    measured = figures("API: POST /api/v1/tasks/{id}/complete", tally)
    split = [f"{a - b:.2f}" for a, b in zip(server.worker_cpu_seconds(), before, strict=False)]
    print(f"API series: CPU s per gunicorn worker (incl. warm-up): {split}", file=sys.stderr)
    return replace(measured, rss_mb=server.worker_rss_mb())


def measure_baseline(server: Server, clients: int, seconds: float) -> Figures:
    """Drive the baseline endpoint: one 30 KB UPDATE + 3 INSERTs per request."""

    def warm_up(number: int, connection: http.client.HTTPConnection) -> None:
        for _ in range(20):
            post_json(connection, "/write", {"slot": number}, None)

    def work(
        number: int, connection: http.client.HTTPConnection, deadline: float, out: list[float]
    ) -> None:
        while time.monotonic() < deadline:
            status, body, elapsed = post_json(connection, "/write", {"slot": number}, None)
            if status != 200:
                raise RuntimeError(f"baseline write gave {status}: {body}")
            out.append(elapsed)

    tally = run_clients(clients, server, seconds, work, warm_up)
    return figures("baseline: Flask + one comparable write", tally)


def bench_backend(backend: str, args: argparse.Namespace, workdir: Path) -> list[Figures]:
    """Seed one backend, then measure the API and the baseline on it."""
    disclosure, route, state_text = s1_route()
    text_file = workdir / "baseline-text.json"
    text_file.write_text(state_text, encoding="utf-8")
    with database(backend, workdir) as url:
        started = time.monotonic()
        seeded = seed(url, args.clients, args.incidents + 1, disclosure, args.schools)
        make_baseline_tables(url, args.clients)
        print(f"{backend}: seeded in {time.monotonic() - started:.1f} s", file=sys.stderr)
        env = {
            "SAFEGUARD_DATABASE_URL": url,
            "SAFEGUARD_SECRET_KEY": secrets.token_hex(32),
            "SAFEGUARD_INSTANCE_DIR": str(workdir),
            TEXT_FILE_ENV: str(text_file),
        }
        log = workdir / "gunicorn.log"
        try:
            shape = server_shape(args)
            with gunicorn("api:api_app()", env, log, "/api/v1/openapi.json", shape) as server:
                api = measure_api(server, seeded, route, args.seconds)
            with gunicorn("api:baseline_app()", env, log, "/", shape) as server:
                baseline = measure_baseline(server, args.clients, args.seconds)
        except RuntimeError:
            print(f"gunicorn's log ends:\n{log.read_text()[-3000:]}", file=sys.stderr)
            raise
    return [api, baseline]


def server_shape(args: argparse.Namespace) -> dict[str, str]:
    """The gunicorn settings the command line overrides (the rest: the production config)."""
    given = {
        "WORKERS": args.workers,
        "THREADS": args.threads,
        "WORKER_CLASS": args.worker_class,
        "KEEPALIVE": args.keep_alive,
    }
    return {name: str(value) for name, value in given.items() if value is not None}


def describe_server(args: argparse.Namespace) -> str:
    """The server settings in force, as the production config module resolves them."""
    overrides = {f"SAFEGUARD_WEB_{name}": value for name, value in server_shape(args).items()}
    saved = dict(os.environ)
    os.environ.update(overrides)
    try:
        conf = runpy.run_module(SERVER_CONFIG)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return (
        f"gunicorn {conf['workers']} workers x {conf['threads']} threads "
        f"({conf['worker_class']}, keep-alive {conf['keepalive']} s; {SERVER_CONFIG})"
    )


def report(results: dict[str, list[Figures]], args: argparse.Namespace, tasks: int) -> None:
    """Print the figures per backend, and the API's cost in multiples of the baseline's."""
    print(
        f"\n{describe_server(args)}; "
        f"{args.clients} keep-alive clients; {args.seconds:g} s per series; "
        f"S1 route, {tasks} tasks an incident; "
        "cpu = gunicorn's CPU ms per request"
    )
    heading = ("requests", "req/s", "p50 ms", "p95 ms", "cpu ms")
    print(f"{'backend':<9} {'series':<40} " + " ".join(f"{h:>8}" for h in heading))
    for backend, series in results.items():
        for row in series:
            print(
                f"{backend:<9} {row.label:<40} {row.requests:>8} {row.per_second:>8.1f} "
                f"{row.p50_ms:>8.2f} {row.p95_ms:>8.2f} {row.cpu_ms:>8.2f}"
            )
        api, baseline = series
        times = (
            baseline.per_second / api.per_second,
            api.p50_ms / baseline.p50_ms,
            api.p95_ms / baseline.p95_ms,
            api.cpu_ms / baseline.cpu_ms,
        )
        print(
            f"{backend:<9} {'API cost, times the baseline':<40} {'':>8} "
            + " ".join(f"{value:>8.1f}" for value in times)
        )


def main() -> None:
    """Run both backends and print the table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per series (default 10)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (default 4)")
    parser.add_argument(
        "--incidents", type=int, default=40, help="incidents per client (default 40)"
    )
    parser.add_argument("--backends", default="sqlite,postgres", help="comma-separated")
    parser.add_argument(
        "--schools", type=int, default=1, help="schools the clients are spread over (default 1)"
    )
    production = f"default: as {SERVER_CONFIG}"
    parser.add_argument("--workers", type=int, help=f"gunicorn workers ({production})")
    parser.add_argument("--threads", type=int, help=f"threads a worker ({production})")
    parser.add_argument("--worker-class", choices=("sync", "gthread"), help=production)
    parser.add_argument("--keep-alive", type=int, help=f"gthread keep-alive s ({production})")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()
    results: dict[str, list[Figures]] = {}
    with tempfile.TemporaryDirectory(prefix="sf-bench-api-") as folder:
        for backend in args.backends.split(","):
            results[backend] = bench_backend(backend, args, Path(folder))
    report(results, args, len(s1_route()[1]))
    if args.json:
        args.json.write_text(json.dumps(summary(results), indent=2), encoding="utf-8")


def summary(results: dict[str, list[Figures]]) -> dict[str, float]:
    """The figures bench/run.py collects: api_<sqlite|pg>_per_s, _p95_ms, _baseline_per_s."""
    out: dict[str, float] = {}
    for backend, (api, baseline) in results.items():
        key = "pg" if backend == "postgres" else backend
        out[f"api_{key}_per_s"] = round(api.per_second, 1)
        out[f"api_{key}_p95_ms"] = round(api.p95_ms, 2)
        out[f"api_{key}_baseline_per_s"] = round(baseline.per_second, 1)
        out["rss_mb"] = round(max(out.get("rss_mb", 0.0), api.rss_mb), 1)
    return out


if __name__ == "__main__":
    main()
