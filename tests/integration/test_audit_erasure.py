"""Erasure under retention: deleting an incident leaves no trace of its child or answers in any
table, the audit chain still verifies (the tombstone seals what was erased), tampering with
an erased row, a digest or the seal is still found, a legal hold blocks it all, and on
PostgreSQL the app's role can erase only a deleted incident's payloads, and only through the
SECURITY DEFINER function.
"""

# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends

from __future__ import annotations

import json as jsonlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, inspect, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from services.db import SqlAlchemyUnitOfWork, make_engine, make_session_factory, upgrade_database
from services.db.audit_erasure import erasable_rows
from services.db.column_types import utcnow
from services.db.models import AuditEvent
from services.domain.audit_chain import Verification
from services.domain.audit_erasure import ERASED_COUNT, ERASED_SEAL, erasure_values
from services.domain.audit_verification import verify_audit_trail
from services.domain.bus import MessageBus
from services.domain.bus import bootstrap as bootstrap_bus
from services.domain.children.messages import (
    AddParty,
    DeleteIncident,
    NameChild,
    ReadChronology,
    SetLegalHold,
)
from services.domain.clock import FixedClock
from services.domain.commands import CompleteTask, DeployDefinitions, StartIncident
from services.domain.errors import Conflict
from services.domain.queries import ViewIncident
from tests.integration.conftest import empty_database
from tests.integration.service_fixtures import (  # noqa: F401
    START,
    People,
    clock,
    default_bundle,
    disclosure_data,
    make_people,
    scenario_steps,
)
from tests.integration.test_audit_tamper import as_attacker, roles_and_schema, run_cli
from workflow.formdata import placeholder_data

EVENTS = AuditEvent.__table__


