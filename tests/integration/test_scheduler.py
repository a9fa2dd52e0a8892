"""The timer scheduler on SQLite and PostgreSQL: due timers fire once, failures are visible.

These tests run on a database of their own (timers left due by other test modules would be
fired here otherwise), and each starts with no timer waiting.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from services.bootstrap import Runtime
from services.config import Settings
from services.db import SqlAlchemyUnitOfWork, make_engine, make_session_factory, upgrade_database
from services.db.models import AuditEvent, Incident
from services.domain.bus import MessageBus, bootstrap
from services.domain.clock import FixedClock
from services.domain.commands import StartIncident
from services.domain.results import Deployed
from services.scheduling.calendars import school_calendars
from services.scheduling.running import start_in_process_scheduler
from services.scheduling.scheduler import TIMER_FAILED, Round, Scheduler, SchedulerOptions
from tests.integration.conftest import empty_database
from tests.integration.service_fixtures import (
    People,
    deployed,
    disclosure_data,
    incident_row,
    people,
    ready_tasks,
)

__all__ = ["deployed", "people"]  # fixtures used by name

LONDON = ZoneInfo("Europe/London")
FRIDAY = datetime(2026, 9, 11, 10, 0, tzinfo=LONDON).astimezone(UTC)
MONDAY = FRIDAY + timedelta(days=3)  # one school day after FRIDAY, same time of day
ESCALATION = "escalate_overdue_review"
FIRED = "incident.timers_fired"
SAFEGUARD = Path(sys.executable).parent / "safeguard"


@pytest.fixture(scope="module")
def engine(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A migrated database for this module alone."""
    with empty_database(backend, tmp_path_factory.mktemp(f"scheduler-{backend}")) as url:
        upgrade_database(url)
        engine = make_engine(url)
        yield engine
        engine.dispose()


@pytest.fixture(scope="module")
def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions on this module's database."""
    return make_session_factory(engine)


@pytest.fixture(autouse=True)
def no_timer_waiting(session_factory: sessionmaker[Session]) -> None:
    """Every test starts with no due timer left by the one before."""
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        uow.session.execute(update(Incident).values(next_timer_at=None))
        uow.commit()


@pytest.fixture
def clock() -> FixedClock:
    """Friday morning in London."""
    return FixedClock(FRIDAY)


@pytest.fixture
def bus(session_factory: sessionmaker[Session], clock: FixedClock) -> MessageBus:
    """The bus as production builds it: the fixed clock and the school-day calendar."""
    return bootstrap(session_factory, clock=clock, calendar=school_calendars())


@pytest.fixture
def scheduler(engine: Engine, bus: MessageBus) -> Scheduler:
    """A scheduler on the test database, polling every 5 s (no test waits for that)."""
    return Scheduler(engine, bus.dependencies, SchedulerOptions(poll_seconds=5.0))


def start(bus: MessageBus, people: People) -> str:
    """Report a concern at the clock's time; return the incident id."""
    outcome = bus.handle(StartIncident(people.school_id, people.reporter, disclosure_data("X")))
    assert outcome.incident_id is not None
    return outcome.incident_id


def actions(
    session_factory: sessionmaker[Session], incident_id: str, action: str
) -> list[dict[str, Any]]:
    """The new_values of an incident's audit events of one kind, in order."""
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        query = (
            select(AuditEvent.new_values)
            .where(AuditEvent.incident_id == incident_id, AuditEvent.action == action)
            .order_by(AuditEvent.id)
        )
        return [values or {} for values in uow.session.scalars(query)]


def escalations(session_factory: sessionmaker[Session], incident_id: str) -> int:
    """How many escalation tasks the incident has ready."""
    return sum(t.bpmn_id == ESCALATION for t in ready_tasks(session_factory, incident_id))


