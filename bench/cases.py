"""Benchmark: the incidents list at scale, and one incident's history page and PDF.

    .venv/bin/python bench/cases.py [--incidents 100000] [--events 200]
                                    [--backends sqlite,postgres] [--repeat 5]

For each backend (SQLite in a temp file; PostgreSQL in a fresh schema of the `test` database on
127.0.0.1:5432, user postgres) it migrates an empty database, deploys the default process and
writes `--incidents` incidents of one school straight into the tables in batches (rows shaped
as the engine writes them: facts, a ready task on open ones, three completions' answers each;
the engine state is a stub, which the list never loads). It then times, through the real app
and a signed-in auditor's session (median of `--repeat` warm requests):

- the incidents page: first page, a status filter, the immediate-referral route, overdue,
  a free-text search in answers, and a reference search;
- an incident run through the engine for real (S2 to the referral) with `--events` audit events
  added (views by several people, reassignments): its history page, its JSON export and its
  record PDF.

Everything it creates is removed when it ends. Read the numbers relative to each other: the
machine's 2 cores are shared.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.bootstrap import bootstrap  # noqa: E402
from services.config import Settings  # noqa: E402
from services.db import upgrade_database  # noqa: E402
from services.db.models import (  # noqa: E402
    CaseAnswer,
    HumanTask,
    Incident,
    IncidentCaseFacts,
)
from services.domain.commands import DeployDefinitions  # noqa: E402
from services.web import create_app  # noqa: E402
from tests.integration.case_helpers import run_steps, start_scenario  # noqa: E402
from tests.integration.conftest import postgres_base_url, postgres_schema  # noqa: E402
from tests.integration.service_fixtures import default_bundle  # noqa: E402

WORDS = [
    "phone",
    "message",
    "image",
    "shared",
    "group",
    "chat",
    "year",
    "pupil",
    "tutor",
    "parent",
    "told",
    "online",
    "app",
]
CRITERIA = [
    "adult_involved",
    "coercion_or_grooming",
    "immediate_risk_of_harm",
    "financial_extortion",
]
MARKER = "zebedee quill"  # one incident in 1,000 mentions this name
BATCH = 5_000


@contextlib.contextmanager
def database(backend: str) -> Iterator[str]:
    """An empty database URL for the backend, removed afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/bench.db"
        return
    with postgres_schema(postgres_base_url()) as url:
        yield url


def seed(runtime: Any, count: int) -> dict[str, Any]:
    """A school, its people, the process, and `count` incidents written in batches."""
    bus = runtime.bus
    bus.handle(DeployDefinitions(default_bundle(), None))
    with runtime.unit_of_work() as uow:
        school = uow.schools.add("Bench School", f"bench-{secrets.token_hex(3)}").id
        people = {}
        for role in ("staff", "dsl", "headteacher", "auditor"):
            user = uow.users.add(f"{role}-{secrets.token_hex(3)}@bench.test", role.title(), "x")
            uow.users.grant(user.id, school, role)
            people[role] = user.id
        version = uow.definitions.latest("sharing_nudes_response")
        assert version is not None
        uow.commit()
    random.seed(7)
    now = datetime.now(UTC)
    start = time.perf_counter()
    with runtime.engine.begin() as connection:
        for first in range(0, count, BATCH):
            incidents, facts, tasks, answers = [], [], [], []
            for n in range(first, min(first + BATCH, count)):
                incident_id = str(uuid.uuid4())
                created = now - timedelta(minutes=5 * (count - n))
                closed = n % 10 < 7
                incidents.append(
                    {
                        "id": incident_id,
                        "school_id": school,
                        "definition_version_id": version.id,
                        "reference": f"DS-{2000 + n // 100_000}-{n % 100_000:05d}",
                        "status": "closed" if closed else "open",
                        "state": "{}",
                        "version_id": 1,
                        "created_at": created,
                        "created_by": people["staff"],
                        "closed_at": created + timedelta(days=9) if closed else None,
                    }
                )
                immediate = n % 4 == 0
                held = [CRITERIA[n % len(CRITERIA)]] if immediate else []
                facts.append(
                    {
                        "incident_id": incident_id,
                        "school_id": school,
                        "route": "referral" if immediate or n % 4 == 1 else "in_house",
                        "immediate_referral": immediate,
                        "referral_criteria": f",{','.join(held)}," if held else "",
                        "classification": "experimental",
                        "updated_at": created,
                    }
                )
                if not closed:
                    tasks.append(
                        {
                            "id": str(uuid.uuid4()),
                            "incident_id": incident_id,
                            "school_id": school,
                            "bpmn_id": "risk_assessment",
                            "name": "Assess the risks",
                            "role": "dsl",
                            "state": "ready",
                            "due_at": created + timedelta(days=2),
                            "created_at": created,
                        }
                    )
                for step in range(3):
                    said = " ".join(random.choice(WORDS) for _ in range(40))
                    if n % 1000 == 0 and step == 0:
                        said = f"{MARKER} {said}"
                    answers.append(
                        {
                            "incident_id": incident_id,
                            "task_id": str(uuid.uuid4()),
                            "bpmn_id": "record_disclosure",
                            "lane": "staff",
                            "kind": "completion",
                            "actor_id": people["staff"],
                            "recorded_at": created,
                            "answers": {"what_was_said": said},
                            "search_text": said,
                        }
                    )
            connection.execute(insert(Incident.__table__), incidents)
            connection.execute(insert(IncidentCaseFacts.__table__), facts)
            if tasks:
                connection.execute(insert(HumanTask.__table__), tasks)
            connection.execute(insert(CaseAnswer.__table__), answers)
        if runtime.engine.dialect.name == "postgresql":
            connection.execute(text("ANALYZE"))
    print(f"  seeded {count:,} incidents in {time.perf_counter() - start:.1f} s")
    return {"school": school, "people": people}


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
        response = call()
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.status_code
    return statistics.median(samples)


