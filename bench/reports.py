"""Benchmark: the reports dashboard at scale.

    .venv/bin/python bench/reports.py [--incidents 100000] [--backends sqlite,postgres]
                                      [--repeat 5]

For each backend (SQLite in a temp file; PostgreSQL in a fresh schema of the `test` database on
127.0.0.1:5432) it migrates an empty database, deploys the default process, makes 60 incidents
of one school through the engine's commands (services.demo_incidents) and copies closed ones
up to `--incidents` (services.demo_bulk, spread over a year). It then times, through the real
app and a signed-in headteacher's session, the median of `--repeat` warm requests of:

- the dashboard (`/reports`, the whole year: every figure counted, nine SVG charts rendered);
- its CSV download;
- the API summary (`/api/v1/reports/summary` is the same query; timed here as the handler).

Read the numbers relative to each other: the machine's 2 cores are shared.
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.bootstrap import bootstrap  # noqa: E402
from services.config import Settings  # noqa: E402
from services.db import upgrade_database  # noqa: E402
from services.demo_bulk import bulk_copy  # noqa: E402
from services.demo_incidents import Cast, DemoGenerator  # noqa: E402
from services.domain.commands import DeployDefinitions  # noqa: E402
from services.domain.reports.messages import ReadReport  # noqa: E402
from services.web import create_app  # noqa: E402
from tests.integration.conftest import postgres_base_url, postgres_schema  # noqa: E402
from tests.integration.service_fixtures import default_bundle  # noqa: E402

BY_ENGINE = 60


@contextlib.contextmanager
def database(backend: str) -> Iterator[str]:
    """An empty database URL for the backend, removed afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/bench.db"
        return
    with postgres_schema(postgres_base_url()) as url:
        yield url


def seed(runtime: Any, count: int) -> tuple[int, int]:
    """A school with its people and `count` incidents over the last year; (school, head)."""
    runtime.bus.handle(DeployDefinitions(default_bundle(), None))
    with runtime.unit_of_work() as uow:
        school = uow.schools.add("Bench School", f"bench-{secrets.token_hex(3)}").id
        people = {}
        for role in ("staff", "dsl", "headteacher"):
            user = uow.users.add(f"{role}-{secrets.token_hex(3)}@bench.test", role, "x")
            uow.users.grant(user.id, school, role)
            people[role] = user.id
        uow.commit()
    began = time.perf_counter()
    cast = Cast(school, people)
    DemoGenerator(runtime.session_factory, cast).generate(min(count, BY_ENGINE))
    engine_s = time.perf_counter() - began
    began = time.perf_counter()
    if count > BY_ENGINE:
        bulk_copy(runtime.session_factory, school, people["dsl"], count - BY_ENGINE)
    copy_s = time.perf_counter() - began
    print(
        f"  seeded {count} incidents: {min(count, BY_ENGINE)} by the engine in {engine_s:.1f} s,"
        f" {max(0, count - BY_ENGINE)} copies in {copy_s:.1f} s"
    )
    return school, people["headteacher"]


def signed_in(app: Any, runtime: Any, user_id: int) -> Any:
    """A test client whose session is the user's, second factor done."""
    client = app.test_client()
    with runtime.unit_of_work() as uow:
        generation = uow.users.get(user_id).session_generation
    with client.session_transaction() as session:
        session.update(
            user_id=user_id,
            signed_in_at=time.time(),
            generation=generation,
            second_factor=True,
            nonce="bench",
        )
        session.permanent = True
    return client


def timed(call: Callable[[], Any], repeat: int) -> float:
    """Median milliseconds of `repeat` calls after one warm-up."""
    call()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def run(backend: str, count: int, repeat: int) -> None:
    """Seed one backend and print its timings."""
    print(f"{backend}:")
    with database(backend) as url:
        upgrade_database(url)
        with tempfile.TemporaryDirectory() as folder:
            settings = Settings(
                database_url=url,
                instance_dir=Path(folder),
                secret_key=secrets.token_hex(32),
                amqp_url=None,
                bpmn_dir=ROOT / "bpmn",
                base_url="http://localhost",
                secure_cookies=False,
            )
            runtime = bootstrap(settings)
            try:
                school, head = seed(runtime, count)
                app = create_app(settings, runtime=runtime)
                client = signed_in(app, runtime, head)

                def page(path: str) -> Any:
                    response = client.get(path)
                    assert response.status_code == 200, (path, response.status_code)
                    return response

                today = datetime.now(UTC).date()
                query = f"?school={school}&from={today - timedelta(days=365)}&to={today}"
                ms = timed(lambda: page(f"/reports{query}"), repeat)
                print(f"  dashboard page (a year)        {ms:8.1f} ms")
                ms = timed(lambda: page(f"/reports/dashboard.csv{query}"), repeat)
                print(f"  dashboard CSV                  {ms:8.1f} ms")
                read = ReadReport(head, today - timedelta(days=365), today, school)
                ms = timed(lambda: runtime.bus.handle(read), repeat)
                print(f"  figures alone (the SQL)        {ms:8.1f} ms")
                month = f"?school={school}&from={today - timedelta(days=30)}&to={today}"
                ms = timed(lambda: page(f"/reports{month}"), repeat)
                print(f"  dashboard page (a month)       {ms:8.1f} ms")
            finally:
                runtime.close()


def main() -> None:
    """Parse the options and run each backend."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    for backend in options.backends.split(","):
        run(backend.strip(), options.incidents, options.repeat)


if __name__ == "__main__":
    main()
