"""Tamper evidence on real databases: the audit trail is hash-chained per school, appends never
fork it, and `safeguard audit verify` finds any single row changed, deleted, inserted or
reordered (the attacker's way round the triggers included). On PostgreSQL the app's role may
only INSERT and SELECT on the audit table; on SQLite the triggers refuse INSERT OR REPLACE.
"""

# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Connection, Engine, create_engine, select, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from services.bootstrap import Runtime
from services.db import SqlAlchemyUnitOfWork, make_engine, make_session_factory, upgrade_database
from services.db.column_types import utcnow
from services.db.models import AuditEvent, AuditVerification
from services.db.privileges import RoleSetupRefused, grant_application_role
from services.domain.audit_chain import Verification, row_hash
from services.domain.audit_hashing import payload_digest
from services.domain.audit_verification import verify_audit_trail
from services.domain.bus import bootstrap as bootstrap_bus
from services.domain.clock import FixedClock
from services.domain.commands import (
    CompleteExternalTask,
    CompleteTask,
    DeployDefinitions,
    StartIncident,
)
from services.domain.events import ExternalTaskReady
from services.domain.queries import ViewIncident
from tests.integration.conftest import empty_database, postgres_base_url, require_postgres
from tests.integration.service_fixtures import (
    START,
    audit_of,
    default_bundle,
    disclosure_data,
    make_people,
    scenario_steps,
)
from tests.integration.web_fixtures import (  # noqa: F401  # fixtures, found by name
    WebUser,
    app,
    client,
    clock,
    login,
    make_user,
    web_runtime,
    web_settings,
)
from workflow.formdata import placeholder_data

ROOT = Path(__file__).resolve().parents[2]
SAFEGUARD = Path(sys.executable).parent / "safeguard"
EVENTS = AuditEvent.__table__


@pytest.fixture(scope="module")
def chain_db(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A database of this module's own: tampering here never reaches other tests' data."""
    with empty_database(backend, tmp_path_factory.mktemp(f"chain-{backend}")) as url:
        upgrade_database(url)
        engine = make_engine(url)
        yield engine
        engine.dispose()


@pytest.fixture(scope="module")
def factory(chain_db: Engine) -> sessionmaker[Session]:
    """Sessions on the module's database."""
    return make_session_factory(chain_db)


def new_school(factory: sessionmaker[Session]) -> int:
    """A fresh school: its chain is the test's own."""
    tag = secrets.token_hex(4)
    with SqlAlchemyUnitOfWork(factory) as uow:
        school = uow.schools.add(f"School {tag}", f"school-{tag}")
        uow.commit()
        return school.id


def append(
    factory: sessionmaker[Session], school_id: int | None, count: int, per_commit: int = 2
) -> None:
    """Append `count` events to a chain, `per_commit` to a transaction."""
    done = 0
    while done < count:
        with SqlAlchemyUnitOfWork(factory) as uow:
            for _ in range(min(per_commit, count - done)):
                uow.audit.add(
                    "task.completed",
                    f"task:{done}",
                    actor_id=7,
                    school_id=school_id,
                    reason=f"reason {done}",
                    new_values={
                        "n": done,
                        "ratio": 0.5,
                        "whole": 2.0,
                        "big": 1e16,
                        "list": [1, "a"],
                    },
                )
                done += 1
            uow.commit()


def verify(factory: sessionmaker[Session], school_id: int | None) -> Verification:
    """Run the verification as `safeguard audit verify [--school]` does."""
    verification, _record = verify_audit_trail(
        lambda: SqlAlchemyUnitOfWork(factory), school_id=school_id, ran_by="test", now=utcnow
    )
    return verification


def rows_of(engine: Engine, school_id: int) -> list[dict[str, Any]]:
    """A school's audit rows in chain order, every column."""
    with engine.connect() as connection:
        query = select(EVENTS).where(EVENTS.c.school_id == school_id).order_by(EVENTS.c.chain_seq)
        return [dict(row._mapping) for row in connection.execute(query)]


@contextmanager
def as_attacker(engine: Engine) -> Iterator[Connection]:
    """A transaction with the append-only guard lifted, as someone owning the database can."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("ALTER TABLE audit_events DISABLE TRIGGER USER")
            yield connection
            connection.exec_driver_sql("ALTER TABLE audit_events ENABLE TRIGGER USER")
            return
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        triggers = connection.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
            "AND tbl_name = 'audit_events'"
        ).fetchall()
        for name, _sql in triggers:
            connection.exec_driver_sql(f"DROP TRIGGER {name}")
        yield connection
        for _name, sql in triggers:
            connection.exec_driver_sql(sql)


def forged(row: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The row changed as an attacker would: its payload digest and hash made to match."""
    forgery = {**row, **changes}
    forgery["payload_digest"] = payload_digest(forgery, forgery["payload_salt"])
    forgery["row_hash"] = row_hash(forgery)
    return forgery


def insert_row(connection: Connection, row: dict[str, Any]) -> None:
    """Insert a row with every column given (the types bind as the app's do)."""
    connection.execute(EVENTS.insert(), [row])


# --- appending ------------------------------------------------------------------------------


def test_events_are_chained_per_school_across_transactions_and_verify(
    factory: sessionmaker[Session], chain_db: Engine
) -> None:
    school, other = new_school(factory), new_school(factory)
    append(factory, school, 5)
    append(factory, other, 3, per_commit=3)
    append(factory, None, 2)
    rows = rows_of(chain_db, school)
    assert [r["chain_seq"] for r in rows] == [1, 2, 3, 4, 5]
    assert all(b["prev_hash"] == a["row_hash"] for a, b in pairwise(rows))
    assert all(r["row_hash"] == row_hash(r) for r in rows)
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)
    for school_id in (school, other):
        result = verify(factory, school_id)
        assert result.ok and result.chains == 1, result.breaks
    assert verify(factory, school).rows == 5  # verifications are audited in the global chain


