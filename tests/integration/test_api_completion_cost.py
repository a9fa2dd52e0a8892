"""What one API task completion costs in SQL, and how often a token's last use is written.

Counts statements, never time: a regression that adds a query per request fails here on any
machine. Runs on SQLite and PostgreSQL (the `db_url` fixture).
"""

# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, select, update
from sqlalchemy.pool import QueuePool

from services.bootstrap import Runtime
from services.db.engine import ping_idle_connections
from services.db.models import ApiToken, AuditEvent
from services.db.repositories.accounts import hash_token
from services.domain.clock import FixedClock
from services.web.auth.tokens import LAST_USED_RESOLUTION, last_use_due
from tests.integration.sql_statements import statements
from tests.integration.test_api import (  # noqa: F401  # `world` is a fixture
    S1,
    World,
    call,
    form_spec,
    start,
    view,
    world,
)
from tests.integration.web_fixtures import (  # noqa: F401  # fixtures, found by name
    app,
    client,
    clock,
    make_user,
    web_runtime,
    web_settings,
)
from workflow.formdata import placeholder_data

# One completion of the DSL's initial review, statement by statement (PostgreSQL 16 on
# 2026-12-03; SQLite 17: it adds BEGIN IMMEDIATE and sends the two outbox rows as two INSERTs):
#   auth 1 (token + user + memberships) | PostgreSQL: the row lock 1 | the task's incident with
#   the user's roles, exclusion, involvement, its case facts and whether it has external
#   tasks 1 | ready tasks 1 |
#   audit chain 2 (claim the head with the ids, set its hash) | writes ~8 (incident, audit,
#   outbox, answers, facts, tasks, steps) | report row 2 (one SELECT, the upsert).
# Before, a completion ran 20 (22 on SQLite); before that 26 (28) and PostgreSQL pinged twice.
MOST_STATEMENTS = 18  # a little room: fail on a new query per request, not on one
_NOT_AGAIN = (  # read by the lock, or folded into another statement
    "SELECT external_tasks",
    "SELECT incident_case_facts",
    "SELECT chain",
    "SELECT nextval",
    "SELECT coalesce(max(id)",
    "SELECT human_tasks.incident_id",
    "SELECT case_answers",
)
_LOADED_ALREADY = (
    "SELECT api_tokens",
    "SELECT users",
    "SELECT memberships",
    "SELECT incidents",
    "SELECT human_tasks",
    "SELECT incident_exclusions",
)


def _review(client: FlaskClient, world: World) -> tuple[str, dict[str, Any]]:
    incident_id = start(client, world)["incident"]["id"]
    incident = view(client, incident_id, world.own["dsl"])
    (task,) = incident["ready_tasks"]
    values = placeholder_data(form_spec(task["form"]), S1[1]["data"])
    return task["id"], {"values": values, "expected_incident_version": incident["version"]}


def test_one_completion_runs_a_bounded_number_of_statements(
    client: FlaskClient, world: World, web_runtime: Runtime
) -> None:
    task_id, body = _review(client, world)
    dsl = world.own["dsl"]
    with statements(web_runtime.engine) as seen:
        response = call(client, "POST", f"/tasks/{task_id}/complete", dsl, body)
    assert response.status_code == 200, response.get_json()
    listing = "\n".join(s[:120] for s in seen)
    if web_runtime.engine.dialect.name == "postgresql":
        # The row lock comes first, alone, so the read after it sees what its holder wrote.
        row_lock = seen.pop(1)
        assert row_lock.startswith("SELECT incidents.id FROM incidents"), listing
        assert row_lock.endswith("FOR UPDATE OF incidents"), listing
    token, lock, ready = seen[:3]
    assert token.startswith("SELECT api_tokens.") and "JOIN users" in token, listing
    assert "memberships" in token, listing  # the roles come with the token, not after it
    assert lock.startswith("SELECT incidents.") and "human_tasks" in lock, listing
    assert "incident_exclusions" in lock and "memberships" in lock, listing
    assert ready.startswith("SELECT human_tasks."), listing
    first_write = next(i for i, s in enumerate(seen) if not s.startswith("SELECT"))
    again = [s for s in seen[3:first_write] if s.startswith(_LOADED_ALREADY)]
    assert not again, listing  # nothing the first three statements read is read twice
    folded = [s for s in seen if s.startswith(_NOT_AGAIN)]
    assert not folded, listing
    assert sum(s.startswith("UPDATE audit_chain_heads") for s in seen) == 2, listing
    assert sum(s.startswith("SELECT") for s in seen[first_write:]) == 1, listing  # report row
    assert len(seen) <= MOST_STATEMENTS, f"{len(seen)} statements:\n{listing}"
    with web_runtime.unit_of_work() as uow:
        audited = uow.session.scalars(
            select(AuditEvent.action).where(AuditEvent.actor_id == dsl.id)
        ).all()
    assert "task.completed" in audited  # fewer statements, the same audit trail