@pytest.fixture(scope="module")
def erasure_db(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A database of this module's own: its tampering never reaches other tests' chains."""
    with empty_database(backend, tmp_path_factory.mktemp(f"erasure-{backend}")) as url:
        upgrade_database(url)
        engine = make_engine(url)
        yield engine
        engine.dispose()


@pytest.fixture(scope="module")
def session_factory(erasure_db: Engine) -> sessionmaker[Session]:
    """Sessions on the module's database (the service fixtures use this one)."""
    return make_session_factory(erasure_db)


@pytest.fixture
def people(session_factory: sessionmaker[Session]) -> People:
    """A fresh school with its people."""
    return make_people(session_factory)


@pytest.fixture
def bus(session_factory: sessionmaker[Session], clock: FixedClock) -> MessageBus:
    """A bus on the module's database with the fixed clock, the default process deployed."""
    bus = bootstrap_bus(session_factory, clock=clock)
    bus.handle(DeployDefinitions(default_bundle(), None))
    return bus


def verify(factory: sessionmaker[Session], school_id: int | None) -> Verification:
    """Run the verification as `safeguard audit verify [--school]` does."""
    verification, _record = verify_audit_trail(
        lambda: SqlAlchemyUnitOfWork(factory), school_id=school_id, ran_by="test", now=utcnow
    )
    return verification


def a_full_incident(bus: MessageBus, people: People, clock: FixedClock) -> tuple[str, str, str]:
    """An incident run to its end with a named child (born long ago: due for review).

    Returns its id, the child's name and a marker that appears in its answers and notes.
    """
    tag = secrets.token_hex(6)
    name, marker = f"Zebedee{tag} Quill", f"Marker{tag}"
    incident_id = bus.handle(
        StartIncident(people.school_id, people.reporter, disclosure_data(f"{marker} {name}"))
    ).incident_id
    assert incident_id is not None
    child_id = bus.handle(
        NameChild(incident_id, people.dsl, "pictured", name=name, date_of_birth=date(1999, 3, 1))
    ).child_id
    bus.handle(AddParty(incident_id, people.dsl, f"{marker} uncle of {name}", "adult"))
    actor = {"dsl": people.dsl, "headteacher": people.head}
    for step in scenario_steps("s1.json")[1:4]:
        clock.advance(timedelta(minutes=30))
        view = bus.handle(ViewIncident(incident_id, people.dsl))
        ready = next(t for t in view.ready_tasks if t.task.bpmn_id == step["complete"])
        data = placeholder_data(ready.task.form, step["data"])
        for key, value in list(data.items()):
            if isinstance(value, str) and key.endswith(("reason", "notes", "summary")):
                data[key] = f"{marker} about {name}"
        bus.handle(CompleteTask(ready.task.id, actor[ready.task.lane], data, view.version))
    bus.handle(ReadChronology(child_id, people.dsl))
    return incident_id, name, marker


def traces(engine: Engine, *needles: str) -> list[str]:
    """Every table.column (and row) whose text holds any of the needles."""
    found = []
    with engine.connect() as connection:
        tables = inspect(connection).get_table_names()
        for table in tables:
            for row in connection.execute(text(f'SELECT * FROM "{table}"')):
                for column, value in row._mapping.items():
                    shown = value.decode("latin-1") if isinstance(value, bytes) else str(value)
                    if any(needle in shown for needle in needles):
                        found.append(f"{table}.{column}")
    return sorted(set(found))


def incident_rows(engine: Engine, incident_id: str) -> list[dict[str, Any]]:
    """The incident's audit rows, every column, in id order."""
    with engine.connect() as connection:
        query = select(EVENTS).where(EVENTS.c.incident_id == incident_id).order_by(EVENTS.c.id)
        return [dict(row._mapping) for row in connection.execute(query)]


def test_deletion_leaves_no_trace_of_the_child_or_answers_and_the_chain_verifies(
    bus: MessageBus,
    people: People,
    clock: FixedClock,
    session_factory: sessionmaker[Session],
    erasure_db: Engine,
    tmp_path: Path,
) -> None:
    incident_id, name, marker = a_full_incident(bus, people, clock)
    _kept, kept_name, kept_marker = a_full_incident(bus, people, clock)
    before = traces(erasure_db, name, marker)
    assert "audit_events.new_values" in before and "case_answers.answers" in before, before

    reference = bus.handle(DeleteIncident(incident_id, people.dsl, "reviewed at 25 years"))

    assert traces(erasure_db, name, marker) == []
    assert "audit_events.new_values" in traces(erasure_db, kept_name, kept_marker)
    *erased, tombstone = incident_rows(erasure_db, incident_id)
    assert tombstone["action"] == "incident.deleted" and tombstone["payload_erased_by"] is None
    assert tombstone["actor_id"] == people.dsl and tombstone["reason"] == "reviewed at 25 years"
    assert tombstone["old_values"] == {"reference": reference}
    assert tombstone["new_values"][ERASED_COUNT] == len(erased) > 10
    assert set(tombstone["new_values"]) == {"children_removed", ERASED_COUNT, ERASED_SEAL}
    for row in erased:
        assert row["payload_erased_by"] == tombstone["id"], row
        assert (row["reason"], row["old_values"], row["new_values"], row["payload_salt"]) == (
            None,
            None,
            None,
            None,
        )
        assert row["payload_digest"] and row["action"] and row["target"]
    result = verify(session_factory, people.school_id)
    assert result.ok and result.erased >= len(erased), result.breaks
    env = {
        "SAFEGUARD_DATABASE_URL": erasure_db.url.render_as_string(hide_password=False),
        "SAFEGUARD_INSTANCE_DIR": str(tmp_path),
    }
    # This school's chain: the module's tampering tests break others.
    cli = run_cli("audit", "verify", "--school", str(people.school_id), env=env)
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert f"Audit trail verified (the chain of school {people.school_id})" in cli.stdout
    assert "had their payload erased when their incident was deleted" in cli.stdout


def test_a_legal_hold_blocks_deletion_and_erasure(
    bus: MessageBus,
    people: People,
    clock: FixedClock,
    session_factory: sessionmaker[Session],
    erasure_db: Engine,
) -> None:
    incident_id, name, _marker = a_full_incident(bus, people, clock)
    bus.handle(SetLegalHold(incident_id, people.dsl, True, "police investigation"))
    rows = incident_rows(erasure_db, incident_id)
    with pytest.raises(Conflict, match="legal hold"):
        bus.handle(DeleteIncident(incident_id, people.dsl, "reviewed"))
    assert incident_rows(erasure_db, incident_id) == rows
    assert "audit_events.new_values" in traces(erasure_db, name)


def test_the_database_refuses_erasing_a_live_incident_or_without_a_tombstone(
    bus: MessageBus, people: People, clock: FixedClock, erasure_db: Engine
) -> None:
    live, _name, _marker = a_full_incident(bus, people, clock)
    gone, _name, _marker = a_full_incident(bus, people, clock)
    bus.handle(DeleteIncident(gone, people.dsl, "reviewed"))
    [*_, tombstone] = incident_rows(erasure_db, gone)
    row = incident_rows(erasure_db, live)[0]
    erase = (
        "UPDATE audit_events SET reason = NULL, old_values = NULL, new_values = NULL, "
        "payload_salt = NULL, payload_erased_by = :t WHERE id = :i"
    )
    # The live incident's row under the deleted one's tombstone; a tombstone that is no event.
    for tombstone_id in (tombstone["id"], row["id"] + 10**9):
        with pytest.raises(IntegrityError, match="append-only"), erasure_db.begin() as c:
            c.execute(text(erase), {"t": tombstone_id, "i": row["id"]})
    # Erasing more than the payload, or changing an erased row, is refused too.
    erased = incident_rows(erasure_db, gone)[0]
    for statement in (
        "UPDATE audit_events SET action = 'x' WHERE id = :i",
        "UPDATE audit_events SET payload_erased_by = NULL WHERE id = :i",
    ):
        with pytest.raises(IntegrityError, match="append-only"), erasure_db.begin() as c:
            c.execute(text(statement), {"i": erased["id"]})
    assert incident_rows(erasure_db, live)[0] == row


def tamper_action(connection: Any, erased: dict[str, Any], _tombstone: dict[str, Any]) -> str:
    connection.execute(text("UPDATE audit_events SET action = 'x' WHERE id = :i"), erased)
    return "its content does not match its hash"


def tamper_payload_back(connection: Any, erased: dict[str, Any], _t: dict[str, Any]) -> str:
    connection.execute(text("UPDATE audit_events SET reason = 'forged' WHERE id = :i"), erased)
    return "marked erased but still holds a payload"


def tamper_digest(connection: Any, erased: dict[str, Any], _t: dict[str, Any]) -> str:
    connection.execute(
        text("UPDATE audit_events SET payload_digest = :d WHERE id = :i"),
        {**erased, "d": "0" * 64},
    )
    return "its content does not match its hash"


def tamper_unmark(connection: Any, erased: dict[str, Any], _t: dict[str, Any]) -> str:
    connection.execute(
        text("UPDATE audit_events SET payload_erased_by = NULL WHERE id = :i"), erased
    )
    return "its payload digest or salt is missing"


def tamper_seal(connection: Any, _erased: dict[str, Any], tombstone: dict[str, Any]) -> str:
    connection.execute(
        text("UPDATE audit_events SET payload_digest = :d WHERE id = :i"),
        {"i": tombstone["id"], "d": "1" * 64},
    )
    return "its content does not match its hash"


TAMPERING = [tamper_action, tamper_payload_back, tamper_digest, tamper_unmark, tamper_seal]


@pytest.mark.parametrize("tamper", TAMPERING, ids=[t.__name__ for t in TAMPERING])
def test_tampering_with_an_erased_row_or_its_tombstone_is_found(
    bus: MessageBus,
    people: People,
    clock: FixedClock,
    session_factory: sessionmaker[Session],
    erasure_db: Engine,
    tamper: Any,
) -> None:
    incident_id, _name, _marker = a_full_incident(bus, people, clock)
    bus.handle(DeleteIncident(incident_id, people.dsl, "reviewed"))
    *erased, tombstone = incident_rows(erasure_db, incident_id)
    assert verify(session_factory, people.school_id).ok
    with as_attacker(erasure_db) as connection:
        problem = tamper(connection, {"i": erased[1]["id"]}, tombstone)
    result = verify(session_factory, people.school_id)
    first = result.first_break
    assert first is not None and problem in first.problem, result.breaks
    assert first.event_id in (erased[1]["id"], tombstone["id"])


def test_marking_a_live_incidents_row_erased_by_hand_is_found(
    bus: MessageBus,
    people: People,
    clock: FixedClock,
    session_factory: sessionmaker[Session],
    erasure_db: Engine,
) -> None:
    live, _name, _marker = a_full_incident(bus, people, clock)
    gone, _name, _marker = a_full_incident(bus, people, clock)
    bus.handle(DeleteIncident(gone, people.dsl, "reviewed"))
    [*_, tombstone] = incident_rows(erasure_db, gone)
    row = incident_rows(erasure_db, live)[0]
    with as_attacker(erasure_db) as connection:
        connection.execute(
            text(
                "UPDATE audit_events SET reason = NULL, old_values = NULL, new_values = NULL, "
                "payload_salt = NULL, payload_erased_by = :t WHERE id = :i"
            ),
            {"t": tombstone["id"], "i": row["id"]},
        )
    first = verify(session_factory, people.school_id).first_break
    assert first is not None and first.event_id == row["id"], first
    assert "a deletion of another incident" in first.problem


# --- PostgreSQL: the app's role --------------------------------------------------------------


@pytest.mark.postgres
def test_postgres_app_role_erases_only_through_the_function_and_only_a_deleted_incident() -> None:
    with roles_and_schema() as (owner_url, app_url, _schema):
        env = {
            "SAFEGUARD_DATABASE_URL": app_url.render_as_string(hide_password=False),
            "SAFEGUARD_MIGRATION_DATABASE_URL": owner_url.render_as_string(hide_password=False),
        }
        init = run_cli("init", env=env)
        assert init.returncode == 0, init.stdout + init.stderr
        app_engine = make_engine(app_url)
        try:
            factory = make_session_factory(app_engine)
            clock = FixedClock(START)
            bus = bootstrap_bus(factory, clock=clock)
            bus.handle(DeployDefinitions(default_bundle(), None))
            people = make_people(factory)
            gone, name, marker = a_full_incident(bus, people, clock)
            live, _live_name, _live_marker = a_full_incident(bus, people, clock)
            bus.handle(DeleteIncident(gone, people.dsl, "reviewed"))
            assert traces(app_engine, name, marker) == []
            assert verify(factory, None).ok

            [*_, tombstone] = incident_rows(app_engine, gone)
            live_row = incident_rows(app_engine, live)[0]
            refused = [
                ("UPDATE audit_events SET reason = NULL WHERE id = :r", "permission denied"),
                (
                    "UPDATE audit_events SET payload_erased_by = :t WHERE id = :r",
                    "permission denied",
                ),
                (
                    "SELECT audit_erase_incident_payloads(:live, :t)",
                    "is not the deletion of incident",
                ),
            ]
            params = {"r": live_row["id"], "t": tombstone["id"], "live": live}
            for statement, error in refused:
                with pytest.raises(DBAPIError, match=error), app_engine.begin() as connection:
                    connection.execute(text(statement), params)
            # A tombstone forged for the live incident: it still exists, so nothing is erased.
            with (
                pytest.raises(DBAPIError, match="still exists"),
                SqlAlchemyUnitOfWork(factory) as uow,
            ):
                forged = uow.audit.add(
                    "incident.deleted",
                    f"incident:{live}",
                    actor_id=people.dsl,
                    school_id=people.school_id,
                    incident_id=live,
                )
                uow.session.flush()
                uow.session.execute(
                    text("SELECT audit_erase_incident_payloads(:live, :t)"),
                    {"live": live, "t": forged.id},
                )
            assert incident_rows(app_engine, live)[0] == live_row
        finally:
            app_engine.dispose()
        again = run_cli("audit", "verify", env=env)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "had their payload erased when their incident was deleted" in again.stdout


@pytest.mark.postgres
def test_postgres_app_role_cannot_erase_a_trail_and_bring_the_incident_back() -> None:
    # Delete, tombstone (its seal anyone can compute), erase, insert the row again: refused.
    with roles_and_schema() as (owner_url, app_url, schema):
        env = {
            "SAFEGUARD_DATABASE_URL": app_url.render_as_string(hide_password=False),
            "SAFEGUARD_MIGRATION_DATABASE_URL": owner_url.render_as_string(hide_password=False),
        }
        init = run_cli("init", env=env)
        assert init.returncode == 0, init.stdout + init.stderr
        app_engine = make_engine(app_url)
        try:
            factory = make_session_factory(app_engine)
            clock = FixedClock(START)
            bus = bootstrap_bus(factory, clock=clock)
            bus.handle(DeployDefinitions(default_bundle(), None))
            people = make_people(factory)
            live, _name, _marker = a_full_incident(bus, people, clock)
            before = incident_rows(app_engine, live)
            row = incident_row(app_engine, live)
            with (
                pytest.raises(DBAPIError, match=f"incident {live} was deleted under retention"),
                SqlAlchemyUnitOfWork(factory) as uow,
            ):
                session = uow.session
                rows = erasable_rows(session, live, people.school_id)
                session.execute(text("SET CONSTRAINTS ALL DEFERRED"))
                session.execute(text("DELETE FROM incidents WHERE id = :i"), {"i": live})
                tombstone = uow.audit.add(
                    "incident.deleted",
                    f"incident:{live}",
                    actor_id=people.dsl,
                    school_id=people.school_id,
                    incident_id=live,
                    old_values={"reference": row["reference"]},
                    new_values={"children_removed": 0, **erasure_values(rows)},
                )
                session.flush()
                erased = session.execute(
                    text("SELECT audit_erase_incident_payloads(:i, :t)"),
                    {"i": live, "t": tombstone.id},
                ).scalar_one()
                assert erased == len(before)
                # A temporary, empty audit_events first on the path hides no tombstone.
                session.execute(
                    text("CREATE TEMP TABLE audit_events (incident_id text, action text)")
                )
                session.execute(text(f'SET LOCAL search_path = pg_temp, "{schema}"'))
                insert_incident(session, row)
                uow.commit()
            assert incident_rows(app_engine, live) == before
            assert incident_row(app_engine, live) == row
            assert verify(factory, None).ok
        finally:
            app_engine.dispose()


# --- the migration -----------------------------------------------------------------------------


def test_migration_keeps_old_rows_verifying_erases_them_and_goes_down_and_up(
    backend: str, tmp_path: Path
) -> None:
    from alembic import command

    from services.db.audit_erasure import erasable_rows, erase_incident_payloads
    from services.db.migrate import alembic_config
    from services.domain.audit_chain import ChainHead, verify_chains
    from services.domain.audit_erasure import erasure_values
    from services.domain.audit_hashing import ERASURE_COLUMNS, GENESIS_HASH, row_hash

    with empty_database(backend, tmp_path) as url:
        upgrade_database(url, "0012")
        engine = make_engine(url)
        try:
            _chain_format_1_rows(engine, backend, row_hash, GENESIS_HASH)
            upgrade_database(url)
            factory = make_session_factory(engine)
            assert verify(factory, None).ok
            with SqlAlchemyUnitOfWork(factory) as uow:  # a format-2 row of the same incident
                uow.audit.add(
                    "incident.viewed", "incident:old", actor_id=1, school_id=5, incident_id="old"
                )
                uow.commit()
            with SqlAlchemyUnitOfWork(factory) as uow:  # erase (the incident never existed)
                rows = erasable_rows(uow.session, "old", 5)
                tombstone = uow.audit.add(
                    "incident.deleted",
                    "incident:old",
                    actor_id=1,
                    school_id=5,
                    incident_id="old",
                    new_values=erasure_values(rows),
                )
                uow.session.flush()
                assert erase_incident_payloads(uow.session, "old", 5, tombstone.id) == 3
                uow.commit()
            assert traces(engine, "Secret Name") == []
            assert verify(factory, None).ok
            [first_old, *_] = incident_rows(engine, "old")
            for target in ("x", first_old["target"]):  # an erased format-1 row changed, then back
                with as_attacker(engine) as connection:
                    connection.execute(
                        text("UPDATE audit_events SET target = :t WHERE id = :i"),
                        {"t": target, "i": first_old["id"]},
                    )
                if target == "x":
                    first = verify(factory, None).first_break
                    assert first is not None, "an erased format-1 row changed went unnoticed"
                    assert "not the ones it records erasing" in first.problem, first
            assert verify(factory, None).ok

            with engine.begin() as connection:
                command.downgrade(alembic_config(connection), "0012")
            with engine.connect() as connection:  # as 0012's code walks the chains
                old_columns = [c for c in EVENTS.c if c.name not in ERASURE_COLUMNS]
                rows = [
                    dict(r._mapping)
                    for r in connection.execute(
                        select(*old_columns).order_by(EVENTS.c.school_id, EVENTS.c.chain_seq)
                    )
                ]
                heads = {
                    chain: ChainHead(chain, seq, last)
                    for chain, seq, last in connection.execute(
                        text("SELECT chain, last_seq, last_hash FROM audit_chain_heads")
                    )
                }
            rows.sort(key=lambda r: (r["school_id"] or 0, r["chain_seq"]))
            walked = verify_chains(rows, heads)
            assert walked.ok and walked.rows == len(rows) > 4, walked.breaks
            with engine.begin() as connection, pytest.raises(IntegrityError, match="append-only"):
                connection.execute(text("UPDATE audit_events SET reason = NULL"))

            upgrade_database(url)
            assert verify(factory, None).ok
            assert traces(engine, "Secret Name") == []
        finally:
            engine.dispose()


def _chain_format_1_rows(engine: Engine, backend: str, row_hash: Any, genesis: str) -> None:
    # Rows as 0012's code chained them: two of incident "old" (naming a child), one other.
    json = "CAST(:new_values AS jsonb)" if backend == "postgres" else ":new_values"
    rows = []
    last = genesis
    for n, (incident, values) in enumerate(
        [("old", '{"name": "Secret Name"}'), ("other", '{"x": 1}'), ("old", '{"a": "Secret Name"}')]
    ):
        row: dict[str, Any] = {
            "id": n + 1,
            "occurred_at": f"2026-01-0{n + 1} 09:00:00.000001",
            "actor_id": 1,
            "school_id": 5,
            "incident_id": incident,
            "action": "child.added",
            "target": "child:1",
            "reason": "Secret Name named" if incident == "old" else "someone named",
            "new_values": values,
            "chain_seq": n + 1,
            "prev_hash": last,
        }
        hashed = {
            **row,
            "occurred_at": datetime.fromisoformat(row["occurred_at"]),
            "new_values": jsonlib.loads(values),
        }
        row["row_hash"] = last = row_hash(hashed)
        rows.append(row)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO audit_events (id, occurred_at, actor_id, school_id, incident_id, "
                "action, target, reason, new_values, chain_seq, prev_hash, row_hash) VALUES "
                f"(:id, :occurred_at, :actor_id, :school_id, :incident_id, :action, :target, "
                f":reason, {json}, :chain_seq, :prev_hash, :row_hash)"
            ),
            rows,
        )
        connection.execute(
            text("INSERT INTO audit_chain_heads (chain, last_seq, last_hash) VALUES (5, 3, :h)"),
            {"h": last},
        )
        if backend == "postgres":  # the ids above were given, not taken from the sequence
            connection.execute(
                text("SELECT setval(pg_get_serial_sequence('audit_events', 'id'), 3)")
            )


