"""Children as records: naming, confirming, merging, and a child's chronology (issue 11)."""

# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.db import SqlAlchemyUnitOfWork
from services.db.models import AuditEvent, Child, IncidentChild, OutboxMessage
from services.domain.bus import MessageBus
from services.domain.children.messages import (
    AddParty,
    ConfirmChild,
    MergeChildren,
    NameChild,
    PeopleOfIncident,
    ReadChronology,
    SchoolChildren,
)
from services.domain.clock import FixedClock
from services.domain.commands import CompleteTask, StartIncident
from services.domain.errors import AccessDenied, Conflict, NotFound, RequestInvalid
from services.domain.results import Deployed
from tests.integration.service_fixtures import (  # noqa: F401
    People,
    bus,
    clock,
    deployed,
    disclosure_data,
    people,
    scenario_steps,
    the_ready,
)

CHILD_NAME = "Zebedee Quillfeather"  # must never reach the outbox


def start(bus: MessageBus, people: People) -> str:
    """Report a concern as the staff reporter; return the incident id."""
    outcome = bus.handle(StartIncident(people.school_id, people.reporter, disclosure_data("x")))
    assert outcome.incident_id is not None
    return outcome.incident_id


def audit_actions(session_factory: sessionmaker[Session], target: str) -> list[str]:
    """The audit actions on one target, in order."""
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        query = select(AuditEvent.action).where(AuditEvent.target == target)
        return list(uow.session.scalars(query.order_by(AuditEvent.id)))


def test_staff_names_a_child_unconfirmed_and_the_dsl_confirms(
    bus: MessageBus, people: People, deployed: Deployed, session_factory: sessionmaker[Session]
) -> None:
    incident_id = start(bus, people)
    named = bus.handle(NameChild(incident_id, people.reporter, "pictured", name=f"  {CHILD_NAME} "))
    assert named.created
    seen = bus.handle(PeopleOfIncident(incident_id, people.dsl))
    (child,) = seen.children
    assert (child.name, child.confirmed, child.roles) == (CHILD_NAME, False, ("pictured",))
    assert seen.may_lead and seen.may_name
    bus.handle(ConfirmChild(named.child_id, people.dsl))
    (child,) = bus.handle(PeopleOfIncident(incident_id, people.dsl)).children
    assert child.confirmed
    actions = audit_actions(session_factory, f"child:{named.child_id}")
    assert actions == ["child.added", "child.linked", "child.confirmed"]
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        payloads = [str(m.payload) for m in uow.session.scalars(select(OutboxMessage))]
    assert not [p for p in payloads if "Quillfeather" in p]


def test_a_dsl_cannot_add_a_child_the_school_knows_and_links_them_instead(
    bus: MessageBus, people: People, deployed: Deployed
) -> None:
    first, second = start(bus, people), start(bus, people)
    born = date(2011, 3, 4)
    child = bus.handle(
        NameChild(first, people.dsl, "shared", name="Ada Lovelace", date_of_birth=born)
    ).child_id
    with pytest.raises(Conflict, match=f"child {child}"):
        bus.handle(
            NameChild(second, people.dsl, "received", name="ada  LOVELACE", date_of_birth=born)
        )
    again = bus.handle(NameChild(second, people.dsl, "received", child_id=child))
    assert (again.child_id, again.created) == (child, False)
    with pytest.raises(Conflict):
        bus.handle(NameChild(second, people.dsl, "received", child_id=child))
    # Staff may not link known children (they cannot see the school's list).
    with pytest.raises(AccessDenied):
        bus.handle(NameChild(second, people.reporter, "pictured", child_id=child))
    # Another school's child is not found.
    with pytest.raises(NotFound):
        bus.handle(NameChild(second, people.outsider, "pictured", name="Someone"))


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"role": "watched"}, "role must be one of"),
        ({"name": "   "}, "name: enter"),
        ({"name": "x" * 201}, "at most 200"),
        ({"date_of_birth": date(2099, 1, 1)}, "date_of_birth"),
        ({"year_group": "y" * 21}, "year_group"),
    ],
)
def test_bad_child_details_are_refused_naming_the_field_and_nothing_is_written(
    bus: MessageBus,
    people: People,
    deployed: Deployed,
    session_factory: sessionmaker[Session],
    changes: dict[str, object],
    problem: str,
) -> None:
    incident_id = start(bus, people)
    fields: dict[str, object] = {"role": "pictured", "name": "A Child", **changes}
    with pytest.raises(RequestInvalid, match=problem):
        bus.handle(NameChild(incident_id, people.dsl, **fields))  # type: ignore[arg-type]
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        links = uow.session.scalars(
            select(IncidentChild).where(IncidentChild.incident_id == incident_id)
        )
        assert list(links) == []


def test_auditors_and_outsiders_cannot_name_children(
    bus: MessageBus, people: People, deployed: Deployed
) -> None:
    incident_id = start(bus, people)
    with pytest.raises(AccessDenied):
        bus.handle(NameChild(incident_id, people.auditor, "pictured", name="A"))
    with pytest.raises(NotFound):
        bus.handle(NameChild(incident_id, people.outsider, "pictured", name="A"))
    with pytest.raises(NotFound):
        bus.handle(NameChild("no-such-incident", people.dsl, "pictured", name="A"))