def test_a_completion_by_someone_of_another_school_finds_no_task(
    client: FlaskClient, world: World
) -> None:
    task_id, body = _review(client, world)
    stranger = world.other["dsl"]  # a DSL of another school: the task must not exist for them
    response = call(client, "POST", f"/tasks/{task_id}/complete", stranger, body)
    error = response.get_json()["error"]
    assert (response.status_code, error["message"]) == (404, f"task {task_id} not found")


def _last_used(runtime: Runtime, token: str) -> datetime | None:
    with runtime.unit_of_work() as uow:
        return uow.session.scalar(
            select(ApiToken.last_used_at).where(ApiToken.token_hash == hash_token(token))
        )


def _aware(moment: datetime | None) -> datetime | None:
    # SQLite hands back naive UTC; PostgreSQL an aware time.
    return moment.replace(tzinfo=UTC) if moment and moment.tzinfo is None else moment


def test_a_tokens_last_use_is_written_at_most_once_a_minute(
    client: FlaskClient, world: World, web_runtime: Runtime, clock: FixedClock
) -> None:
    dsl = world.own["dsl"]
    first = clock.now()
    assert call(client, "GET", "/tasks", dsl).status_code == 200
    assert _aware(_last_used(web_runtime, dsl.token)) == first
    clock.advance(LAST_USED_RESOLUTION - timedelta(seconds=1))
    with statements(web_runtime.engine) as seen:
        assert call(client, "GET", "/tasks", dsl).status_code == 200
    assert not [s for s in seen if "api_tokens" in s and not s.startswith("SELECT")]
    assert _aware(_last_used(web_runtime, dsl.token)) == first  # within the minute: unchanged
    later = clock.advance(timedelta(seconds=1))
    with statements(web_runtime.engine) as seen:
        assert call(client, "GET", "/tasks", dsl).status_code == 200
    assert [s for s in seen if s.startswith("UPDATE api_tokens")]
    assert _aware(_last_used(web_runtime, dsl.token)) == later  # a minute on: recorded


def test_a_refused_token_records_no_use(
    client: FlaskClient, world: World, web_runtime: Runtime, clock: FixedClock
) -> None:
    member = world.own["auditor"]
    with web_runtime.unit_of_work() as uow:
        uow.session.execute(
            update(ApiToken)
            .where(ApiToken.token_hash == hash_token(member.token))
            .values(revoked_at=clock.now())
        )
        uow.commit()
    assert call(client, "GET", "/tasks", member).status_code == 401
    assert _last_used(web_runtime, member.token) is None


@pytest.mark.parametrize(
    ("last_used", "now", "due"),
    [
        (None, 0, True),
        (0, 59, False),
        (0, 60, True),
        (30, 0, False),  # another worker wrote a moment later: no second write
        (60, 0, True),  # the clock went back a minute: record the earlier time
    ],
)
def test_last_use_is_due_once_per_resolution(last_used: int | None, now: int, due: bool) -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    used = None if last_used is None else base + timedelta(seconds=last_used)
    assert last_use_due(used, base + timedelta(seconds=now)) is due


def test_a_pooled_connection_is_pinged_only_after_sitting_idle(
    web_runtime: Runtime, db_url: str
) -> None:
    for idle_seconds, expect_pings in ((3600.0, 0), (0.0, 2)):
        engine = create_engine(db_url, poolclass=QueuePool)  # no listeners of make_engine's
        ping_idle_connections(engine, idle_seconds)
        pings: list[int] = []
        ping = engine.dialect.do_ping

        def counted(dbapi_connection: Any, ping: Any = ping, pings: list[int] = pings) -> bool:
            pings.append(1)
            return bool(ping(dbapi_connection))

        engine.dialect.do_ping = counted  # type: ignore[method-assign]
        try:
            for _ in range(3):  # a new connection is never pinged; the two reuses may be
                with engine.connect() as connection:
                    connection.exec_driver_sql("SELECT 1")
        finally:
            engine.dispose()
        assert len(pings) == expect_pings, idle_seconds
