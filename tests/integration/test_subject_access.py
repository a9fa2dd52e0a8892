"""Subject access: one child's records with every other child's name withheld everywhere."""

# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends
from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.db import SqlAlchemyUnitOfWork
from services.db.models import AuditEvent
from services.domain.bus import MessageBus
from services.domain.children.messages import AddParty, NameChild, SubjectAccessExport
from services.domain.clock import FixedClock
from services.domain.commands import CompleteTask, StartIncident
from services.domain.errors import AccessDenied, NotFound
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

OTHERS = ("Grace Hopper", "Linus Torvald")


def test_the_export_withholds_every_other_childs_name_in_every_field(
    bus: MessageBus,
    people: People,
    deployed: Deployed,
    clock: FixedClock,
    session_factory: sessionmaker[Session],
) -> None:
    data = disclosure_data("x")
    data["what_was_said"] = "Ada Lovelace said Grace Hopper and linus torvald passed it round."
    outcome = bus.handle(StartIncident(people.school_id, people.reporter, data))
    incident = outcome.incident_id
    assert incident is not None
    subject = bus.handle(
        NameChild(
            incident, people.dsl, "pictured", name="Ada Lovelace", date_of_birth=date(2011, 1, 1)
        )
    ).child_id
    for name in OTHERS:
        bus.handle(NameChild(incident, people.dsl, "shared", name=name))
    bus.handle(AddParty(incident, people.dsl, "Karl Brandt", "adult"))
    clock.advance(timedelta(hours=1))
    review = dict(scenario_steps("s1.json")[1]["data"])
    review["what_is_known"] = "Hopper sent it to GRACE's friend; Karl Brandt asked Linus for it."
    review["relevant_facts_about_children"] = "Grace Hopper: no known needs. Ada: none."
    bus.handle(
        CompleteTask(the_ready(session_factory, incident, "initial_review").id, people.dsl, review)
    )

    export = bus.handle(SubjectAccessExport(subject, people.head))
    text = json.dumps(export)
    for name in (*OTHERS, "Grace", "Hopper", "Linus", "Torvald", "Karl Brandt"):
        assert name.lower() not in text.lower(), name
    assert export["child"]["name"] == "Ada Lovelace"
    (record,) = export["incidents"]
    assert record["role_of_the_child"] == ["pictured"]
    said = record["steps"][0]["answers"]["what_was_said"]
    assert said == "Ada Lovelace said [another child] and [another child] passed it round."
    known = record["steps"][1]["answers"]["what_is_known"]
    assert "[third party]" in known and "[another child]" in known
    places = {w["where"] for w in export["withheld"]}
    assert any(p.endswith("what_was_said") for p in places)
    assert any(p.endswith("relevant_facts_about_children") for p in places)
    assert {w["what"] for w in export["withheld"]} >= {
        "the name of another child",
        "a third party's details",
    }
    assert export["chronology"]
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        logged = uow.session.scalars(
            select(AuditEvent.action).where(AuditEvent.target == f"child:{subject}")
        ).all()
    assert "child.subject_access_exported" in logged


def test_only_the_dsl_and_headteacher_export(
    bus: MessageBus, people: People, deployed: Deployed
) -> None:
    outcome = bus.handle(StartIncident(people.school_id, people.reporter, disclosure_data("x")))
    assert outcome.incident_id is not None
    child = bus.handle(
        NameChild(outcome.incident_id, people.reporter, "disclosed", name="Sam")
    ).child_id
    for reader in (people.reporter, people.auditor, people.admin):
        with pytest.raises(AccessDenied):
            bus.handle(SubjectAccessExport(child, reader))
    with pytest.raises(NotFound):
        bus.handle(SubjectAccessExport(child, people.outsider))
    assert bus.handle(SubjectAccessExport(child, people.dsl))["child"]["name"] == "Sam"
