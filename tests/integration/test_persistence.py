"""The persistence layer on real databases: every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import hashlib
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session, sessionmaker

from services.db import (
    ConcurrentUpdate,
    ImmutableRecord,
    SqlAlchemyUnitOfWork,
    head_revision,
    make_engine,
    make_session_factory,
    upgrade_database,
)
from services.db.migrate import current_revision
from services.db.models import ApiToken, Base, HumanTask, Incident, OutboxMessage
from workflow.model import SourceFile

TABLES = {
    "schools",
    "users",
    "memberships",
    "api_tokens",
    "process_definitions",
    "definition_versions",
    "incidents",
    "human_tasks",
    "incident_exclusions",
    "children",
    "incident_children",
    "audit_events",
    "audit_chain_heads",
    "audit_verifications",
    "outbox",
    "processed_messages",
    "documents",
    "external_tasks",
    "notifications",
    "email_deliveries",
    "incident_case_facts",
    "case_answers",
    "completed_steps",
    "incident_parties",
    "file_transfers",
    "incident_retention",
    "retention_policies",
    "incident_report_rows",
    "report_progress",
    "break_glass_grants",
    "invitations",
    "sign_in_throttles",
    "process_drafts",
    "draft_saves",
    "process_releases",
    "school_process_versions",
}
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MIGRATION_FILES = (
    Path(__file__).resolve().parents[2] / "services" / "db" / "migrations" / "versions"
)


@dataclass(frozen=True)
class World:
    """A school with one DSL and one deployed process, made fresh for a test."""

    school_id: int
    user_id: int
    version_id: int


def make_world(session_factory: sessionmaker[Session]) -> World:
    """Create a school, a DSL in it and a deployed definition version; return their ids."""
    tag = secrets.token_hex(4)
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        school = uow.schools.add(f"School {tag}", f"school-{tag}")
        user = uow.users.add(f"dsl-{tag}@school.example", "Dee Sell", "hash")
        uow.users.grant(user.id, school.id, "dsl")
        version = uow.definitions.deploy(
            f"response_{tag}", "Response", tag * 8, "{}", [SourceFile("r.bpmn", b"<x/>")]
        )
        uow.commit()
        return World(school.id, user.id, version.id)


@pytest.fixture
def world(session_factory: sessionmaker[Session]) -> World:
    """A fresh school, user and definition version."""
    return make_world(session_factory)


def add_incident(uow: SqlAlchemyUnitOfWork, world: World, state: str = "{}") -> Incident:
    """Add an open incident with the next reference of the world's school."""
    return uow.incidents.add(
        school_id=world.school_id,
        definition_version_id=world.version_id,
        reference=uow.incidents.next_reference(world.school_id, 2026),
        state=state,
        created_by=world.user_id,
    )


def new_incident_id(session_factory: sessionmaker[Session], world: World, state: str = "") -> str:
    """Commit a new incident and return its id."""
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        incident = add_incident(uow, world, state)
        uow.commit()
        return incident.id


# --- migrations ---------------------------------------------------------------------------


def test_migration_creates_every_table_and_a_second_run_changes_nothing(empty_db_url: str) -> None:
    assert current_revision(empty_db_url) is None

    upgrade_database(empty_db_url)
    engine = make_engine(empty_db_url)
    try:
        assert set(inspect(engine).get_table_names()) == TABLES | {"alembic_version"}
        upgrade_database(empty_db_url)
        engine.dispose()
        assert set(inspect(engine).get_table_names()) == TABLES | {"alembic_version"}
    finally:
        engine.dispose()
    newest = max(p.stem.split("_")[0] for p in MIGRATION_FILES.glob("0*.py"))
    assert current_revision(empty_db_url) == head_revision() == newest


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_sqlite_engine_uses_wal_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}", sqlite_busy_timeout_ms=1234)
    try:
        with engine.connect() as connection:
            settings = {
                name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in (
                    "journal_mode",
                    "foreign_keys",
                    "busy_timeout",
                    "synchronous",
                    "secure_delete",
                )
            }
        # synchronous 1 is NORMAL
        assert settings == {
            "journal_mode": "wal",
            "foreign_keys": 1,
            "busy_timeout": 1234,
            "synchronous": 1,
            "secure_delete": 1,  # an erased incident's bytes are overwritten, not left free
        }
    finally:
        engine.dispose()


def test_foreign_keys_are_enforced(uow: SqlAlchemyUnitOfWork) -> None:
    with uow, pytest.raises(IntegrityError):
        uow.users.grant(user_id=987_654_321, school_id=987_654_321, role="dsl")


# --- one transaction per command ------------------------------------------------------------