def test_a_deletion_waits_while_the_incidents_audit_rows_do_not_verify(
    bus: MessageBus,
    people: People,
    clock: FixedClock,
    session_factory: sessionmaker[Session],
    erasure_db: Engine,
) -> None:
    incident_id, name, _marker = a_full_incident(bus, people, clock)
    row = incident_rows(erasure_db, incident_id)[2]
    with as_attacker(erasure_db) as connection:  # erasing would seal the forgery
        connection.execute(
            text("UPDATE audit_events SET reason = 'nothing happened' WHERE id = :i"),
            {"i": row["id"]},
        )
    with pytest.raises(Conflict, match=f"audit row id {row['id']} does not verify"):
        bus.handle(DeleteIncident(incident_id, people.dsl, "reviewed"))
    assert "audit_events.new_values" in traces(erasure_db, name)
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        assert uow.incidents.get(incident_id) is not None


# --- deletion is final (migration 0015) --------------------------------------------------------


def incident_row(engine: Engine, incident_id: str) -> dict[str, Any]:
    """The incident's own row, every column (to put it back as an attacker would)."""
    with engine.connect() as connection:
        query = text("SELECT * FROM incidents WHERE id = :i")
        return dict(connection.execute(query, {"i": incident_id}).mappings().one())


def insert_incident(connection: Any, row: dict[str, Any]) -> None:
    """Insert an incident row with every column given."""
    columns = ", ".join(row)
    values = ", ".join(f":{c}" for c in row)
    connection.execute(text(f"INSERT INTO incidents ({columns}) VALUES ({values})"), row)


