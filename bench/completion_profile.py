"""Profile one API task completion: the SQL statements it runs and where its CPU time goes.

    .venv/bin/python bench/completion_profile.py [--backend sqlite|postgres] [--top 25]
        [--sort cumulative|tottime] [--quiet]

Seeds an empty database as bench/api.py does (one client, a few incidents), walks one
incident's S1 route through the Flask test client as a warm-up, then completes the tasks of
a second incident, printing per completion every SQL statement (first 90 characters) and the
pings of pooled connections, then one cProfile of the completions (cumulative time).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import os
import pstats
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent))
import api  # bench/ is not a package (see bench/api.py)


def main() -> None:
    """Seed, warm up, then count and profile completions."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--backend", default="sqlite", choices=("sqlite", "postgres"))
    parser.add_argument("--top", type=int, default=25, help="profile rows to print")
    parser.add_argument("--quiet", action="store_true", help="counts only, no statements")
    parser.add_argument(
        "--phases",
        type=int,
        default=0,
        metavar="N",
        help="also complete N more incidents' routes unprofiled and split their CPU by phase",
    )
    parser.add_argument(
        "--sort", default="cumulative", choices=("cumulative", "tottime"), help="profile order"
    )
    args = parser.parse_args()
    from services.config import Settings
    from services.web import create_app

    disclosure, route, _ = api.s1_route()
    with (
        tempfile.TemporaryDirectory(prefix="sf-profile-") as folder,
        api.database(args.backend, Path(folder)) as url,
    ):
        seeded = api.seed(url, 1, 3 + args.phases, disclosure)
        env = {
            "SAFEGUARD_DATABASE_URL": url,
            "SAFEGUARD_SECRET_KEY": secrets.token_hex(32),
            "SAFEGUARD_INSTANCE_DIR": folder,
        }
        os.environ.update(env)
        app = create_app(Settings.from_env())
        engine = app.extensions["safeguard.runtime"].engine
        client = app.test_client()
        token = seeded.tokens[0]
        walk(client, token, seeded.first_tasks[0][0], route, None)  # warm-up
        statements: list[str] = []
        pings: list[int] = []
        listen(engine, statements, pings)
        profile = cProfile.Profile()
        walk(client, token, seeded.first_tasks[0][1], route, (statements, pings, args, profile))
        timed(client, token, seeded.first_tasks[0][2], route)
        stats = pstats.Stats(profile)
        stats.sort_stats(args.sort).print_stats(args.top)
        if args.phases:
            phases(client, token, seeded.first_tasks[0][3:], route)
        engine.dispose()


def listen(engine: Any, statements: list[str], pings: list[int]) -> None:
    """Record each statement, and each ping of a pooled connection (a `SELECT 1` round trip)."""

    @event.listens_for(engine, "before_cursor_execute")
    def _statement(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(" ".join(statement.split())[:90])

    ping = engine.dialect.do_ping

    def counted_ping(dbapi_connection: Any) -> bool:
        pings.append(1)
        return bool(ping(dbapi_connection))

    engine.dialect.do_ping = counted_ping


def timed(client: Any, token: str, first: str, route: list[Any]) -> None:
    """Complete one more incident's route unprofiled; print this process's CPU ms per step."""
    started, cpu = time.perf_counter(), time.process_time()
    walk(client, token, first, route, None)
    steps = len(route)
    wall_ms = (time.perf_counter() - started) * 1000 / steps
    cpu_ms = (time.process_time() - cpu) * 1000 / steps
    print(f"unprofiled: {cpu_ms:.2f} ms CPU, {wall_ms:.2f} ms wall per completion ({steps} steps)")


def phases(client: Any, token: str, firsts: list[str], route: list[Any]) -> None:
    """Complete these incidents' routes unprofiled; print their thread CPU ms per step by phase.

    Each phase is timed with `time.thread_time` around the function that does it (patched in
    where the caller looks it up), so the figures carry no profiler overhead. The phases follow
    one another; "rest" is what none names (Flask, werkzeug, the view, the handler's other
    reads, the test client).
    """
    from services.db.unit_of_work import SqlAlchemyUnitOfWork
    from services.domain.handlers import tasks
    from services.web.api import blueprint, render, views
    from workflow import engine

    spent: dict[str, float] = {}
    targets = [
        ("auth (bearer token, own unit of work)", blueprint, "load_user_from_bearer"),
        ("view: parse and check the body", views, "json_body"),
        ("handler: lock incident, task and user facts", tasks, "_lock"),
        ("handler: engine (load, run, result, state)", engine, "complete_task"),
        ("handler: audit the completion, record answers", tasks, "_audit_completion"),
        ("handler: record progress (tasks, report row)", tasks, "record_progress"),
        ("handler: outbox rows", tasks, "write_outbox"),
        ("commit (projection, guards, chain, flush)", SqlAlchemyUnitOfWork, "commit"),
        ("view: render the outcome", render, "outcome_json"),
    ]
    originals = [(owner, name, getattr(owner, name)) for _label, owner, name in targets]
    for label, owner, name in targets:
        setattr(owner, name, _timed_phase(getattr(owner, name), label, spent))
    try:
        steps, cpu = 0, time.thread_time()
        for first in firsts:
            walk(client, token, first, route, None)
            steps += len(route)
        total_ms = (time.thread_time() - cpu) * 1000
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)
    print(f"phases over {steps} completions (thread CPU ms per completion):")
    named = sum(spent.values())
    for label, _owner, _name in targets:
        print(f"  {spent.get(label, 0.0) * 1000 / steps:6.2f}  {label}")
    rest = total_ms - named * 1000
    print(f"  {rest / steps:6.2f}  rest")
    print(f"  {total_ms / steps:6.2f}  total")


def _timed_phase(function: Any, label: str, spent: dict[str, float]) -> Any:
    def timed_call(*args: Any, **kwargs: Any) -> Any:
        started = time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            spent[label] = spent.get(label, 0.0) + time.thread_time() - started

    return timed_call


def walk(client: Any, token: str, first: str, route: list[Any], watch: Any) -> None:
    """Complete one incident's route; with `watch`, count and profile each completion."""
    task_id: str | None = first
    for index, (bpmn_id, values) in enumerate(route):
        if task_id is None:
            return
        context = contextlib.nullcontext()
        if watch is not None:
            statements, pings, args, profile = watch
            statements.clear()
            pings.clear()
            profile.enable()
        with context:
            response = client.post(
                f"/api/v1/tasks/{task_id}/complete",
                json={"values": values},
                headers={"Authorization": f"Bearer {token}"},
            )
        if watch is not None:
            profile.disable()
            print(f"--- {bpmn_id}: {len(statements)} statements, {len(pings)} pings")
            if not args.quiet:
                for line in statements:
                    print("   ", line)
        body = response.get_json()
        if response.status_code != 200:
            raise RuntimeError(f"{bpmn_id}: {response.status_code} {body}")
        following = route[index + 1][0] if index + 1 < len(route) else None
        task_id = next((t["id"] for t in body["new_tasks"] if t["bpmn_id"] == following), None)


if __name__ == "__main__":
    main()