def write_a_command(uow: SqlAlchemyUnitOfWork, world: World, tag: str) -> str:
    """Write what one command writes: incident state, two tasks, audit, outbox. Return its id."""
    incident = add_incident(uow, world, state=f'{{"step": "{tag}"}}')
    for n, role in enumerate(("dsl", "headteacher")):
        uow.tasks.add(
            task_id=f"{tag}-task-{n}",
            incident_id=incident.id,
            school_id=incident.school_id,
            bpmn_id="review",
            name="Review",
            role=role,
        )
    uow.audit.add(
        "incident.opened",
        f"incident:{incident.id}",
        actor_id=world.user_id,
        incident_id=incident.id,
    )
    uow.outbox.add("school.1.dsl", "TaskReady", {"incident": incident.id}, message_id=tag)
    return incident.id


def test_a_commands_writes_commit_together(
    uow: SqlAlchemyUnitOfWork, session_factory: sessionmaker[Session], world: World
) -> None:
    tag = secrets.token_hex(8)
    with uow:
        incident_id = write_a_command(uow, world, tag)
        uow.commit()

    with SqlAlchemyUnitOfWork(session_factory) as check:
        incident = check.incidents.get(incident_id)
        assert incident is not None and incident.state == f'{{"step": "{tag}"}}'
        assert incident.version_id == 1 and incident.status == "open"
        assert [t.id for t in check.tasks.for_incident(incident_id)] == [
            f"{tag}-task-0",
            f"{tag}-task-1",
        ]
        assert [e.action for e in check.audit.list_for_incident(incident_id, 10)] == [
            "incident.opened"
        ]
        message = check.session.scalar(select(OutboxMessage).where(OutboxMessage.message_id == tag))
        assert message is not None and message.payload == {"incident": incident_id}


def test_a_command_that_fails_midway_writes_nothing(
    uow: SqlAlchemyUnitOfWork, session_factory: sessionmaker[Session], world: World
) -> None:
    tag = secrets.token_hex(8)
    with pytest.raises(RuntimeError, match="engine step failed"), uow:
        incident_id = write_a_command(uow, world, tag)
        uow.session.flush()  # the rows reached the database inside the transaction
        raise RuntimeError("engine step failed")

    with uow:  # leaving without commit() writes nothing either
        left_uncommitted = write_a_command(uow, world, tag + "x")

    with SqlAlchemyUnitOfWork(session_factory) as check:
        for gone in (incident_id, left_uncommitted):
            assert check.incidents.get(gone) is None
            assert check.tasks.for_incident(gone) == []
            assert check.audit.list_for_incident(gone, 10) == []
        outbox = select(OutboxMessage).where(OutboxMessage.message_id.in_([tag, tag + "x"]))
        assert check.session.scalars(outbox).all() == []


# --- concurrency ----------------------------------------------------------------------------


def test_second_commit_on_a_stale_incident_raises_and_keeps_the_first(
    session_factory: sessionmaker[Session], world: World
) -> None:
    incident_id = new_incident_id(session_factory, world, state="start")
    first = SqlAlchemyUnitOfWork(session_factory)
    second = SqlAlchemyUnitOfWork(session_factory)

    with first, second:
        mine = first.incidents.get(incident_id)
        theirs = second.incidents.get(incident_id)
        assert mine is not None and theirs is not None
        mine.state = "first"
        first.commit()

        theirs.state = "second"
        second.tasks.add(
            task_id=f"{incident_id}-late",
            incident_id=incident_id,
            school_id=theirs.school_id,
            bpmn_id="b",
            name="B",
            role="dsl",
        )
        with pytest.raises(ConcurrentUpdate, match="changed by another command") as raised:
            second.commit()
        assert raised.value.incident_ids == (incident_id,)

    with SqlAlchemyUnitOfWork(session_factory) as check:
        incident = check.incidents.get(incident_id)
        assert incident is not None
        assert (incident.state, incident.version_id) == ("first", 2)
        assert check.tasks.get(f"{incident_id}-late") is None