def test_a_timer_due_while_the_scheduler_was_down_fires_exactly_once(
    scheduler: Scheduler,
    bus: MessageBus,
    clock: FixedClock,
    deployed: Deployed,
    people: People,
    session_factory: sessionmaker[Session],
) -> None:
    incident_id = start(bus, people)
    # Reported on a Friday: the review escalates after one school day, on Monday.
    assert incident_row(session_factory, incident_id).next_timer_at == MONDAY

    clock.set(FRIDAY + timedelta(days=1, hours=2))  # Saturday: a calendar day has passed
    assert scheduler.run_once().attempted == 0
    assert escalations(session_factory, incident_id) == 0

    clock.set(MONDAY + timedelta(days=1))  # the scheduler was down all Monday
    first = scheduler.run_once()

    assert first.fired == [incident_id] and first.failed == first.skipped == []
    assert escalations(session_factory, incident_id) == 1
    assert len(actions(session_factory, incident_id, FIRED)) == 1
    assert incident_row(session_factory, incident_id).next_timer_at is None

    again = scheduler.run_once()
    assert again.attempted == 0
    assert escalations(session_factory, incident_id) == 1
    assert len(actions(session_factory, incident_id, FIRED)) == 1


def test_two_schedulers_at_once_fire_each_due_timer_exactly_once(
    engine: Engine,
    bus: MessageBus,
    clock: FixedClock,
    deployed: Deployed,
    people: People,
    session_factory: sessionmaker[Session],
    backend: str,
) -> None:
    incidents = [start(bus, people) for _ in range(8)]
    clock.set(MONDAY + timedelta(hours=1))
    schedulers = [Scheduler(engine, bus.dependencies) for _ in range(2)]
    barrier = threading.Barrier(len(schedulers))
    rounds: list[Round] = []
    errors: list[BaseException] = []

    def run(scheduler: Scheduler) -> None:
        try:
            barrier.wait(timeout=10)
            rounds.append(scheduler.run_once())
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(s,)) for s in schedulers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sorted({i for r in rounds for i in r.fired}) == sorted(incidents)
    assert all(r.failed == [] for r in rounds)
    for incident_id in incidents:
        assert len(actions(session_factory, incident_id, FIRED)) == 1, incident_id
        assert escalations(session_factory, incident_id) == 1, incident_id
    if backend == "postgres":
        # Row locks: no incident was even handled by both.
        fired = [i for r in rounds for i in r.fired]
        assert len(fired) == len(set(fired)) == len(incidents)


def test_a_claimed_incident_is_skipped_by_another_scheduler_on_postgresql(
    bus: MessageBus,
    clock: FixedClock,
    deployed: Deployed,
    people: People,
    session_factory: sessionmaker[Session],
    backend: str,
) -> None:
    incident_id = start(bus, people)
    with (
        SqlAlchemyUnitOfWork(session_factory) as first,
        SqlAlchemyUnitOfWork(session_factory) as second,
    ):
        assert first.incidents.claim_due(MONDAY, 10) == [incident_id]
        seen_by_second = second.incidents.claim_due(MONDAY, 10)
        before_it_is_due = second.incidents.claim_due(MONDAY - timedelta(seconds=1), 10)
    # PostgreSQL skips the locked row; SQLite has no row locks (one scheduler is its
    # topology, and the version check still stops a second write).
    assert seen_by_second == ([] if backend == "postgres" else [incident_id])
    assert before_it_is_due == []