def test_appends_to_one_school_from_many_threads_never_fork_the_chain(
    factory: sessionmaker[Session], chain_db: Engine
) -> None:
    school = new_school(factory)
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def writer() -> None:
        try:
            start.wait()
            append(factory, school, 12, per_commit=3)
            append(factory, None, 2, per_commit=1)  # and the global chain, interleaved
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    rows = rows_of(chain_db, school)
    assert [r["chain_seq"] for r in rows] == list(range(1, 49))
    result = verify(factory, school)
    assert result.ok and result.rows == 48, result.breaks


# --- tampering ------------------------------------------------------------------------------


def change(connection: Connection, rows: list[dict[str, Any]]) -> tuple[int, int, str]:
    connection.execute(
        text("UPDATE audit_events SET reason = 'nothing happened' WHERE id = :i"),
        {"i": rows[2]["id"]},
    )
    return rows[2]["id"], 3, "its content does not match its hash"


def change_and_rehash(connection: Connection, rows: list[dict[str, Any]]) -> tuple[int, int, str]:
    forgery = forged(rows[2], reason="nothing happened")
    connection.execute(
        text(
            "UPDATE audit_events SET reason = :r, payload_digest = :d, row_hash = :h WHERE id = :i"
        ),
        {
            "r": forgery["reason"],
            "d": forgery["payload_digest"],
            "h": forgery["row_hash"],
            "i": forgery["id"],
        },
    )
    return rows[3]["id"], 4, "does not link to the row before it (sequence 3)"


def delete(connection: Connection, rows: list[dict[str, Any]]) -> tuple[int, int, str]:
    connection.execute(text("DELETE FROM audit_events WHERE id = :i"), {"i": rows[1]["id"]})
    return rows[2]["id"], 3, "sequence jumps from 1 to 3"


def delete_last(connection: Connection, rows: list[dict[str, Any]]) -> tuple[int, int, str]:
    connection.execute(text("DELETE FROM audit_events WHERE id = :i"), {"i": rows[-1]["id"]})
    return rows[-2]["id"], 4, "its head records sequence 5: 1 row missing from the end"


