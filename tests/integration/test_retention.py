"""Retention: review dates from the youngest birth, keep, legal hold, deletion (issue 11)."""

# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.db import SqlAlchemyUnitOfWork
from services.db.models import AuditEvent, CaseAnswer, Child, HumanTask, Incident, IncidentChild
from services.domain.audit_verification import verify_audit_trail
from services.domain.bus import MessageBus
from services.domain.children.messages import (
    DeleteIncident,
    KeepRecord,
    NameChild,
    ReadRetention,
    ReviewQueue,
    SetLegalHold,
    SetRetentionYears,
)
from services.domain.clock import FixedClock
from services.domain.commands import StartIncident
from services.domain.errors import AccessDenied, Conflict, NotFound, RequestInvalid
from services.domain.results import Deployed
from tests.integration.service_fixtures import (  # noqa: F401
    People,
    bus,
    clock,
    deployed,
    disclosure_data,
    people,
)


def incident_with(bus: MessageBus, people: People, *births: date | None) -> str:
    """An incident with one child per date of birth given."""
    outcome = bus.handle(StartIncident(people.school_id, people.reporter, disclosure_data("x")))
    assert outcome.incident_id is not None
    for number, born in enumerate(births):
        bus.handle(
            NameChild(
                outcome.incident_id,
                people.dsl,
                "pictured",
                name=f"Child {outcome.incident_id[:6]} {number}",
                date_of_birth=born,
            )
        )
    return outcome.incident_id


def test_the_review_date_is_the_youngest_childs_birth_plus_the_schools_years(
    bus: MessageBus, people: People, deployed: Deployed
) -> None:
    incident = incident_with(bus, people, date(2010, 5, 1), date(2012, 2, 29), None)
    line = bus.handle(ReadRetention(incident, people.head))
    assert line.youngest_birth == date(2012, 2, 29)
    assert line.review_date == date(2037, 2, 28) and not line.due
    bus.handle(SetRetentionYears(people.school_id, people.dsl, 30))
    assert bus.handle(ReadRetention(incident, people.dsl)).review_date == date(2042, 2, 28)
    with pytest.raises(RequestInvalid):
        bus.handle(SetRetentionYears(people.school_id, people.dsl, 2))
    with pytest.raises(AccessDenied):
        bus.handle(SetRetentionYears(people.school_id, people.head, 30))
    unknown = incident_with(bus, people, None)
    assert bus.handle(ReadRetention(unknown, people.dsl)).review_date is None


def test_the_queue_keep_legal_hold_and_deletion_with_a_verifiable_chain(
    bus: MessageBus,
    people: People,
    deployed: Deployed,
    clock: FixedClock,
    session_factory: sessionmaker[Session],
) -> None:
    old = incident_with(bus, people, date(1999, 9, 1))  # reviewed in 2024: due
    young = incident_with(bus, people, date(2012, 1, 1))  # reviewed in 2037: not due
    queue = bus.handle(ReviewQueue(people.school_id, people.dsl))
    assert [line.incident_id for line in queue] == [old]
    with pytest.raises(Conflict, match="not due"):
        bus.handle(DeleteIncident(young, people.dsl, "tidying"))
    with pytest.raises(AccessDenied):
        bus.handle(DeleteIncident(old, people.head, "reviewed"))

    # Keep it for a year, with a reason: it leaves the queue until then.
    with pytest.raises(RequestInvalid, match="until"):
        bus.handle(KeepRecord(old, people.dsl, "ongoing case", clock.now().date()))
    kept = bus.handle(
        KeepRecord(old, people.dsl, "ongoing civil case", clock.now().date() + timedelta(days=365))
    )
    assert kept.kept_until == kept.review_date and not kept.due
    assert bus.handle(ReviewQueue(people.school_id, people.dsl)) == []
    clock.advance(timedelta(days=366))
    assert [line.incident_id for line in bus.handle(ReviewQueue(people.school_id, people.dsl))] == [
        old
    ]

    # A legal hold blocks deletion until lifted.
    bus.handle(SetLegalHold(old, people.dsl, True, "litigation hold from the trust's solicitor"))
    with pytest.raises(Conflict, match="legal hold"):
        bus.handle(DeleteIncident(old, people.dsl, "reviewed: no longer needed"))
    with pytest.raises(Conflict):
        bus.handle(SetLegalHold(old, people.dsl, True, "again"))
    bus.handle(SetLegalHold(old, people.dsl, False, "the case has ended"))

    reference = bus.handle(DeleteIncident(old, people.dsl, "reviewed: no longer needed"))
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        assert uow.session.get(Incident, old) is None
        for model in (HumanTask, CaseAnswer, IncidentChild):
            assert uow.session.scalars(select(model).where(model.incident_id == old)).all() == []
        assert (
            uow.session.scalars(
                select(Child).where(Child.display_name.startswith(f"Child {old[:6]}"))
            ).all()
            == []
        )
        tombstone = uow.session.scalars(
            select(AuditEvent).where(AuditEvent.incident_id == old).order_by(AuditEvent.id.desc())
        ).first()
        assert tombstone is not None and tombstone.action == "incident.deleted"
        assert tombstone.reason == "reviewed: no longer needed"
        assert tombstone.old_values == {"reference": reference}
    verification, _ = verify_audit_trail(
        lambda: SqlAlchemyUnitOfWork(session_factory),
        school_id=people.school_id,
        ran_by="test",
        now=clock.now,
    )
    assert verification.ok, verification.breaks
    with pytest.raises(NotFound):
        bus.handle(ReadRetention(old, people.dsl))
    with pytest.raises(NotFound):
        bus.handle(DeleteIncident(old, people.dsl, "again"))
    assert bus.handle(ReadRetention(young, people.dsl)).review_date == date(2037, 1, 1)


def test_a_child_in_another_record_survives_the_deletion(
    bus: MessageBus, people: People, deployed: Deployed, session_factory: sessionmaker[Session]
) -> None:
    old = incident_with(bus, people, date(1998, 1, 1))
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        child_id = uow.session.scalar(
            select(IncidentChild.child_id).where(IncidentChild.incident_id == old)
        )
    other = incident_with(bus, people)
    bus.handle(NameChild(other, people.dsl, "shared", child_id=child_id))
    bus.handle(DeleteIncident(old, people.dsl, "reviewed"))
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        assert uow.session.get(Child, child_id) is not None
