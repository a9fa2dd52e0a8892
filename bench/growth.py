"""Benchmark: do the inbox and a task completion stay flat as a school's incidents pile up?

    .venv/bin/python bench/growth.py [--incidents 100000] [--backends sqlite,postgres]
                                     [--samples 200] [--json FILE]

For each backend (a temp SQLite file; a fresh schema in the `test` database on 127.0.0.1:5432),
it migrates, deploys the default process, and seeds one school with a user who holds the staff,
DSL and headteacher roles and an API token, plus 2 x `--samples` open incidents whose initial
review is ready. In-process (Flask's test client: no server, so only the app's own work counts):

1. On the nearly empty database (the baseline, same run): the inbox (GET /api/v1/tasks) timed
   `--samples` times, then `--samples` initial reviews completed through
   POST /api/v1/tasks/{id}/complete.
2. The database is filled with `--incidents` closed incidents (three completed tasks each), half
   in the same school and half spread over 20 other schools, then ANALYZEd. Their engine state is
   a stub: closed incidents' state is never read by these paths, and 100k real states would
   take gigabytes.
3. The same measurements again, on the other half of the open incidents.

Printed per backend: p50/p95 of each, in wall time and in this thread's CPU time (which a busy
machine does not inflate), and the p95 ratio filled / empty (1.0 = flat). The figures
(`inbox_growth_ratio`, `completion_growth_ratio`, and their `_cpu_` twins: the worse backend's)
go to --json.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import api  # bench/api.py: the seed, the S1 route and the database helpers
from sqlalchemy import insert, text

ROUND = 5_000  # rows per INSERT round while filling
OTHER_SCHOOLS = 20
# Wall time as a user waits, and this thread's CPU time (the app's own work, SQLite included;
# not PostgreSQL's server), which a busy machine does not inflate.
WARM_UP = 5  # completions before timing, in each round
SERIES = ("inbox", "completion", "inbox_cpu", "completion_cpu")


def p50_p95(values: list[float]) -> tuple[float, float]:
    """Median and 95th percentile, in ms."""
    cuts = statistics.quantiles(values, n=100)
    return cuts[49] * 1000, cuts[94] * 1000


def timed(call: Callable[[], Any], cpu: list[float]) -> float:
    """Seconds one call took; its CPU seconds (this thread's) are appended to `cpu`."""
    started, started_cpu = time.perf_counter(), time.thread_time()
    call()
    cpu.append(time.thread_time() - started_cpu)
    return time.perf_counter() - started


def measure(
    client: Any, token: str, tasks: list[str], review: dict[str, Any], samples: int
) -> dict[str, tuple[float, float]]:
    """Inbox `samples` times, then complete each of `tasks`; (p50, p95) of each."""
    headers = {"Authorization": f"Bearer {token}"}

    def inbox() -> None:
        response = client.get("/api/v1/tasks?limit=25", headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"inbox gave {response.status_code}: {response.get_data(True)}")

    def complete(task_id: str) -> Callable[[], None]:
        def run() -> None:
            response = client.post(
                f"/api/v1/tasks/{task_id}/complete", json={"values": review}, headers=headers
            )
            if response.status_code != 200:
                raise RuntimeError(
                    f"completion gave {response.status_code}: {response.get_data(True)}"
                )

        return run

    for _ in range(10):  # warm the caches (the process spec is restored once per thread)
        inbox()
    for task_id in tasks[:WARM_UP]:
        complete(task_id)()
    tasks = tasks[WARM_UP:]
    inbox_cpu: list[float] = []
    completion_cpu: list[float] = []
    inbox_times = [timed(inbox, inbox_cpu) for _ in range(samples)]
    completion_times = [timed(complete(task_id), completion_cpu) for task_id in tasks]
    return {
        "inbox": p50_p95(inbox_times),
        "completion": p50_p95(completion_times),
        "inbox_cpu": p50_p95(inbox_cpu),
        "completion_cpu": p50_p95(completion_cpu),
    }


def fill(url: str, school_id: int, user_id: int, incidents: int) -> None:
    """Add closed incidents with completed tasks: half in the school, half in 20 others."""
    from services.db import make_engine
    from services.db.models import DefinitionVersion, HumanTask, Incident, School

    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            version_id = connection.execute(
                text(f"SELECT max(id) FROM {DefinitionVersion.__tablename__}")
            ).scalar_one()
            tag = secrets.token_hex(3)
            others = [
                connection.execute(
                    insert(School).returning(School.id),
                    {
                        "name": f"Other {n} {tag}",
                        "slug": f"other-{n}-{tag}",
                        "created_at": datetime.now(UTC),
                    },
                ).scalar_one()
                for n in range(OTHER_SCHOOLS)
            ]
        start = datetime(2025, 1, 1, tzinfo=UTC)
        done = 0
        while done < incidents:
            batch = range(done, min(incidents, done + ROUND))
            rows, tasks = [], []
            for n in batch:
                school = school_id if n % 2 == 0 else others[n % OTHER_SCHOOLS]
                incident_id = f"fill-{tag}-{n}"
                when = start + timedelta(minutes=n)
                rows.append(
                    {
                        "id": incident_id,
                        "school_id": school,
                        "definition_version_id": version_id,
                        "reference": f"FILL-{tag}-{n}",
                        "status": "closed",
                        "state": "{}",
                        "version_id": 1,
                        "created_at": when,
                        "created_by": user_id,
                        "closed_at": when + timedelta(days=3),
                    }
                )
                for step, role in enumerate(("staff", "dsl", "headteacher")):
                    tasks.append(
                        {
                            "id": f"{incident_id}-{step}",
                            "incident_id": incident_id,
                            "school_id": school,
                            "bpmn_id": f"step_{step}",
                            "name": "Step",
                            "role": role,
                            "state": "completed",
                            "created_at": when,
                            "completed_at": when + timedelta(hours=step),
                            "completed_by": user_id,
                        }
                    )
            with engine.begin() as connection:
                connection.execute(insert(Incident), rows)
                connection.execute(insert(HumanTask), tasks)
            done = batch.stop
            print(
                f"\r  filling: {done:,}/{incidents:,} incidents",
                end="",
                file=sys.stderr,
                flush=True,
            )
        print(file=sys.stderr)
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
    finally:
        engine.dispose()


@contextmanager
def app_client(url: str, workdir: Path) -> Iterator[Any]:
    """A Flask test client of the app on this database."""
    from services.config import Settings
    from services.web.app import create_app

    settings = Settings.from_env(
        {
            "SAFEGUARD_DATABASE_URL": url,
            "SAFEGUARD_SECRET_KEY": secrets.token_hex(32),
            "SAFEGUARD_INSTANCE_DIR": str(workdir),
        }
    )
    app = create_app(settings)
    yield app.test_client()


def bench_backend(backend: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Baseline, fill, again; the p50/p95 pairs of both rounds."""
    disclosure, route, _ = api.s1_route()
    review = route[0][1]
    with api.database(backend, workdir) as url:
        seeded = api.seed(url, 1, 2 * (args.samples + WARM_UP), disclosure)
        token, tasks = seeded.tokens[0], seeded.first_tasks[0]
        from services.db import make_engine

        engine = make_engine(url)
        with engine.connect() as connection:
            school_id, user_id = connection.execute(
                text("SELECT school_id, user_id FROM memberships LIMIT 1")
            ).one()
        engine.dispose()
        with app_client(url, workdir) as client:
            half = args.samples + WARM_UP
            empty = measure(client, token, tasks[:half], review, args.samples)
        fill(url, school_id, user_id, args.incidents)
        with app_client(url, workdir) as client:
            filled = measure(client, token, tasks[half:], review, args.samples)
    return {"empty": empty, "filled": filled}


def main() -> None:
    """Run the backends and print the table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--incidents", type=int, default=100_000, help="incidents to add")
    parser.add_argument("--samples", type=int, default=200, help="requests per measurement")
    parser.add_argument("--backends", default="sqlite,postgres", help="comma-separated")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()
    ratios: dict[str, list[float]] = {s: [] for s in SERIES}
    print(
        f"{'backend':<9} {'series':<11} {'empty p50':>10} {'p95':>8} "
        f"{'filled p50':>11} {'p95':>8} {'p95 ratio':>10}"
    )
    with tempfile.TemporaryDirectory(prefix="sf-bench-growth-") as folder:
        for backend in args.backends.split(","):
            print(f"{backend}: seeding and measuring ...", file=sys.stderr)
            result = bench_backend(backend, args, Path(folder))
            for series in SERIES:
                (e50, e95), (f50, f95) = result["empty"][series], result["filled"][series]
                ratios[series].append(f95 / e95)
                print(
                    f"{backend:<9} {series:<11} {e50:>10.2f} {e95:>8.2f} "
                    f"{f50:>11.2f} {f95:>8.2f} {f95 / e95:>10.2f}"
                )
    print(
        f"(ms; {args.incidents:,} closed incidents added; baseline: the same database nearly "
        "empty, measured first in this run)"
    )
    if args.json:
        figures = {
            "inbox_growth_ratio": round(max(ratios["inbox"]), 2),
            "completion_growth_ratio": round(max(ratios["completion"]), 2),
            "inbox_growth_cpu_ratio": round(max(ratios["inbox_cpu"]), 2),
            "completion_growth_cpu_ratio": round(max(ratios["completion_cpu"]), 2),
            "growth_incidents": args.incidents,
        }
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
