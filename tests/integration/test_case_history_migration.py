"""Migration 0011 on a database with incidents: past completions are copied from the audit trail.

Runs on SQLite and PostgreSQL (`empty_db_url`).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from services.db import SqlAlchemyUnitOfWork, make_engine, make_session_factory, upgrade_database
from services.db.migrate import downgrade_database
from services.db.models import CaseAnswer, IncidentCaseFacts
from services.domain.bus import MessageBus, bootstrap
from services.domain.clock import FixedClock
from services.domain.commands import DeployDefinitions
from tests.integration.case_helpers import run_steps, start_scenario
from tests.integration.service_fixtures import default_bundle

START = datetime(2026, 9, 7, 9, tzinfo=UTC)


class _Runtime:
    """What case_helpers needs of a runtime: its bus."""

    def __init__(self, bus: MessageBus) -> None:
        self.bus = bus


def test_the_migration_copies_past_completions_and_downgrades_cleanly(empty_db_url: str) -> None:
    upgrade_database(empty_db_url)
    engine = make_engine(empty_db_url)
    factory = make_session_factory(engine)
    bus = bootstrap(factory, clock=FixedClock(START))
    bus.handle(DeployDefinitions(default_bundle(), None))
    with SqlAlchemyUnitOfWork(factory) as uow:
        school = uow.schools.add("Migration School", f"m-{secrets.token_hex(3)}").id
        people = {}
        for role in ("staff", "dsl", "headteacher"):
            user = uow.users.add(f"{role}-{secrets.token_hex(3)}@m.test", role, "x")
            uow.users.grant(user.id, school, role)
            people[role] = user.id
        uow.commit()

    runtime: Any = _Runtime(bus)
    incident_id = start_scenario(runtime, school, people["staff"], "s2.json")
    run_steps(runtime, incident_id, "s2.json", people, until="refer_to_agencies")
    with SqlAlchemyUnitOfWork(factory) as uow:
        before = [
            (a.task_id, a.bpmn_id, a.lane, a.actor_id, a.answers)
            for a in uow.session.scalars(select(CaseAnswer).order_by(CaseAnswer.id))
        ]
        facts = uow.session.get(IncidentCaseFacts, incident_id)
        assert facts is not None and facts.immediate_referral is True
        assert facts.referral_criteria == ",adult_involved,"
    assert [b[1] for b in before] == ["record_disclosure", "initial_review"]
    engine.dispose()

    downgrade_database(empty_db_url, "0010")  # the tables go, the audit trail stays
    upgrade_database(empty_db_url)  # and the completions come back from it

    with SqlAlchemyUnitOfWork(factory) as uow:
        after = [
            (a.task_id, a.bpmn_id, a.lane, a.actor_id, a.answers)
            for a in uow.session.scalars(select(CaseAnswer).order_by(CaseAnswer.id))
        ]
    engine.dispose()
    assert after == before
