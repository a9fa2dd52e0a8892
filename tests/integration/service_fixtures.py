"""Service-layer test fixtures: a school with its people, a bus, the default process deployed.

Import the fixtures into a test module (`from tests.integration.service_fixtures import ...`);
they build on the `session_factory` fixture of conftest.py, so they run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.db import SqlAlchemyUnitOfWork
from services.db.models import AuditEvent, HumanTask, Incident, OutboxMessage
from services.domain.bus import MessageBus, bootstrap
from services.domain.clock import FixedClock
from services.domain.commands import DeployDefinitions
from services.domain.results import Deployed
from workflow.model import SourceFile

BPMN_DIR = Path(__file__).resolve().parents[2] / "bpmn"
START = datetime(2026, 9, 7, 9, 0, tzinfo=UTC)  # a Monday morning


def default_bundle() -> list[SourceFile]:
    """The default UKCIS process and its decision tables, as uploaded files."""
    paths = [BPMN_DIR / "sharing-nudes-response.bpmn", *sorted(BPMN_DIR.glob("*.dmn"))]
    return [SourceFile(name=p.name, content=p.read_bytes()) for p in paths]


def default_bundle_again() -> list[SourceFile]:
    """The default bundle made new (a unique comment): deploying it makes it the latest again."""
    files = default_bundle()
    mark = f"\n<!-- the default again, {secrets.token_hex(4)} -->\n".encode()
    return [SourceFile(files[0].name, files[0].content + mark), *files[1:]]


def scenario_steps(name: str) -> list[dict[str, Any]]:
    """The steps of a scenario file in bpmn/scenarios."""
    scenario = json.loads((BPMN_DIR / "scenarios" / name).read_text(encoding="utf-8"))
    steps: list[dict[str, Any]] = scenario["steps"]
    return steps


def disclosure_data(marker: str) -> dict[str, Any]:
    """The S1 disclosure with `marker` (free text that must never leave the database) in it."""
    data = dict(scenario_steps("s1.json")[0]["data"])
    data["what_was_said"] = f"{marker} told their form tutor they had exchanged images."
    return data


@dataclass(frozen=True)
class People:
    """A fresh school and the people in it (ids), plus a DSL of another school."""

    school_id: int
    reporter: int  # staff
    dsl: int
    deputy: int  # a second DSL
    head: int
    auditor: int
    staff: int  # staff with nothing to do with the incident
    admin: int
    outsider: int  # DSL of another school
    other_school_id: int


def make_people(session_factory: sessionmaker[Session]) -> People:
    """Create two schools and their people; return the ids."""
    tag = secrets.token_hex(4)
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        school = uow.schools.add(f"School {tag}", f"school-{tag}")
        other = uow.schools.add(f"Other {tag}", f"other-{tag}")

        def person(name: str, school_id: int, *roles: str) -> int:
            user = uow.users.add(f"{name}-{tag}@school.example", name.title(), "hash")
            for role in roles:
                uow.users.grant(user.id, school_id, role)
            return user.id

        people = People(
            school_id=school.id,
            reporter=person("reporter", school.id, "staff"),
            dsl=person("dsl", school.id, "staff", "dsl"),
            deputy=person("deputy", school.id, "staff", "dsl"),
            head=person("head", school.id, "staff", "headteacher"),
            auditor=person("auditor", school.id, "auditor"),
            staff=person("staff", school.id, "staff"),
            admin=person("admin", school.id, "admin"),
            outsider=person("outsider", other.id, "staff", "dsl"),
            other_school_id=other.id,
        )
        uow.commit()
    return people


@pytest.fixture
def people(session_factory: sessionmaker[Session]) -> People:
    """A fresh school with its people."""
    return make_people(session_factory)


@pytest.fixture
def clock() -> FixedClock:
    """The clock handlers read, fixed at a Monday morning; tests move it."""
    return FixedClock(START)


@pytest.fixture
def bus(session_factory: sessionmaker[Session], clock: FixedClock) -> MessageBus:
    """A bus on the test database with the fixed clock."""
    return bootstrap(session_factory, clock=clock)


@pytest.fixture
def deployed(bus: MessageBus) -> Deployed:
    """The default process, deployed (again: the same files give the same version)."""
    return bus.handle(DeployDefinitions(default_bundle(), None))


@dataclass(frozen=True)
class Snapshot:
    """Everything a command on an incident may write, to prove a failed one wrote nothing."""

    version: int
    state: str
    status: str
    tasks: list[tuple[str, str, str, int | None, int | None]]
    audit_ids: list[int]
    outbox_ids: list[int]


def snapshot(session_factory: sessionmaker[Session], incident_id: str) -> Snapshot:
    """Read the incident, its tasks, its audit events and its school's outbox rows."""
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        incident = uow.incidents.get(incident_id)
        assert incident is not None
        tasks = uow.session.scalars(
            select(HumanTask).where(HumanTask.incident_id == incident_id).order_by(HumanTask.id)
        )
        audit = uow.session.scalars(
            select(AuditEvent.id).where(AuditEvent.incident_id == incident_id)
        )
        return Snapshot(
            version=incident.version_id,
            state=incident.state,
            status=incident.status,
            tasks=[(t.id, t.bpmn_id, t.state, t.assignee_id, t.completed_by) for t in tasks],
            audit_ids=sorted(audit),
            outbox_ids=sorted(m.id for m in outbox_of(session_factory, incident.school_id)),
        )


def outbox_of(session_factory: sessionmaker[Session], school_id: int) -> list[OutboxMessage]:
    """A school's outbox rows, in the order they were written."""
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        query = (
            select(OutboxMessage)
            .where(OutboxMessage.routing_key.startswith(f"school.{school_id}."))
            .order_by(OutboxMessage.id)
        )
        return list(uow.session.scalars(query))


def audit_of(session_factory: sessionmaker[Session], incident_id: str) -> list[AuditEvent]:
    """An incident's audit events, in order."""
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        return uow.audit.list_for_incident(incident_id, 500)


def ready_tasks(session_factory: sessionmaker[Session], incident_id: str) -> list[HumanTask]:
    """An incident's ready task rows."""
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        return uow.tasks.for_incident(incident_id, state="ready")


def the_ready(session_factory: sessionmaker[Session], incident_id: str, bpmn_id: str) -> HumanTask:
    """The one ready task of this type; fails naming what is ready instead."""
    rows = [r for r in ready_tasks(session_factory, incident_id) if r.bpmn_id == bpmn_id]
    ready = [r.bpmn_id for r in ready_tasks(session_factory, incident_id)]
    assert len(rows) == 1, f"{bpmn_id} is not ready once; ready: {ready}"
    return rows[0]


def incident_row(session_factory: sessionmaker[Session], incident_id: str) -> Incident:
    """The incident (detached, state loaded)."""
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        incident = uow.incidents.get(incident_id)
        assert incident is not None
        return incident
