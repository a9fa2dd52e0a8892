"""Child protection file transfers: receipt, in-app acceptance, escalation on school days."""

# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.db import SqlAlchemyUnitOfWork
from services.db.models import AuditEvent, FileTransfer, Notification
from services.domain.bus import MessageBus, bootstrap
from services.domain.children.messages import (
    AcceptTransfer,
    ExportTransferPack,
    NameChild,
    ReadChronology,
    ReadTransfer,
    ReadTransfers,
    RecordReceipt,
    SendFile,
)
from services.domain.clock import FixedClock
from services.domain.commands import StartIncident
from services.domain.errors import AccessDenied, Conflict, NotFound, RequestInvalid
from services.domain.handlers.transfers import escalate_overdue_transfers
from services.domain.results import Deployed
from services.scheduling.calendars import school_calendars
from tests.integration.service_fixtures import (  # noqa: F401
    People,
    deployed,
    disclosure_data,
    people,
)

FRIDAY = datetime(2026, 9, 11, 9, 0, tzinfo=UTC)  # 10:00 in London


@pytest.fixture
def clock() -> FixedClock:
    """The clock, on a Friday morning."""
    return FixedClock(FRIDAY)


@pytest.fixture
def bus(session_factory: sessionmaker[Session], clock: FixedClock) -> MessageBus:
    """A bus counting school days as the running app does."""
    return bootstrap(session_factory, clock=clock, calendar=school_calendars())


def a_child(bus: MessageBus, people: People) -> tuple[str, int]:
    """An incident with a named child; return both ids."""
    outcome = bus.handle(StartIncident(people.school_id, people.reporter, disclosure_data("x")))
    assert outcome.incident_id is not None
    child = bus.handle(
        NameChild(
            outcome.incident_id,
            people.dsl,
            "pictured",
            name="Moving Pupil",
            date_of_birth=date(2012, 1, 2),
        )
    ).child_id
    return outcome.incident_id, child


def send(bus: MessageBus, people: People, child: int) -> int:
    """Send the child's file by secure email to a school outside the system."""
    return bus.handle(
        SendFile(
            child,
            people.dsl,
            "Northfield Academy",
            "secure_email",
            "Child protection file and chronology, separately from the pupil file",
        )
    )


def test_the_deadline_is_five_school_days_and_a_late_file_is_escalated_once(
    bus: MessageBus,
    people: People,
    deployed: Deployed,
    clock: FixedClock,
    session_factory: sessionmaker[Session],
) -> None:
    _, child = a_child(bus, people)
    transfer_id = send(bus, people, child)
    line = bus.handle(ReadTransfer(transfer_id, people.head))
    assert line.due_at == datetime(2026, 9, 18, 9, 0, tzinfo=UTC)  # next Friday, 10:00 London
    deps = bus.dependencies
    assert escalate_overdue_transfers(deps, line.due_at - timedelta(minutes=1)) == 0
    assert escalate_overdue_transfers(deps, line.due_at) == 1
    assert escalate_overdue_transfers(deps, line.due_at + timedelta(days=1)) == 0
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        told = uow.session.scalars(
            select(Notification).where(Notification.link == f"/transfers/{transfer_id}")
        ).all()
        assert {n.user_id for n in told} == {people.dsl, people.deputy, people.head}
        assert all("Moving" not in n.text for n in told)
        actions = uow.session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.target == f"file_transfer:{transfer_id}")
            .order_by(AuditEvent.id)  # PostgreSQL returns rows in any order without one
        ).all()
        assert actions[0] == "file_transfer.sent" and "file_transfer.overdue" in actions
    clock.set(line.due_at + timedelta(days=1))
    assert bus.handle(ReadTransfer(transfer_id, people.dsl)).escalated_at == line.due_at