def test_concurrent_commands_on_one_incident_lose_no_update(
    session_factory: sessionmaker[Session], world: World
) -> None:
    incident_id = new_incident_id(session_factory, world, state="")
    failures: list[BaseException] = []

    def run_commands(worker: str) -> None:
        try:
            for n in range(10):
                for _attempt in range(50):
                    try:
                        with SqlAlchemyUnitOfWork(session_factory) as uow:
                            incident = uow.incidents.get_for_update(incident_id)
                            assert incident is not None
                            incident.state += f"{worker}{n};"
                            uow.audit.add(
                                "task.completed", "t", actor_id=None, incident_id=incident_id
                            )
                            uow.commit()
                        break
                    except ConcurrentUpdate:
                        continue  # the caller's retry: load the newer state and apply again
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    workers = [threading.Thread(target=run_commands, args=(w,)) for w in ("a", "b")]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=60)

    assert failures == []
    with SqlAlchemyUnitOfWork(session_factory) as check:
        incident = check.incidents.get(incident_id)
        assert incident is not None
        marks = incident.state.rstrip(";").split(";")
        assert sorted(marks) == sorted(f"{w}{n}" for w in "ab" for n in range(10))
        assert incident.version_id == 21
        assert len(check.audit.list_for_incident(incident_id, 100)) == 20


# --- definitions ----------------------------------------------------------------------------


def test_definition_versions_are_immutable_and_a_known_digest_returns_its_version(
    uow: SqlAlchemyUnitOfWork, session_factory: sessionmaker[Session]
) -> None:
    process_id = f"p_{secrets.token_hex(4)}"
    sources = [SourceFile("main.bpmn", "<definitions>é</definitions>".encode())]
    with uow:
        first = uow.definitions.deploy(process_id, "Response", "d1" * 32, "spec-1", sources)
        again = uow.definitions.deploy(process_id, "Response", "d1" * 32, "other", sources)
        second = uow.definitions.deploy(process_id, "Response", "d2" * 32, "spec-2", sources)
        uow.commit()
    assert (again.id, again.version, again.spec) == (first.id, 1, "spec-1")
    assert second.version == 2

    with SqlAlchemyUnitOfWork(session_factory) as check:
        assert [v.version for v in check.definitions.list_versions(process_id, 10)] == [2, 1]
        latest = check.definitions.latest(process_id)
        assert latest is not None and latest.id == second.id
        assert latest.definition.process_id == process_id
        assert latest.sources == [{"name": "main.bpmn", "content": "<definitions>é</definitions>"}]
        latest.spec = "tampered"
        with pytest.raises(ImmutableRecord, match="immutable"):
            check.commit()

    with SqlAlchemyUnitOfWork(session_factory) as check:
        stored = check.definitions.get_version(second.id)
        assert stored is not None and stored.spec == "spec-2"


def test_deploying_a_source_that_is_not_utf8_names_the_file(uow: SqlAlchemyUnitOfWork) -> None:
    with uow, pytest.raises(ValueError, match=r"bad\.bpmn: not UTF-8"):
        uow.definitions.deploy("p_bad", "Bad", "d" * 64, "{}", [SourceFile("bad.bpmn", b"\xff")])


# --- audit trail ----------------------------------------------------------------------------


def test_audit_trail_pages_by_id_and_refuses_update_and_delete(
    uow: SqlAlchemyUnitOfWork, session_factory: sessionmaker[Session], world: World
) -> None:
    incident_id = new_incident_id(session_factory, world)
    with uow:
        for n in range(5):
            uow.audit.add(
                "incident.viewed",
                f"incident:{incident_id}",
                actor_id=world.user_id,
                school_id=world.school_id,
                incident_id=incident_id,
                reason="review" if n == 0 else None,
                new_values={"n": n},
            )
        uow.commit()

    with uow:
        page_one = uow.audit.list_for_incident(incident_id, limit=3)
        page_two = uow.audit.list_for_incident(incident_id, limit=3, after_id=page_one[-1].id)
    assert [e.new_values for e in page_one + page_two] == [{"n": n} for n in range(5)]
    assert page_one[0].reason == "review" and page_one[1].old_values is None

    for statement in ("UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events"):
        with uow, pytest.raises(IntegrityError, match="append-only"):
            uow.session.execute(text(f"{statement} WHERE incident_id = :i"), {"i": incident_id})
    with uow:
        assert len(uow.audit.list_for_incident(incident_id, limit=10)) == 5


# --- inbox ----------------------------------------------------------------------------------