def test_a_failing_incident_does_not_block_another_and_is_audited(
    engine: Engine,
    scheduler: Scheduler,
    bus: MessageBus,
    clock: FixedClock,
    deployed: Deployed,
    people: People,
    session_factory: sessionmaker[Session],
) -> None:
    broken = start(bus, people)
    clock.advance(timedelta(minutes=1))
    healthy = start(bus, people)
    with SqlAlchemyUnitOfWork(session_factory) as uow:  # the most overdue one cannot be read
        uow.session.execute(update(Incident).where(Incident.id == broken).values(state="{"))
        uow.commit()
    now = MONDAY + timedelta(hours=1)
    clock.set(now)

    first = scheduler.run_once()

    assert (first.failed, first.fired) == ([broken], [healthy])
    assert escalations(session_factory, healthy) == 1
    (failure,) = actions(session_factory, broken, TIMER_FAILED)
    assert failure["attempt"] == 1
    assert failure["error"].startswith("StateUnreadable: ")
    retry_at = now + timedelta(minutes=1)
    assert failure["next_timer_at"] == retry_at.isoformat()
    assert incident_row(session_factory, broken).next_timer_at == retry_at

    # Backed off: not tried again before its time, and the loop sleeps until then.
    assert scheduler.run_once().attempted == 0
    patient = Scheduler(engine, bus.dependencies, SchedulerOptions(poll_seconds=600))
    assert patient.seconds_until_next_round(Round(now)) == pytest.approx(60.0)
    clock.set(retry_at)
    second = scheduler.run_once()
    assert second.failed == [broken]
    failures = actions(session_factory, broken, TIMER_FAILED)
    assert [f["attempt"] for f in failures] == [1, 2]
    assert failures[1]["next_timer_at"] == (retry_at + timedelta(minutes=2)).isoformat()
    assert len(actions(session_factory, healthy, FIRED)) == 1


def test_the_scheduler_sleeps_until_the_next_timer_but_no_longer_than_its_poll(
    scheduler: Scheduler,
    bus: MessageBus,
    clock: FixedClock,
    deployed: Deployed,
    people: People,
) -> None:
    idle = Round(clock.now())
    assert scheduler.seconds_until_next_round(idle) == 5.0  # no timer waits at all
    start(bus, people)  # due on MONDAY
    clock.set(MONDAY - timedelta(hours=1))
    assert scheduler.seconds_until_next_round(idle) == 5.0
    clock.set(MONDAY - timedelta(seconds=2))
    assert scheduler.seconds_until_next_round(idle) == pytest.approx(2.0)
    full = Round(clock.now(), fired=["x"] * scheduler.options.batch_size)
    assert scheduler.seconds_until_next_round(full) == 0.0  # a backlog: go on at once


def test_the_in_process_scheduler_fires_in_the_background_and_stops_cleanly(
    engine: Engine,
    session_factory: sessionmaker[Session],
    bus: MessageBus,
    clock: FixedClock,
    deployed: Deployed,
    people: People,
) -> None:
    incident_id = start(bus, people)
    settings = Settings.from_env({"SAFEGUARD_DATABASE_URL": str(engine.url)})
    runtime = Runtime(settings, engine, session_factory, clock, bus)
    running = start_in_process_scheduler(runtime, interval=0.05)
    try:
        time.sleep(0.2)
        assert escalations(session_factory, incident_id) == 0  # not due yet
        clock.set(MONDAY)
        deadline = time.monotonic() + 90  # a hang guard only
        while escalations(session_factory, incident_id) == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        assert running.stop(timeout=90), "the scheduler thread did not stop"
    assert escalations(session_factory, incident_id) == 1
    assert len(actions(session_factory, incident_id, FIRED)) == 1


# --- the command ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated SQLite file for the command-line tests."""
    url = f"sqlite:///{tmp_path_factory.mktemp('scheduler-cli') / 'safeguard.db'}"
    upgrade_database(url)
    return url


def _env(url: str) -> dict[str, str]:
    return {**os.environ, "SAFEGUARD_DATABASE_URL": url}


def test_the_command_runs_one_round(sqlite_url: str) -> None:
    result = subprocess.run(
        [str(SAFEGUARD), "scheduler", "--once"],
        env=_env(sqlite_url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "Fired 0, failed 0, skipped 0 incident(s)." in result.stdout


def test_the_command_stops_cleanly_on_sigterm(sqlite_url: str) -> None:
    process = subprocess.Popen(
        [str(SAFEGUARD), "scheduler", "--poll-seconds", "0.1"],
        env=_env(sqlite_url),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        started = process.stderr.readline()
        assert "scheduler started" in started, started
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, rest
    assert "SIGTERM received: stopping" in rest and "scheduler stopped" in rest
