"""A command on a task that waited for the incident's lock reads what the lock's holder wrote."""

# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends
from __future__ import annotations

import threading

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from services.db.models import IncidentExclusion
from services.db.repositories.incidents import IncidentRepository, TaskIncident
from services.domain.bus import MessageBus
from services.domain.commands import StartIncident
from services.domain.results import Deployed
from tests.integration.messaging_fixtures import wait_until
from tests.integration.service_fixtures import (  # noqa: F401
    People,
    bus,
    clock,
    deployed,
    disclosure_data,
    people,
    ready_tasks,
)


def test_a_lock_that_waited_sees_an_exclusion_its_holder_committed(
    backend: str,
    bus: MessageBus,
    people: People,
    deployed: Deployed,
    session_factory: sessionmaker[Session],
) -> None:
    if backend != "postgres":
        pytest.skip("row locks are PostgreSQL's: SQLite takes one write lock at the first write")
    outcome = bus.handle(StartIncident(people.school_id, people.reporter, disclosure_data("x")))
    assert outcome.incident_id is not None
    (task,) = ready_tasks(session_factory, outcome.incident_id)
    holder, waiter = session_factory(), session_factory()
    found: list[TaskIncident | None] = []
    try:
        IncidentRepository(holder).lock_for_task(task.id, people.dsl)
        reader = threading.Thread(
            target=lambda: found.append(
                IncidentRepository(waiter).lock_for_task(task.id, people.dsl)
            )
        )
        reader.start()
        with session_factory() as probe:
            # The holder commits only once the reader waits for its lock.
            waiting = text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE 'SELECT incidents.%'"
            )

            def reader_waits() -> bool:
                found = bool(probe.execute(waiting).scalar())
                # pg_stat_activity is read once per transaction: end it, or the next look
                # sees the same snapshot (taken, on a busy machine, before the reader waited).
                probe.rollback()
                return found

            wait_until(reader_waits, 10, "the lock wait")
        holder.add(
            IncidentExclusion(
                incident_id=outcome.incident_id,
                user_id=people.dsl,
                reason="a relative of the child",
                created_by=people.head,
            )
        )
        holder.commit()
        reader.join()
    finally:
        holder.close()
        waiter.rollback()
        waiter.close()
    (seen,) = found
    assert seen is not None and seen.is_excluded  # not the standing from before the wait