def test_inbox_lists_ready_tasks_overdue_first_and_pages(
    uow: SqlAlchemyUnitOfWork, session_factory: sessionmaker[Session], world: World
) -> None:
    other = make_world(session_factory)
    hour = timedelta(hours=1)
    with uow:
        excluded_person = uow.users.add(f"x-{secrets.token_hex(4)}@school.example", "X", "h")
        incident, hidden, elsewhere = (add_incident(uow, w) for w in (world, world, other))
        uow.session.flush()
        uow.incidents.exclude(hidden.id, excluded_person.id, "related to the child", world.user_id)
        tasks = {  # name: (incident, role, due_at, created_at, state)
            "due_later": (incident, "dsl", NOW + 48 * hour, NOW, "ready"),
            "no_due_new": (incident, "dsl", None, NOW - 24 * hour, "ready"),
            "overdue_most": (incident, "dsl", NOW - 72 * hour, NOW, "ready"),
            "no_due_old": (incident, "dsl", None, NOW - 48 * hour, "ready"),
            "overdue": (hidden, "dsl", NOW - hour, NOW, "ready"),
            "head": (incident, "headteacher", NOW - 240 * hour, NOW, "ready"),
            "done": (incident, "dsl", NOW - 120 * hour, NOW, "completed"),
            "other_school": (elsewhere, "dsl", NOW - 500 * hour, NOW, "ready"),
        }
        ids = {name: f"{incident.id}-{name}" for name in tasks}
        for name, (owner, role, due_at, created_at, state) in tasks.items():
            task = uow.tasks.add(
                task_id=ids[name],
                incident_id=owner.id,
                school_id=owner.school_id,
                bpmn_id=name,
                name=name,
                role=role,
            )
            task.due_at, task.created_at, task.state = due_at, created_at, state
        uow.commit()

    with uow:
        pages = [
            uow.tasks.ready_for(world.school_id, {"dsl"}, limit=2, offset=offset)
            for offset in (0, 2, 4)
        ]
        assert [[t.bpmn_id for t in page] for page in pages] == [
            ["overdue_most", "overdue"],
            ["due_later", "no_due_old"],
            ["no_due_new"],
        ]
        assert pages[0][0].incident.reference == incident.reference
        for_head = uow.tasks.ready_for(world.school_id, {"dsl", "headteacher"}, limit=1)
        assert [t.bpmn_id for t in for_head] == ["head"]
        kept_out = uow.tasks.ready_for(
            world.school_id, {"dsl"}, user_id=excluded_person.id, limit=10
        )
        assert "overdue" not in [t.bpmn_id for t in kept_out] and len(kept_out) == 4
        assert uow.incidents.is_excluded(hidden.id, excluded_person.id)
        with pytest.raises(ValueError, match="limit 0 out of range"):
            uow.tasks.ready_for(world.school_id, {"dsl"}, limit=0)


# --- values and constraints -----------------------------------------------------------------


def test_timestamps_come_back_as_aware_utc_and_naive_ones_are_refused(
    uow: SqlAlchemyUnitOfWork, session_factory: sessionmaker[Session], world: World
) -> None:
    late_evening_in_new_york = datetime(
        2026, 3, 1, 22, 30, 5, 123456, timezone(timedelta(hours=-5))
    )
    with uow:
        incident = add_incident(uow, world)
        incident.next_timer_at = late_evening_in_new_york
        uow.commit()

    with SqlAlchemyUnitOfWork(session_factory) as check:
        stored = check.incidents.get(incident.id)
        assert stored is not None and stored.next_timer_at is not None
        assert stored.next_timer_at == late_evening_in_new_york
        assert stored.next_timer_at.tzinfo is UTC
        assert stored.next_timer_at.isoformat() == "2026-03-02T03:30:05.123456+00:00"
        assert stored.created_at.tzinfo is UTC
        due = select(Incident.id).where(
            Incident.id == incident.id, Incident.next_timer_at <= NOW - timedelta(hours=5)
        )
        assert check.session.scalar(due) == incident.id

    with uow, pytest.raises(StatementError, match=r"naive datetime .* refused"):
        naive = add_incident(uow, world)
        naive.next_timer_at = datetime(2026, 3, 1, 12, 0)
        uow.commit()


def test_email_is_unique_whatever_its_case(uow: SqlAlchemyUnitOfWork) -> None:
    email = f"Jo.Bloggs.{secrets.token_hex(4)}@School.Example"
    with uow:
        user = uow.users.add(email, "Jo", "hash")
        uow.commit()
    assert user.email == email.lower()
    with uow:
        found = uow.users.get_by_email(email.upper())
        assert found is not None and found.id == user.id
        with pytest.raises(IntegrityError):
            uow.users.add(email.upper(), "Jo again", "hash")
    with uow, pytest.raises(IntegrityError):  # the database refuses upper case on its own too
        uow.session.execute(
            text(
                "INSERT INTO users (email, display_name, password_hash, is_active, created_at) "
                "VALUES (:e, 'X', 'h', true, :t)"
            ),
            {"e": "UPPER@School.Example", "t": NOW.replace(tzinfo=None)},
        )