def insert(connection: Connection, rows: list[dict[str, Any]]) -> tuple[int, int, str]:
    # A forged row at sequence 3, linked and hashed properly, the later rows moved up one.
    for row in reversed(rows[2:]):
        connection.execute(
            text("UPDATE audit_events SET chain_seq = chain_seq + 1 WHERE id = :i"),
            {"i": row["id"]},
        )
    insert_row(connection, forged(rows[2], id=rows[-1]["id"] + 1000, reason="it was all fine"))
    return rows[2]["id"], 4, "its id comes before the previous row's"


def insert_at_end(connection: Connection, rows: list[dict[str, Any]]) -> tuple[int, int, str]:
    forgery = forged(
        rows[-1], id=rows[-1]["id"] + 1000, chain_seq=6, prev_hash=rows[-1]["row_hash"]
    )
    insert_row(connection, forgery)
    return forgery["id"], 6, "the chain runs past its head (sequence 5)"


def reorder(connection: Connection, rows: list[dict[str, Any]]) -> tuple[int, int, str]:
    # Rows 2 and 3 swap places, each taking the other's link.
    for row, other in ((rows[1], rows[2]), (rows[2], rows[1])):
        connection.execute(
            text("UPDATE audit_events SET chain_seq = :s, prev_hash = :p WHERE id = :i"),
            {"s": -other["chain_seq"], "p": other["prev_hash"], "i": row["id"]},
        )
    connection.execute(text("UPDATE audit_events SET chain_seq = -chain_seq WHERE chain_seq < 0"))
    return rows[2]["id"], 2, "its content does not match its hash"


def replace(connection: Connection, rows: list[dict[str, Any]]) -> tuple[int, int, str]:
    if connection.dialect.name == "postgresql":
        statement = (
            "INSERT INTO audit_events (id, occurred_at, action, target, chain_seq, prev_hash, "
            "row_hash, school_id) VALUES (:id, :at, 'login', 'user:1', :seq, :prev, :hash, "
            ":school) ON CONFLICT (id) DO UPDATE SET action = excluded.action, "
            "target = excluded.target"
        )
    else:
        statement = (
            "INSERT OR REPLACE INTO audit_events (id, occurred_at, action, target, chain_seq, "
            "prev_hash, row_hash, school_id) VALUES (:id, :at, 'login', 'user:1', :seq, :prev, "
            ":hash, :school)"
        )
    row = rows[2]
    connection.execute(
        text(statement),
        {
            "id": row["id"],
            "at": utcnow().replace(tzinfo=None).isoformat(sep=" "),
            "seq": row["chain_seq"],
            "prev": row["prev_hash"],
            "hash": row["row_hash"],
            "school": row["school_id"],
        },
    )
    return row["id"], 3, "its content does not match its hash"


TAMPERING = [
    change,
    change_and_rehash,
    delete,
    delete_last,
    insert,
    insert_at_end,
    reorder,
    replace,
]


@pytest.mark.parametrize("tamper", TAMPERING, ids=[t.__name__ for t in TAMPERING])
def test_verify_names_the_first_row_broken_by_each_kind_of_tampering(
    factory: sessionmaker[Session], chain_db: Engine, tamper: Any
) -> None:
    school = new_school(factory)
    append(factory, school, 5)
    rows = rows_of(chain_db, school)
    assert verify(factory, school).ok

    with as_attacker(chain_db) as connection:
        event_id, seq, problem = tamper(connection, rows)

    result = verify(factory, school)
    assert not result.ok
    first = result.first_break
    assert first is not None, result
    assert (first.chain, first.event_id, first.seq) == (school, event_id, seq), first
    assert problem in first.problem, first.problem
    assert first.describe().startswith(f"row id {event_id} (school {school}, sequence {seq}): ")
    everything = verify(factory, None)  # every chain: this one is named, the others hold
    assert [b.chain for b in everything.breaks if b.chain == school] == [school]


