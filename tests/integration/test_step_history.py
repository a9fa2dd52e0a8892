"""Completed steps live in `completed_steps` once the engine state drops them (issue 7).

Each command stores the pruned state and the steps pruning released in one transaction; the
history readers merge both. Migration 0014's downgrade puts the steps back into the states,
where older code reads them. Runs on SQLite and PostgreSQL (`empty_db_url`).
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from services.db import SqlAlchemyUnitOfWork, make_engine, make_session_factory, upgrade_database
from services.db.migrate import downgrade_database
from services.db.models import Incident, StepRecord
from services.domain.bus import MessageBus, bootstrap
from services.domain.clock import FixedClock
from services.domain.commands import DeployDefinitions
from services.domain.history_steps import incident_steps
from tests.integration.case_helpers import run_steps, start_scenario
from tests.integration.service_fixtures import default_bundle
from workflow import engine

START = datetime(2026, 9, 7, 9, tzinfo=UTC)


class _Runtime:
    """What case_helpers needs of a runtime: its bus."""

    def __init__(self, bus: MessageBus) -> None:
        self.bus = bus


def _history(factory: Any, bus: MessageBus, incident_id: str) -> tuple[list[Any], list[Any], str]:
    with SqlAlchemyUnitOfWork(factory) as uow:
        incident = uow.session.get(Incident, incident_id)
        assert incident is not None
        definition = bus.dependencies.definitions.get(uow, incident.definition_version_id)
        merged = incident_steps(uow, definition, incident)
        in_state = engine.completed_steps(definition, incident.state)
        rows = uow.session.scalar(
            select(func.count())
            .select_from(StepRecord)
            .where(StepRecord.incident_id == incident_id)
        )
        shape = [(s.id, s.bpmn_id, s.data, s.actor, s.completed_at, s.sequence) for s in merged]
        assert rows == len(merged) - len(in_state)
        return shape, [s.id for s in in_state], incident.state


def test_pruned_steps_are_stored_read_back_in_order_and_put_back_on_downgrade(
    empty_db_url: str,
) -> None:
    upgrade_database(empty_db_url)
    db = make_engine(empty_db_url)
    factory = make_session_factory(db)
    bus = bootstrap(factory, clock=FixedClock(START))
    bus.handle(DeployDefinitions(default_bundle(), None))
    with SqlAlchemyUnitOfWork(factory) as uow:
        school = uow.schools.add("Step School", f"st-{secrets.token_hex(3)}").id
        people = {}
        for role in ("staff", "dsl", "headteacher"):
            user = uow.users.add(f"{role}-{secrets.token_hex(3)}@st.test", role, "x")
            uow.users.grant(user.id, school, role)
            people[role] = user.id
        uow.commit()

    runtime: Any = _Runtime(bus)
    incident_id = start_scenario(runtime, school, people["staff"], "s1.json")
    run_steps(runtime, incident_id, "s1.json", people)
    merged, in_state, state = _history(factory, bus, incident_id)
    assert [step[5] for step in merged] == list(range(1, len(merged) + 1))  # none lost, none twice
    assert len(merged) >= 5 and len(in_state) < len(merged)  # most now live in the table
    assert merged[0][1] == "record_disclosure" and merged[0][3] == str(people["staff"])
    db.dispose()

    downgrade_database(empty_db_url, "0013")
    with SqlAlchemyUnitOfWork(factory) as uow:
        incident = uow.session.get(Incident, incident_id)
        assert incident is not None
        definition = bus.dependencies.definitions.get(uow, incident.definition_version_id)
        back = engine.completed_steps(definition, incident.state)  # as older code reads it
        assert len(incident.state) > len(state)
        json.loads(incident.state)
    db.dispose()
    assert [(s.id, s.bpmn_id, s.data, s.actor, s.completed_at, s.sequence) for s in back] == merged

    upgrade_database(empty_db_url)
    assert _history(factory, bus, incident_id)[0] == merged  # the state holds them again
    db.dispose()