def test_roles_are_per_school_unique_and_known(
    uow: SqlAlchemyUnitOfWork, session_factory: sessionmaker[Session], world: World
) -> None:
    other = make_world(session_factory)
    with uow:
        uow.users.grant(world.user_id, other.school_id, "headteacher")
        uow.users.grant(world.user_id, other.school_id, "dsl")
        uow.commit()
    with uow:
        assert uow.users.roles_in(world.user_id, world.school_id) == {"dsl"}
        assert uow.users.roles_in(world.user_id, other.school_id) == {"dsl", "headteacher"}
        assert uow.users.school_ids_of(world.user_id) == sorted([world.school_id, other.school_id])
    with uow, pytest.raises(IntegrityError):
        uow.users.grant(world.user_id, world.school_id, "dsl")
    with uow, pytest.raises(IntegrityError):
        uow.users.grant(world.user_id, world.school_id, "superuser")


def test_api_tokens_are_stored_as_their_hash_only(uow: SqlAlchemyUnitOfWork, world: World) -> None:
    token = secrets.token_urlsafe(32)
    with uow:
        record = uow.tokens.add(world.user_id, token, "laptop")
        uow.commit()
    with uow:
        stored = uow.session.get(ApiToken, record.id)
        assert stored is not None
        assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest() != token
        found = uow.tokens.find_active(token)
        assert found is not None and found.id == record.id
        uow.tokens.revoke([record.id], NOW)
        uow.commit()
    with uow:
        assert uow.tokens.find_active(token) is None


def test_references_count_up_per_school_and_are_unique_in_it(
    uow: SqlAlchemyUnitOfWork, session_factory: sessionmaker[Session], world: World
) -> None:
    other = make_world(session_factory)
    with uow:
        assert uow.incidents.next_reference(world.school_id, 2026) == "DS-2026-0001"
        first = add_incident(uow, world)
        uow.session.flush()
        assert uow.incidents.next_reference(world.school_id, 2026) == "DS-2026-0002"
        assert uow.incidents.next_reference(other.school_id, 2026) == "DS-2026-0001"
        assert uow.incidents.next_reference(world.school_id, 2027) == "DS-2027-0001"
        uow.commit()
    with uow, pytest.raises(IntegrityError):
        uow.incidents.add(
            school_id=world.school_id,
            definition_version_id=world.version_id,
            reference=first.reference,
            state="{}",
            created_by=None,
        )
        uow.commit()


def test_children_are_linked_to_incidents_by_role(
    uow: SqlAlchemyUnitOfWork, session_factory: sessionmaker[Session], world: World
) -> None:
    incident_id = new_incident_id(session_factory, world)
    with uow:
        pictured = uow.children.add(world.school_id, "Child A", datetime(2012, 5, 1).date())
        shared = uow.children.add(world.school_id, "Child B", None)
        uow.children.link(incident_id, pictured.id, "pictured")
        uow.children.link(incident_id, shared.id, "shared")
        uow.commit()
    with uow:
        involved = uow.children.for_incident(incident_id, limit=10)
    assert [(c.display_name, c.date_of_birth, role) for c, role in involved] == [
        ("Child A", datetime(2012, 5, 1).date(), "pictured"),
        ("Child B", None, "shared"),
    ]


def test_outbox_hands_out_due_unsent_messages_in_order(empty_db_url: str) -> None:
    # A database of its own: other tests' unsent rows (the session database is shared, and
    # pytest-xdist interleaves files) would take the first places in `pending`.
    upgrade_database(empty_db_url)
    engine = make_engine(empty_db_url)
    try:
        _outbox_in_order(SqlAlchemyUnitOfWork(make_session_factory(engine)))
    finally:
        engine.dispose()


def _outbox_in_order(uow: SqlAlchemyUnitOfWork) -> None:
    tag = secrets.token_hex(4)
    with uow:
        first = uow.outbox.add("school.1.dsl", "TaskReady", {"n": 1}, message_id=f"{tag}-1")
        later = uow.outbox.add(
            "school.1.dsl",
            "TaskReady",
            {"n": 2},
            available_at=datetime.now(UTC) + timedelta(days=1),
        )
        second = uow.outbox.add("school.1.dsl", "TimerSet", {"n": 3})
        uow.commit()
    mine = {first.id, later.id, second.id}
    with uow:
        pending = [m.id for m in uow.outbox.pending(limit=500)]
        assert pending == [first.id, second.id]
        assert first.attempts == 0 and len(second.message_id) == 36
        uow.outbox.mark_sent([first.id], NOW)
        uow.commit()
    with uow:
        assert [m.id for m in uow.outbox.pending(limit=500) if m.id in mine] == [second.id]
        assert uow.session.get(HumanTask, "no-such-task") is None
