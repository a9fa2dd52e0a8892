"""Report rows are built under the school's audit chain head, so a concurrent writer never
builds an incident's row from what it was before another transaction's commit, and the two
never deadlock over the head and the row.

The holder closes an incident and stops inside its commit, after its report rows are written.
A second transaction on the same incident then commits: with other writes of its own (its
audit events held back while they flush) or with its audit event alone. It must wait for the
holder, then build the row from the holder's commit.
"""

# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends
from __future__ import annotations

import secrets
import threading

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.orm import Session, sessionmaker

from services.db.models import AuditEvent, Incident, IncidentReportRow, School
from services.domain.bus import MessageBus
from services.domain.commands import StartIncident
from tests.integration.messaging_fixtures import wait_until
from tests.integration.service_fixtures import (  # noqa: F401
    People,
    bus,
    clock,
    deployed,
    disclosure_data,
    people,
)


@pytest.mark.parametrize("second", ["with_other_writes", "audit_event_only"])
def test_a_commit_waiting_on_the_head_builds_the_row_from_the_holders_commit(
    backend: str,
    second: str,
    bus: MessageBus,
    people: People,
    deployed: object,
    session_factory: sessionmaker[Session],
) -> None:
    if backend != "postgres":
        pytest.skip("row locks are PostgreSQL's: SQLite takes one write lock at the first write")
    outcome = bus.handle(StartIncident(people.school_id, people.reporter, disclosure_data("x")))
    incident_id = outcome.incident_id
    assert incident_id is not None
    errors: list[BaseException] = []
    pids: list[int] = []

    def other_commit() -> None:
        with session_factory() as other:
            try:
                pids.append(other.execute(text("SELECT pg_backend_pid()")).scalar_one())
                if second == "with_other_writes":
                    tag = secrets.token_hex(4)
                    other.add(School(name=f"School {tag}", slug=f"school-{tag}"))
                other.add(_event(people, incident_id, "child.linked"))
                other.commit()
            except BaseException as error:  # reported below, not lost in the thread
                errors.append(error)

    other = threading.Thread(target=other_commit)

    def start_the_other_and_wait_for_it(_session: Session) -> None:
        # The holder's rows are written and its commit not yet sent: the other goes now.
        other.start()
        with session_factory() as probe:

            def other_waits_for_a_lock() -> bool:
                if not pids:
                    return False
                found = probe.execute(
                    text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"),
                    {"pid": pids[0]},
                ).scalar()
                probe.rollback()  # pg_stat_activity is read once per transaction
                return found == "Lock"

            wait_until(other_waits_for_a_lock, 10, "the other commit to wait for a lock")

    with session_factory() as holder:
        incident = holder.get(Incident, incident_id, with_for_update=True)
        assert incident is not None
        incident.status = "closed"
        holder.add(_event(people, incident_id, "incident.closed"))
        # Runs after the projection's (a session's own listeners follow the class's).
        event.listen(holder, "before_commit", start_the_other_and_wait_for_it)
        holder.commit()
    other.join()

    assert not errors, errors
    with session_factory() as reader:
        status = reader.scalar(
            select(IncidentReportRow.status).where(IncidentReportRow.incident_id == incident_id)
        )
    assert status == "closed"


def _event(people: People, incident_id: str, action: str) -> AuditEvent:
    return AuditEvent(
        action=action,
        target=f"incident:{incident_id}",
        actor_id=people.dsl,
        school_id=people.school_id,
        incident_id=incident_id,
    )