@contextmanager
def without_deletion_guard(engine: Engine) -> Iterator[Connection]:
    """A transaction with 0015's triggers off, as someone owning the database can."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(
                "ALTER TABLE incidents DISABLE TRIGGER incidents_deletion_final"
            )
            yield connection
            connection.exec_driver_sql(
                "ALTER TABLE incidents ENABLE TRIGGER incidents_deletion_final"
            )
            return
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        triggers = connection.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
            "AND name LIKE 'incidents_deletion_final%'"
        ).fetchall()
        assert len(triggers) == 2, triggers
        for name, _sql in triggers:
            connection.exec_driver_sql(f"DROP TRIGGER {name}")
        yield connection
        for _name, sql in triggers:
            connection.exec_driver_sql(sql)


def test_a_deleted_incident_cannot_be_created_again(
    bus: MessageBus,
    people: People,
    clock: FixedClock,
    session_factory: sessionmaker[Session],
    erasure_db: Engine,
) -> None:
    gone, _name, _marker = a_full_incident(bus, people, clock)
    other, _name, _marker = a_full_incident(bus, people, clock)
    row = incident_row(erasure_db, gone)
    bus.handle(DeleteIncident(gone, people.dsl, "reviewed"))
    audit = incident_rows(erasure_db, gone)

    with pytest.raises(IntegrityError, match="cannot be created again"), erasure_db.begin() as c:
        insert_incident(c, row)
    # Nor may another incident take its id (refused before its children's keys are checked).
    with pytest.raises(IntegrityError, match="cannot be created again"), erasure_db.begin() as c:
        c.execute(
            text("UPDATE incidents SET id = :gone WHERE id = :other"),
            {"gone": gone, "other": other},
        )
    # Other changes to incidents go on as before.
    with erasure_db.begin() as c:
        c.execute(text("UPDATE incidents SET status = status WHERE id = :i"), {"i": other})
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        assert uow.incidents.get(gone) is None and uow.incidents.get(other) is not None
    assert incident_rows(erasure_db, gone) == audit
    assert verify(session_factory, people.school_id).ok


def test_verify_reports_a_deleted_incident_that_exists_again(
    bus: MessageBus,
    people: People,
    clock: FixedClock,
    session_factory: sessionmaker[Session],
    erasure_db: Engine,
    tmp_path: Path,
) -> None:
    gone, _name, _marker = a_full_incident(bus, people, clock)
    row = incident_row(erasure_db, gone)
    bus.handle(DeleteIncident(gone, people.dsl, "reviewed"))
    [*_, tombstone] = incident_rows(erasure_db, gone)
    assert verify(session_factory, people.school_id).ok
    with without_deletion_guard(erasure_db) as connection:
        insert_incident(connection, row)
    try:
        result = verify(session_factory, people.school_id)
        assert [(b.event_id, b.seq) for b in result.breaks] == [
            (tombstone["id"], tombstone["chain_seq"])
        ], result.breaks
        assert f"deletion of incident {gone}, but that incident exists" in result.breaks[0].problem
        env = {
            "SAFEGUARD_DATABASE_URL": erasure_db.url.render_as_string(hide_password=False),
            "SAFEGUARD_INSTANCE_DIR": str(tmp_path),
        }
        cli = run_cli("audit", "verify", "--school", str(people.school_id), env=env)
        assert cli.returncode == 1, cli.stdout + cli.stderr
        output = cli.stdout + cli.stderr
        assert "1 of 1 chain failed" in output, output
        assert f"row id {tombstone['id']} (school {people.school_id}" in output, output
        assert f"incident {gone}, but that incident exists" in output, output
    finally:
        with erasure_db.begin() as connection:  # deleting it again is allowed
            connection.execute(text("DELETE FROM incidents WHERE id = :i"), {"i": gone})
    assert verify(session_factory, people.school_id).ok


def test_migration_0015_goes_down_and_up(backend: str, tmp_path: Path) -> None:
    from alembic import command

    from services.db.migrate import alembic_config

    found = (
        "SELECT tgname FROM pg_trigger WHERE tgrelid = 'incidents'::regclass "
        "AND tgname LIKE 'incidents_deletion_final%'"
        if backend == "postgres"
        else "SELECT name FROM sqlite_master WHERE name LIKE 'incidents_deletion_final%'"
    )
    with empty_database(backend, tmp_path) as url:
        upgrade_database(url)
        engine = make_engine(url)
        try:
            with engine.connect() as connection:
                assert connection.execute(text(found)).all()
            with engine.begin() as connection:
                command.downgrade(alembic_config(connection), "0014")
            with engine.connect() as connection:
                assert connection.execute(text(found)).all() == []
            upgrade_database(url)
            with engine.connect() as connection:
                assert connection.execute(text(found)).all()
        finally:
            engine.dispose()
