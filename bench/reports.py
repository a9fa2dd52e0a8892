"""Benchmark: the reports dashboard at scale, first view and warm, against same-run baselines.

    .venv/bin/python bench/reports.py [--incidents 100000] [--backends sqlite,postgres]
        [--repeat 5] [--sqlite-url URL] [--postgres-url URL] [--school SLUG]
        [--cold-rows] [--json]

With `--sqlite-url` / `--postgres-url` it reads a database already filled by
`safeguard demo generate --incidents N` (the school `--school`, default the demo school): no
seeding, so 100k incidents are made once and measured many times. Without, it migrates an empty
database (SQLite in a temp file; PostgreSQL in a fresh schema of the `test` database), makes 60
incidents through the engine and copies closed ones up to `--incidents`.

For each backend, through the real app and a signed-in headteacher's session, it prints:

- first view: the first dashboard request of the process (a year of one school; nothing cached),
  its SQL statement count and the process's CPU time for it (the database server's CPU is not
  in it: on PostgreSQL read the wall time too); with `--cold-rows` the school's
  report rows are deleted first, so this times the one-off build after a bulk import;
- warm: the median of `--repeat` dashboard requests, of the CSV, of the figures alone (the
  handler, as `/api/v1/reports/summary` runs it) and of a month's dashboard;
- the same run's baselines: a plain `SELECT count(*)` of the school's incidents and the
  dashboard of a period with no incidents (the page's fixed cost), and the ratios to them;
- the cost a change pays to keep the report rows in step: rebuilding one incident's row.

Read the numbers relative to each other: the machine's 2 cores are shared.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import delete, event, func, select  # noqa: E402

from services.bootstrap import bootstrap  # noqa: E402
from services.config import Settings  # noqa: E402
from services.db import upgrade_database  # noqa: E402
from services.db.models import (  # noqa: E402
    Incident,
    IncidentReportRow,
    Membership,
    School,
)
from services.demo import DEMO_SCHOOL_SLUG  # noqa: E402
from services.demo_bulk import bulk_copy  # noqa: E402
from services.demo_incidents import Cast, DemoGenerator  # noqa: E402
from services.domain.commands import DeployDefinitions  # noqa: E402
from services.domain.reports.messages import ReadReport  # noqa: E402
from services.web import create_app  # noqa: E402
from tests.integration.conftest import postgres_base_url, postgres_schema  # noqa: E402
from tests.integration.service_fixtures import default_bundle  # noqa: E402

BY_ENGINE = 60


@contextlib.contextmanager
def fresh_database(backend: str) -> Iterator[str]:
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
    DemoGenerator(runtime.session_factory, Cast(school, people)).generate(min(count, BY_ENGINE))
    if count > BY_ENGINE:
        bulk_copy(runtime.session_factory, school, people["dsl"], count - BY_ENGINE)
    return school, people["headteacher"]


def existing(runtime: Any, slug: str) -> tuple[int, int]:
    """The school with this slug and its first headteacher; (school, head)."""
    with runtime.session_factory() as session:
        school = session.scalar(select(School.id).where(School.slug == slug))
        if school is None:
            raise SystemExit(f"no school {slug!r} in that database")
        head = session.scalar(
            select(Membership.user_id)
            .where(Membership.school_id == school, Membership.role == "headteacher")
            .order_by(Membership.user_id)
            .limit(1)
        )
        if head is None:
            raise SystemExit(f"school {slug!r} has no headteacher")
        return school, head


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


def timed(
    call: Callable[[], Any], repeat: int, clock: Callable[[], float] = time.perf_counter
) -> float:
    """Median milliseconds of `repeat` calls after one warm-up (wall clock, or `clock`)."""
    call()
    samples = []
    for _ in range(repeat):
        start = clock()
        call()
        samples.append((clock() - start) * 1000)
    return statistics.median(samples)


class Statements:
    """Counts the SQL statements an engine runs."""

    def __init__(self, engine: Any) -> None:
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args: Any) -> None:
        self.count += 1


def settings_for(url: str, folder: str) -> Settings:
    """The app's settings for the benchmark's database."""
    return Settings(
        database_url=url,
        instance_dir=Path(folder),
        secret_key=secrets.token_hex(32),
        amqp_url=None,
        bpmn_dir=ROOT / "bpmn",
        base_url="http://localhost",
        secure_cookies=False,
    )


def measure(
    runtime: Any, settings: Settings, school: int, head: int, options: Any
) -> dict[str, Any]:
    """Time the dashboard, first and warm, and the baselines; return the figures (ms)."""
    with runtime.session_factory() as session:
        incidents = session.scalar(
            select(func.count()).select_from(Incident).where(Incident.school_id == school)
        )
        if options.cold_rows:
            session.execute(delete(IncidentReportRow).where(IncidentReportRow.school_id == school))
            session.commit()
    app = create_app(settings, runtime=runtime)
    client = signed_in(app, runtime, head)
    statements = Statements(runtime.engine)

    def page(path: str) -> Any:
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        return response

    today = datetime.now(UTC).date()
    year = f"?school={school}&from={today - timedelta(days=365)}&to={today}"
    began, cpu = time.perf_counter(), time.process_time()
    page(f"/reports{year}")
    first_ms = (time.perf_counter() - began) * 1000
    first_cpu_ms = (time.process_time() - cpu) * 1000
    first_statements = statements.count

    def count_query() -> None:
        with runtime.session_factory() as session:
            session.scalar(
                select(func.count()).select_from(Incident).where(Incident.school_id == school)
            )

    out: dict[str, Any] = {
        "incidents": incidents,
        "cold_rows": bool(options.cold_rows),
        "first_view_ms": round(first_ms, 1),
        "first_view_cpu_ms": round(first_cpu_ms, 1),
        "first_view_statements": first_statements,
    }
    before = statements.count
    page(f"/reports{year}")
    out["warm_statements"] = statements.count - before
    out["warm_ms"] = timed(lambda: page(f"/reports{year}"), options.repeat)
    out["warm_cpu_ms"] = timed(lambda: page(f"/reports{year}"), options.repeat, time.process_time)
    out["csv_ms"] = timed(lambda: page(f"/reports/dashboard.csv{year}"), options.repeat)
    read = ReadReport(head, today - timedelta(days=365), today, school)
    out["figures_ms"] = timed(lambda: runtime.bus.handle(read), options.repeat)
    month = f"?school={school}&from={today - timedelta(days=30)}&to={today}"
    out["month_ms"] = timed(lambda: page(f"/reports{month}"), options.repeat)
    empty = f"?school={school}&from={date(2001, 1, 1)}&to={date(2001, 12, 31)}"
    out["baseline_empty_period_ms"] = timed(lambda: page(f"/reports{empty}"), options.repeat)
    out["baseline_count_ms"] = timed(count_query, options.repeat)
    out["projection_one_incident_ms"] = _projection_ms(runtime, school, options.repeat)
    for key in ("first_view_ms", "warm_ms"):
        out[key.replace("_ms", "_over_count")] = round(out[key] / out["baseline_count_ms"], 1)
        out[key.replace("_ms", "_over_empty_period")] = round(
            out[key] / out["baseline_empty_period_ms"], 2
        )
    return {
        key: round(value, 2) if isinstance(value, float) else value for key, value in out.items()
    }


def _projection_ms(runtime: Any, school: int, repeat: int) -> float | None:
    """Rebuilding one incident's report row: what each audited change now pays on commit."""
    try:
        from services.domain.reports.projection import project
    except ImportError:  # the code before rows were kept in step on write
        return None
    with runtime.session_factory() as session:
        incident = session.scalar(select(Incident.id).where(Incident.school_id == school).limit(1))

        def once() -> None:
            project(session, [incident])

        ms = timed(once, repeat)
        session.rollback()
    return ms