def test_the_triggers_refuse_rewrites_even_insert_or_replace(
    factory: sessionmaker[Session], chain_db: Engine
) -> None:
    school = new_school(factory)
    append(factory, school, 3)
    rows = rows_of(chain_db, school)
    row = rows[1]
    values = {"id": row["id"], "seq": row["chain_seq"], "school": school}
    columns = "(id, occurred_at, action, target, chain_seq, prev_hash, row_hash, school_id)"
    picked = (
        "SELECT :id, occurred_at, 'x', 'y', :seq, prev_hash, row_hash, :school "
        "FROM audit_events WHERE id = :id"
    )
    statements = [
        "UPDATE audit_events SET reason = 'x' WHERE id = :id",
        "DELETE FROM audit_events WHERE id = :id",
        f"INSERT INTO audit_events {columns} {picked} ON CONFLICT (id) DO UPDATE SET action = 'x'",
    ]
    if chain_db.dialect.name == "sqlite":
        statements += [
            f"INSERT OR REPLACE INTO audit_events {columns} {picked}",
            f"REPLACE INTO audit_events {columns} {picked}",
            # A new id over an existing place in the chain would replace that row too.
            f"INSERT OR REPLACE INTO audit_events {columns} "
            + picked.replace("SELECT :id,", "SELECT :id + 100000,"),
        ]
    for statement in statements:
        with pytest.raises(IntegrityError, match="append-only"), chain_db.begin() as connection:
            connection.execute(text(statement), values)
    assert rows_of(chain_db, school) == rows
    assert verify(factory, school).ok


# --- the migration --------------------------------------------------------------------------


def test_the_migration_chains_existing_rows_and_downgrades(backend: str, tmp_path: Path) -> None:
    with empty_database(backend, tmp_path) as url:
        upgrade_database(url, "0006")
        engine = make_engine(url)
        try:
            json = "CAST(:v AS jsonb)" if backend == "postgres" else ":v"
            with engine.begin() as connection:
                connection.execute(
                    text(
                        "INSERT INTO audit_events (occurred_at, actor_id, school_id, action, "
                        f"target, new_values) VALUES (:at, :actor, :school, :action, 't', {json})"
                    ),
                    [
                        {
                            "at": f"2026-01-0{n} 09:00:00.000001",
                            "actor": n,
                            "school": school,
                            "action": f"a{n}",
                            "v": '{"x": 1.0, "y": [1, "\\u00e9"]}',
                        }
                        for n, school in ((1, 5), (2, None), (3, 5), (4, 6))
                    ],
                )
            upgrade_database(url)
            factory = make_session_factory(engine)
            result = verify(factory, None)
            assert result.ok and (result.chains, result.rows) == (3, 4), result.breaks
            append(factory, 5, 2)
            assert verify(factory, 5).ok and [r["chain_seq"] for r in rows_of(engine, 5)] == [
                1,
                2,
                3,
                4,
            ]

            from alembic import command

            from services.db.migrate import alembic_config

            with engine.begin() as connection:
                command.downgrade(alembic_config(connection), "0006")
            with engine.connect() as connection, pytest.raises(DBAPIError):
                connection.execute(text("SELECT chain_seq FROM audit_events"))
            with engine.begin() as connection, pytest.raises(IntegrityError, match="append-only"):
                connection.execute(text("DELETE FROM audit_events"))
            upgrade_database(url)
            assert verify(factory, None).ok
        finally:
            engine.dispose()


# --- PostgreSQL roles -----------------------------------------------------------------------