def test_a_recorded_receipt_stops_the_escalation_and_joins_the_chronology(
    bus: MessageBus, people: People, deployed: Deployed, clock: FixedClock
) -> None:
    _, child = a_child(bus, people)
    transfer_id = send(bus, people, child)
    clock.advance(timedelta(days=3))
    with pytest.raises(RequestInvalid, match="received_by"):
        bus.handle(RecordReceipt(transfer_id, people.dsl, " ", clock.now().date()))
    with pytest.raises(RequestInvalid, match="received_on"):
        bus.handle(RecordReceipt(transfer_id, people.dsl, "Ms Khan, DSL", date(2026, 9, 1)))
    with pytest.raises(AccessDenied):
        bus.handle(RecordReceipt(transfer_id, people.head, "Ms Khan, DSL", clock.now().date()))
    bus.handle(RecordReceipt(transfer_id, people.dsl, "Ms Khan, DSL", clock.now().date()))
    with pytest.raises(Conflict):
        bus.handle(RecordReceipt(transfer_id, people.dsl, "Ms Khan, DSL", clock.now().date()))
    assert escalate_overdue_transfers(bus.dependencies, clock.now() + timedelta(days=30)) == 0
    whats = [e.what for e in bus.handle(ReadChronology(child, people.head)).entries]
    assert "Child protection file sent to Northfield Academy (secure email)" in whats
    assert whats[-1] == "Receipt confirmed by Ms Khan, DSL"
    pack = bus.handle(ExportTransferPack(transfer_id, people.dsl))
    assert pack.chronology.child.name == "Moving Pupil" and pack.chronology.entries
    (listed,) = bus.handle(ReadTransfers(people.dsl, child_id=child))
    assert listed.status == "received" and not listed.may_record_receipt


def test_a_school_in_the_same_trust_accepts_the_file_in_the_app(
    bus: MessageBus,
    people: People,
    deployed: Deployed,
    clock: FixedClock,
    session_factory: sessionmaker[Session],
) -> None:
    incident_id, child = a_child(bus, people)
    transfer_id = bus.handle(
        SendFile(child, people.dsl, "", "", "The whole file", to_school_id=people.other_school_id)
    )
    incoming = bus.handle(ReadTransfers(people.outsider, school_id=people.other_school_id))
    assert [(t.id, t.may_accept) for t in incoming] == [(transfer_id, True)]
    with pytest.raises(NotFound):
        bus.handle(AcceptTransfer(transfer_id, people.staff))  # no role in the receiving school
    clock.advance(timedelta(days=1))
    received = bus.handle(AcceptTransfer(transfer_id, people.outsider))
    assert received != child
    chronology = bus.handle(ReadChronology(received, people.outsider))
    assert chronology.child.school_id == people.other_school_id
    whats = [e.what for e in chronology.entries]
    assert whats[-1].startswith("Child protection file received from School")
    assert any("Concern reported (pictured)" in w for w in whats)
    assert all(e.incident_id is None for e in chronology.entries)  # no links into the other school
    sender_view = bus.handle(ReadTransfer(transfer_id, people.dsl))
    assert sender_view.status == "received" and "accepted in the app" in (
        sender_view.received_by or ""
    )
    with pytest.raises(Conflict):
        bus.handle(AcceptTransfer(transfer_id, people.outsider))
    with pytest.raises(NotFound):
        bus.handle(ReadChronology(child, people.outsider))  # the old record stays the old school's
    del incident_id


def test_bad_transfers_are_refused_and_write_nothing(
    bus: MessageBus, people: People, deployed: Deployed, session_factory: sessionmaker[Session]
) -> None:
    _, child = a_child(bus, people)
    cases = [
        (SendFile(child, people.dsl, "", "secure_email", "file"), "to_school_name"),
        (SendFile(child, people.dsl, "X", "pigeon", "file"), "method"),
        (SendFile(child, people.dsl, "X", "in_app", "file"), "method"),
        (SendFile(child, people.dsl, "X", "by_hand", " "), "what_sent"),
        (SendFile(child, people.dsl, "", "", "f", to_school_id=people.school_id), "to_school_id"),
        (SendFile(child, people.dsl, "", "", "f", to_school_id=10**8), "to_school_id"),
    ]
    for command, problem in cases:
        with pytest.raises(RequestInvalid, match=problem):
            bus.handle(command)
    with pytest.raises(AccessDenied):
        bus.handle(SendFile(child, people.reporter, "X", "by_hand", "file"))
    with pytest.raises(NotFound):
        bus.handle(SendFile(10**8, people.dsl, "X", "by_hand", "file"))
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        assert (
            uow.session.scalars(select(FileTransfer).where(FileTransfer.child_id == child)).all()
            == []
        )