def run(backend: str, url: str | None, options: Any) -> dict[str, Any]:
    """Measure one backend (seeding a fresh database unless given one); return its figures."""
    with contextlib.ExitStack() as stack:
        if url is None:
            url = stack.enter_context(fresh_database(backend))
            upgrade_database(url)
        folder = stack.enter_context(tempfile.TemporaryDirectory())
        settings = settings_for(url, folder)
        runtime = bootstrap(settings)
        try:
            if options.fresh[backend]:
                school, head = seed(runtime, options.incidents)
            else:
                school, head = existing(runtime, options.school)
            return {"backend": backend, **measure(runtime, settings, school, head, options)}
        finally:
            runtime.close()
    raise AssertionError("unreachable")  # pragma: no cover


LABELS = {
    "incidents": "incidents of the school",
    "first_view_ms": "first view (a year)             ms",
    "first_view_cpu_ms": "first view, CPU of the process  ms",
    "first_view_statements": "first view, SQL statements",
    "warm_ms": "warm view (a year)              ms",
    "warm_cpu_ms": "warm view, CPU of the process   ms",
    "warm_statements": "warm view, SQL statements",
    "csv_ms": "CSV download (a year)           ms",
    "figures_ms": "figures alone (API's handler)   ms",
    "month_ms": "dashboard (a month)             ms",
    "baseline_empty_period_ms": "baseline: empty period's page   ms",
    "baseline_count_ms": "baseline: SELECT count(*)       ms",
    "first_view_over_count": "first view / count(*)",
    "warm_over_count": "warm view / count(*)",
    "first_view_over_empty_period": "first view / empty period",
    "warm_over_empty_period": "warm view / empty period",
    "projection_one_incident_ms": "a change's row upkeep (1 row)   ms",
}


def main() -> None:
    """Parse the options and run each backend."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sqlite-url", help="an existing SQLite database to read")
    parser.add_argument("--postgres-url", help="an existing PostgreSQL database to read")
    parser.add_argument("--school", default=DEMO_SCHOOL_SLUG, help="with an existing database")
    parser.add_argument("--cold-rows", action="store_true", help="delete the report rows first")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    options = parser.parse_args()
    urls = {"sqlite": options.sqlite_url, "postgres": options.postgres_url}
    options.fresh = {name: url is None for name, url in urls.items()}
    results = []
    for backend in (b.strip() for b in options.backends.split(",")):
        result = run(backend, urls[backend], options)
        results.append(result)
        if not options.json:
            print(f"{backend}:")
            for key, label in LABELS.items():
                print(f"  {label:36} {result.get(key)}")
    if options.json:
        print(json.dumps({"benchmark": "reports", "results": results}, indent=2))


if __name__ == "__main__":
    main()