@contextmanager
def roles_and_schema() -> Iterator[tuple[URL, URL, str]]:
    """An owner role (CREATEROLE) owning a fresh schema, and the name for an app role; dropped."""
    base = postgres_base_url()
    require_postgres(base)
    tag = secrets.token_hex(4)
    owner, app, schema = f"sf_owner_{tag}", f"sf_app_{tag}", f"sf_roles_{tag}"
    admin = create_engine(base, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE ROLE "{owner}" LOGIN CREATEROLE')
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}" AUTHORIZATION "{owner}"')
    options = {"options": f"-csearch_path={schema}"}
    try:
        yield (
            base.set(username=owner).update_query_dict(options),
            base.set(username=app, password=f"pw'{tag}").update_query_dict(options),
            schema,
        )
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
            for role in (app, owner):
                exists = connection.execute(
                    text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}
                ).first()
                if exists:
                    connection.exec_driver_sql(f'DROP OWNED BY "{role}"')
                    connection.exec_driver_sql(f'DROP ROLE "{role}"')
        admin.dispose()


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run `safeguard ...` as an operator would."""
    return subprocess.run(
        [str(SAFEGUARD), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env},
    )


@pytest.mark.postgres
def test_postgres_app_role_may_only_insert_and_select_the_audit_trail() -> None:
    with roles_and_schema() as (owner_url, app_url, _schema):
        shown = {
            "SAFEGUARD_DATABASE_URL": app_url.render_as_string(hide_password=False),
            "SAFEGUARD_MIGRATION_DATABASE_URL": owner_url.render_as_string(hide_password=False),
        }
        init = run_cli("init", env=shown)
        assert init.returncode == 0, init.stdout + init.stderr
        assert f"App role '{app_url.username}' created and granted" in init.stdout

        app_engine = make_engine(app_url)
        try:
            factory = make_session_factory(app_engine)
            school = new_school(factory)  # the app's own work goes on as before
            append(factory, school, 4)
            assert verify(factory, None).ok
            refused = [
                "UPDATE audit_events SET reason = 'x'",
                "DELETE FROM audit_events",
                "TRUNCATE audit_events",
                "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only",
                "ALTER TABLE audit_events DISABLE TRIGGER ALL",
                f'ALTER TABLE audit_events OWNER TO "{app_url.username}"',
                "DROP TABLE audit_events",
                "UPDATE audit_verifications SET ok = true",
                "DELETE FROM audit_verifications",
                "TRUNCATE audit_chain_heads",
                "SET session_replication_role = replica",
            ]
            for statement in refused:
                with (
                    pytest.raises(DBAPIError, match=r"permission denied|must be owner"),
                    app_engine.begin() as connection,
                ):
                    connection.exec_driver_sql(statement)
        finally:
            app_engine.dispose()

        again = run_cli("audit", "verify", env=shown)
        assert again.returncode == 0, again.stderr
        assert "Audit trail verified (every chain)" in again.stdout
        rerun = run_cli("init", env=shown)  # granting is repeatable
        assert rerun.returncode == 0 and "granted its privileges" in rerun.stdout, rerun.stderr


@pytest.mark.postgres
def test_postgres_role_setup_refuses_an_app_role_that_could_rewrite_the_trail() -> None:
    with roles_and_schema() as (owner_url, app_url, _schema):
        upgrade_database(owner_url)
        owner = owner_url.render_as_string(hide_password=False)
        with pytest.raises(RoleSetupRefused, match="both use"):
            grant_application_role(owner, owner)
        superuser = postgres_base_url().render_as_string(hide_password=False)
        with pytest.raises(RoleSetupRefused, match="is a superuser"):
            grant_application_role(owner, superuser)
        nameless = app_url.set(password="").render_as_string(hide_password=False)
        with pytest.raises(RoleSetupRefused, match="no password to create it"):
            grant_application_role(owner, nameless)
        admin = create_engine(postgres_base_url(), poolclass=NullPool, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:  # an app role that can act as the owner
            connection.exec_driver_sql(f'CREATE ROLE "{app_url.username}" LOGIN')
            connection.exec_driver_sql(f'GRANT "{owner_url.username}" TO "{app_url.username}"')
        admin.dispose()
        app = app_url.render_as_string(hide_password=False)
        with pytest.raises(RoleSetupRefused, match="REASSIGN OWNED BY"):
            grant_application_role(owner, app)


# --- the command ----------------------------------------------------------------------------


def test_audit_verify_command_passes_then_names_the_row_altered_by_hand(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'safeguard.db'}"
    env = {"SAFEGUARD_DATABASE_URL": url, "SAFEGUARD_INSTANCE_DIR": str(tmp_path)}
    upgrade_database(url)
    engine = make_engine(url)
    try:
        factory = make_session_factory(engine)
        school = new_school(factory)
        append(factory, school, 5)
        ok = run_cli("audit", "verify", env=env)
        assert ok.returncode == 0, ok.stderr
        assert "Audit trail verified (every chain): 5 events in 1 chain" in ok.stdout
        assert f"school {school}: 5 events, last hash " in ok.stdout
        one = run_cli("audit", "verify", "--school", str(school), env=env)
        assert one.returncode == 0 and f"(the chain of school {school})" in one.stdout

        row = rows_of(engine, school)[1]
        with as_attacker(engine) as connection:  # e.g. sqlite3 safeguard.db, DROP TRIGGER ...
            connection.execute(
                text("UPDATE audit_events SET reason = 'nothing' WHERE id = :i"), {"i": row["id"]}
            )
        broken = run_cli("audit", "verify", env=env)
        assert broken.returncode == 1, broken.stdout
        assert (
            f"First broken row: row id {row['id']} (school {school}, sequence 2): its content "
            "does not match its hash: the row was changed"
        ) in broken.stderr
        unknown = run_cli("audit", "verify", "--school", "999999", env=env)
        assert (
            unknown.returncode == 1 and "--school 999999: no school has this id" in unknown.stderr
        )
    finally:
        engine.dispose()


# --- the operations page --------------------------------------------------------------------


def test_the_operations_page_shows_the_latest_verification(
    client: FlaskClient, make_user: Callable[..., WebUser], web_runtime: Runtime
) -> None:
    admin, elsewhere = make_user("admin"), make_user("admin")
    append(web_runtime.session_factory, admin.school_id, 3)
    verify_audit_trail(
        web_runtime.unit_of_work, school_id=admin.school_id, ran_by="ops@host", now=utcnow
    )
    login(client, admin.email)
    page = client.get("/operations").get_data(as_text=True)
    assert "Audit trail" in page and "Verified " in page
    assert "3 events, no row altered, removed, added or reordered. Run by ops@host." in page

    # A failed run over every school: its administrators see the row, others only that much.
    with web_runtime.unit_of_work() as uow:
        uow.audit.record_verification(
            AuditVerification(
                ran_by="cron",
                school_id=None,
                ok=False,
                chains=2,
                rows_checked=10,
                broken_chains=1,
                broken_chain=admin.school_id,
                broken_event_id=123,
                broken_seq=4,
                problem="its content does not match its hash: the row was changed",
            )
        )
        uow.commit()
    page = client.get("/operations").get_data(as_text=True)
    assert "The audit trail failed verification" in page
    assert (
        f"First broken: row id 123 (school {admin.school_id}, sequence 4): its content "
        "does not match its hash: the row was changed"
    ) in page
    other = client.application.test_client()
    login(other, elsewhere.email)
    theirs = other.get("/operations").get_data(as_text=True)
    assert "The audit trail failed verification" in theirs and "row id 123" not in theirs
    assert "First broken: a row in a school you do not administer" in theirs


# --- the app's own commands -----------------------------------------------------------------


def test_a_whole_incident_through_the_commands_leaves_a_chain_that_verifies(
    session_factory: sessionmaker[Session],
) -> None:
    clock = FixedClock(START)
    bus = bootstrap_bus(session_factory, clock=clock)
    bus.handle(DeployDefinitions(default_bundle(), None))
    people = make_people(session_factory)
    incident_id = bus.handle(
        StartIncident(people.school_id, people.reporter, disclosure_data("Alex"))
    ).incident_id
    assert incident_id is not None
    actor = {"dsl": people.dsl, "headteacher": people.head}
    for step in scenario_steps("s1.json")[1:]:
        clock.advance(timedelta(minutes=30))
        view = bus.handle(ViewIncident(incident_id, people.dsl))
        ready = next(t for t in view.ready_tasks if t.task.bpmn_id == step["complete"])
        data = placeholder_data(ready.task.form, step["data"])
        outcome = bus.handle(
            CompleteTask(ready.task.id, actor[ready.task.lane], data, view.version)
        )
    [filing] = outcome.of_type(ExternalTaskReady)
    bus.handle(CompleteExternalTask(filing.task_id, "test-worker", {}))

    result = verify(session_factory, people.school_id)
    assert result.ok, result.breaks
    assert result.rows == len(audit_of(session_factory, incident_id)) > 20