def test_merging_a_duplicate_moves_its_links_and_needs_a_reason(
    bus: MessageBus, people: People, deployed: Deployed, session_factory: sessionmaker[Session]
) -> None:
    first, second = start(bus, people), start(bus, people)
    known = bus.handle(
        NameChild(first, people.dsl, "pictured", name="Known Child", date_of_birth=date(2010, 1, 1))
    ).child_id
    duplicate = bus.handle(
        NameChild(second, people.reporter, "pictured", name="Known Chld")
    ).child_id
    with pytest.raises(RequestInvalid, match="reason"):
        bus.handle(MergeChildren(duplicate, known, people.dsl, " "))
    with pytest.raises(AccessDenied):
        bus.handle(MergeChildren(duplicate, known, people.head, "same child"))
    assert bus.handle(MergeChildren(duplicate, known, people.dsl, "same child, misspelt")) == known
    (child,) = bus.handle(PeopleOfIncident(second, people.dsl)).children
    assert (child.id, child.name) == (known, "Known Child")
    listed = bus.handle(SchoolChildren(people.school_id, people.dsl, search="known"))
    assert [c.id for c in listed] == [known]  # the duplicate no longer appears
    # Reading the duplicate's chronology reads the surviving child's.
    assert bus.handle(ReadChronology(duplicate, people.dsl)).child.id == known
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        merged = uow.session.get(Child, duplicate)
        assert merged is not None and merged.merged_into_id == known
        event = uow.session.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "child.merged", AuditEvent.target == f"child:{duplicate}"
            )
        )
        assert event is not None and event.reason == "same child, misspelt"
        # The event has no incident, so deleting the child's incidents cannot erase it: it
        # names the records by id only, never by name.
        assert "Chld" not in str(event.old_values) + str(event.new_values)
        listed_event = uow.session.scalar(
            select(AuditEvent)
            .where(AuditEvent.action == "children.listed")
            .order_by(AuditEvent.id.desc())
        )
        assert listed_event is not None and "known" not in str(listed_event.new_values).lower()


def test_adults_are_recorded_as_parties_of_the_incident(
    bus: MessageBus, people: People, deployed: Deployed
) -> None:
    incident_id = start(bus, people)
    bus.handle(AddParty(incident_id, people.dsl, "Adult, 19, not staff", "adult"))
    with pytest.raises(RequestInvalid, match="kind"):
        bus.handle(AddParty(incident_id, people.dsl, "Someone", "alien"))
    (party,) = bus.handle(PeopleOfIncident(incident_id, people.head)).parties
    assert (party.description, party.kind) == ("Adult, 19, not staff", "adult")


def test_chronology_lists_every_incident_of_the_child_in_date_order_with_decisions(
    bus: MessageBus,
    people: People,
    deployed: Deployed,
    clock: FixedClock,
    session_factory: sessionmaker[Session],
) -> None:
    first = start(bus, people)
    child = bus.handle(
        NameChild(first, people.dsl, "pictured", name="Chron Child", date_of_birth=date(2011, 6, 1))
    ).child_id
    clock.advance(timedelta(hours=2))
    review = the_ready(session_factory, first, "initial_review")
    bus.handle(CompleteTask(review.id, people.dsl, scenario_steps("s2.json")[1]["data"]))
    clock.advance(timedelta(days=3))
    second = start(bus, people)
    bus.handle(NameChild(second, people.dsl, "shared", child_id=child))
    other = start(bus, people)  # an incident without this child

    chronology = bus.handle(ReadChronology(child, people.head))
    assert chronology.child.name == "Chron Child"
    times = [e.at for e in chronology.entries]
    assert times == sorted(times)
    incidents = [e.incident_id for e in chronology.entries]
    assert other not in incidents
    assert incidents[0] == first and incidents[-1] == second
    review_entry = next(e for e in chronology.entries if "initial review" in e.what)
    assert "an adult is involved" in review_entry.decided
    assert chronology.entries[0].what == "Concern reported (pictured)"
    assert audit_actions(session_factory, f"child:{child}")[-1] == "child.chronology_viewed"


def test_only_the_dsl_and_headteacher_read_a_chronology(
    bus: MessageBus, people: People, deployed: Deployed, session_factory: sessionmaker[Session]
) -> None:
    incident_id = start(bus, people)
    child = bus.handle(
        NameChild(incident_id, people.reporter, "disclosed", name="Private")
    ).child_id
    for reader in (people.reporter, people.staff, people.auditor, people.admin):
        with pytest.raises(AccessDenied):
            bus.handle(ReadChronology(child, reader))
    with pytest.raises(NotFound):
        bus.handle(ReadChronology(child, people.outsider))
    with pytest.raises(NotFound):
        bus.handle(ReadChronology(10**9, people.dsl))
    assert "child.chronology_viewed" not in audit_actions(session_factory, f"child:{child}")
    bus.handle(ReadChronology(child, people.dsl))
    assert audit_actions(session_factory, f"child:{child}").count("child.chronology_viewed") == 1