def history_incident(runtime: Any, world: dict[str, Any], events: int) -> str:
    """S2 through the engine to the referral, then views and reassignments to `events`."""
    people = world["people"]
    actors = {"dsl": people["dsl"], "headteacher": people["headteacher"], "staff": people["staff"]}
    incident_id = start_scenario(runtime, world["school"], people["staff"], "s2.json")
    run_steps(runtime, incident_id, "s2.json", actors, until="refer_to_agencies")
    with runtime.unit_of_work() as uow:
        have = len(uow.audit.list_for_incident(incident_id, 500))
        moment = datetime.now(UTC)
        for n in range(max(0, events - have)):
            who = people[("dsl", "headteacher", "auditor")[n % 3]]
            moment += timedelta(minutes=3 if n % 5 else 30)
            uow.audit.add(
                "incident.viewed",
                f"incident:{incident_id}",
                actor_id=who,
                school_id=world["school"],
                incident_id=incident_id,
                new_values={"via": "role", "break_glass": False},
                occurred_at=moment,
            )
        uow.commit()
    return incident_id


def run(backend: str, count: int, events: int, repeat: int) -> None:
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
                world = seed(runtime, count)
                app = create_app(settings, runtime=runtime)
                client = signed_in(app, runtime, world["people"]["auditor"])
                school = world["school"]
                for label, query in (
                    ("first page", ""),
                    ("status=open", "&status=open"),
                    ("route=immediate:adult_involved", "&route=immediate:adult_involved"),
                    ("overdue", "&overdue=true"),
                    ("q=<name in answers>", f"&q={MARKER.replace(' ', '+')}"),
                    ("q=<reference>", "&q=DS-2000-04242"),
                    ("page 40", "&page=40"),
                ):
                    ms = timed(lambda q=query: client.get(f"/incidents?school={school}{q}"), repeat)
                    print(f"  list {label:34} {ms:8.1f} ms")
                incident_id = history_incident(runtime, world, events)
                for label, path in (
                    ("incident page", ""),
                    ("history page", "/history"),
                    ("history JSON export", "/history?format=json"),
                    ("record PDF", "/record.pdf"),
                ):
                    ms = timed(lambda p=path: client.get(f"/incidents/{incident_id}{p}"), repeat)
                    print(f"  {events} events: {label:26} {ms:8.1f} ms")
            finally:
                runtime.close()


def main() -> None:
    """Parse the options and run each backend."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    for backend in options.backends.split(","):
        run(backend.strip(), options.incidents, options.events, options.repeat)


if __name__ == "__main__":
    main()
