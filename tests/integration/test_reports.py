"""Reports: the dashboard's figures equal direct counts of the rows (issue 11)."""

# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends
from __future__ import annotations

import itertools
import statistics
from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from services.db import SqlAlchemyUnitOfWork
from services.db.models import (
    CaseAnswer,
    HumanTask,
    Incident,
    IncidentCaseFacts,
    IncidentChild,
    IncidentReportRow,
)
from services.demo_bulk import bulk_copy
from services.demo_incidents import Cast, DemoGenerator
from services.domain.bus import MessageBus, bootstrap
from services.domain.clock import FixedClock
from services.domain.commands import CompleteTask, StartIncident
from services.domain.errors import AccessDenied, NotFound, RequestInvalid
from services.domain.reports.figures import CRITERIA, median_and_p90
from services.domain.reports.messages import REVIEW_LIMITS, ReadReport, ReviewHours
from services.domain.reports.projection import add_missing
from services.domain.results import Deployed
from tests.integration.service_fixtures import (  # noqa: F401
    People,
    bus,
    clock,
    deployed,
    disclosure_data,
    people,
    scenario_steps,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
FROM, TO = date(2026, 6, 1), date(2026, 12, 1)


@pytest.fixture
def seeded(session_factory: sessionmaker[Session], people: People, deployed: Deployed) -> People:
    """A school with 14 engine-made incidents and 30 copies over six months; 3 deleted."""
    cast = Cast(
        people.school_id, {"staff": people.reporter, "dsl": people.dsl, "headteacher": people.head}
    )
    made = DemoGenerator(session_factory, cast, seed=3).generate(14, days=180, now=NOW)
    bulk_copy(session_factory, people.school_id, people.dsl, 30, days=180, seed=4, now=NOW)
    with session_factory() as session:  # deleted incidents leave no rows behind
        session.execute(delete(Incident).where(Incident.id.in_(made[:3])))
        session.commit()
    return people


def direct_counts(session: Session, school_id: int, now: datetime) -> dict[str, Any]:
    """Count the same things the dashboard shows, in Python, from the raw rows."""
    start = datetime(2026, 6, 1, tzinfo=UTC)
    end = datetime(2026, 12, 2, tzinfo=UTC)
    incidents = [
        i
        for i in session.scalars(select(Incident).where(Incident.school_id == school_id))
        if start <= i.created_at < end
    ]
    ids = {i.id for i in incidents}
    facts = {
        f.incident_id: f for f in session.scalars(select(IncidentCaseFacts)) if f.incident_id in ids
    }
    tasks = [t for t in session.scalars(select(HumanTask)) if t.incident_id in ids]
    answers = [
        a
        for a in session.scalars(select(CaseAnswer).order_by(CaseAnswer.id))
        if a.incident_id in ids
    ]
    created = {i.id: i.created_at for i in incidents}

    def latest(bpmn_id: str) -> list[dict[str, Any]]:
        last: dict[str, dict[str, Any]] = {}
        for answer in answers:
            if answer.bpmn_id == bpmn_id:
                last[answer.incident_id] = answer.answers
        return list(last.values())

    reviews = [t for t in tasks if t.bpmn_id == "initial_review"]
    done = [t for t in reviews if t.state == "completed"]
    hours = sorted((t.completed_at - created[t.incident_id]).total_seconds() / 3600 for t in done)  # type: ignore[operator]
    parents = latest("inform_parents_and_carers")
    deletion_tasks = Counter(t.state for t in tasks if t.bpmn_id == "confirm_deletion")
    deletions = latest("confirm_deletion")
    per_child = Counter(
        link.child_id for link in session.scalars(select(IncidentChild)) if link.incident_id in ids
    )
    repeats = Counter("4+" if n >= 4 else str(n) for n in per_child.values() if n >= 2)
    return {
        "incidents": len(incidents),
        "by_status": dict(Counter(i.status for i in incidents)),
        "per_month": sorted(Counter(i.created_at.strftime("%Y-%m") for i in incidents).items()),
        "by_route": dict(
            Counter((facts[i].route if i in facts else None) or "undecided" for i in ids)
        ),
        "by_criterion": {
            c: sum(1 for f in facts.values() if f",{c}," in f.referral_criteria) for c in CRITERIA
        },
        "hours": hours,
        "on_time": sum(1 for t in done if t.due_at is not None and t.completed_at <= t.due_at),  # type: ignore[operator,misc]
        "waiting": sum(1 for t in reviews if t.state == "ready"),
        "overdue": dict(
            Counter(t.name for t in tasks if t.state == "ready" and t.due_at and t.due_at < now)
        ),
        "parents": (
            sum(1 for a in parents if a.get("inform_parents") is True),
            sum(1 for a in parents if a.get("inform_parents") is False),
            sum(
                1
                for a in parents
                if a.get("inform_parents") is False
                and str(a.get("parents_not_informed_reason") or "").strip()
            ),
        ),
        "police": dict(
            Counter(
                a.get("police_outcome") or "not_recorded" for a in latest("record_agency_outcome")
            )
        ),
        "deletion": {
            "confirmed_by_deadline": sum(
                1 for a in deletions if a.get("deletion_confirmed") is True
            ),
            "not_confirmed": sum(1 for a in deletions if a.get("deletion_confirmed") is False),
            "deadline_passed": deletion_tasks.get("cancelled", 0),
            "waiting": deletion_tasks.get("ready", 0),
        },
        "repeats": {"2": repeats.get("2", 0), "3": repeats.get("3", 0), "4+": repeats.get("4+", 0)},
    }


def assert_review_hours(measured: ReviewHours, hours: list[float]) -> None:
    """The database's review-time figures equal Python's on the directly computed hours."""
    assert measured.done == len(hours)
    assert measured.median == pytest.approx(statistics.median(hours), abs=1e-3)
    p90 = statistics.quantiles(hours, n=10, method="inclusive")[8]
    assert measured.p90 == pytest.approx(p90, abs=1e-3)
    edges = [0, *(sum(1 for h in hours if h < limit) for limit in REVIEW_LIMITS), len(hours)]
    assert list(measured.buckets) == [b - a for a, b in itertools.pairwise(edges)]


def test_dashboard_figures_equal_direct_counts(
    seeded: People, session_factory: sessionmaker[Session]
) -> None:
    bus = bootstrap(session_factory, clock=FixedClock(NOW))
    report = bus.handle(ReadReport(seeded.head, FROM, TO, school_id=seeded.school_id))
    figures = report.figures
    with session_factory() as session:
        direct = direct_counts(session, seeded.school_id, NOW)
    assert direct["incidents"] == figures.incidents == 41
    assert figures.by_status == direct["by_status"]
    assert "open" in figures.by_status and "closed" in figures.by_status  # both kinds seeded
    assert figures.per_month == direct["per_month"]
    assert figures.by_route == direct["by_route"]
    assert figures.by_criterion == direct["by_criterion"]
    assert_review_hours(figures.review_hours, direct["hours"])
    with session_factory() as session:  # the same numbers as Python's own, on the same rows
        stored = [
            h
            for h in session.scalars(
                select(IncidentReportRow.review_hours).where(
                    IncidentReportRow.school_id == seeded.school_id,
                    IncidentReportRow.review_hours.is_not(None),
                )
            )
            if h is not None
        ]
    assert median_and_p90(figures.review_hours) == (
        statistics.median(stored),
        statistics.quantiles(stored, n=10, method="inclusive")[8],
    )
    assert figures.reviews_on_time == direct["on_time"]
    assert figures.reviews_waiting == direct["waiting"]
    assert figures.overdue_by_step == direct["overdue"]
    assert (
        figures.parents_informed,
        figures.parents_not_informed,
        figures.parents_not_informed_with_reason,
    ) == direct["parents"]
    assert figures.police_outcomes == direct["police"]
    assert figures.deletion == direct["deletion"]
    assert figures.repeat_children == direct["repeats"]
    assert not report.scope.trust_wide

    # The report rows follow changes: a new concern, a step taken, a deletion.
    started = bus.handle(StartIncident(seeded.school_id, seeded.reporter, disclosure_data("y")))
    assert started.incident_id is not None
    with session_factory() as session:
        open_review = session.scalars(
            select(HumanTask).where(
                HumanTask.school_id == seeded.school_id,
                HumanTask.bpmn_id == "initial_review",
                HumanTask.state == "ready",
            )
        ).first()
        gone = session.scalars(
            select(Incident.id).where(Incident.school_id == seeded.school_id).limit(1)
        ).one()
        session.execute(delete(Incident).where(Incident.id == gone))
        session.commit()
    if open_review is not None:
        review = scenario_steps("s2.json")[1]["data"]
        bus.handle(CompleteTask(open_review.id, seeded.dsl, review))
    again = bus.handle(ReadReport(seeded.head, FROM, TO, school_id=seeded.school_id)).figures
    with session_factory() as session:
        direct = direct_counts(session, seeded.school_id, NOW)
    assert again.incidents == direct["incidents"] == 41
    assert again.by_status == direct["by_status"]
    assert again.by_route == direct["by_route"]
    assert again.by_criterion == direct["by_criterion"]
    assert_review_hours(again.review_hours, direct["hours"])
    assert again.reviews_waiting == direct["waiting"]
    assert again.overdue_by_step == direct["overdue"]
    assert again.repeat_children == direct["repeats"]


def test_an_empty_period_has_zero_figures_and_bad_periods_are_refused(
    bus: MessageBus, people: People
) -> None:
    empty = bus.handle(
        ReadReport(people.dsl, date(2020, 1, 1), date(2020, 1, 31), people.school_id)
    )
    assert empty.figures.incidents == 0 and empty.figures.review_hours.done == 0
    assert median_and_p90(empty.figures.review_hours) == (None, None)
    with pytest.raises(RequestInvalid, match="before its start"):
        bus.handle(ReadReport(people.dsl, date(2020, 2, 1), date(2020, 1, 1), people.school_id))
    with pytest.raises(RequestInvalid, match="five years"):
        bus.handle(ReadReport(people.dsl, date(2000, 1, 1), date(2020, 1, 1), people.school_id))


def test_reports_are_for_the_dsl_headteacher_and_auditors(
    bus: MessageBus, people: People, session_factory: sessionmaker[Session]
) -> None:
    for reader in (people.dsl, people.head, people.auditor):
        bus.handle(ReadReport(reader, FROM, TO, people.school_id))
    for reader in (people.staff, people.admin):
        with pytest.raises(AccessDenied):
            bus.handle(ReadReport(reader, FROM, TO, people.school_id))
    with pytest.raises(NotFound):
        bus.handle(ReadReport(people.outsider, FROM, TO, people.school_id))
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        uow.users.grant(people.auditor, people.other_school_id, "auditor")
        uow.commit()
    trust = bus.handle(ReadReport(people.auditor, FROM, TO))
    assert trust.scope.trust_wide
    assert trust.scope.school_ids == tuple(sorted((people.school_id, people.other_school_id)))


def test_report_rows_are_written_with_each_change_not_on_the_first_view(
    bus: MessageBus, people: People, deployed: Deployed, session_factory: sessionmaker[Session]
) -> None:
    started = bus.handle(StartIncident(people.school_id, people.reporter, disclosure_data("y")))
    assert started.incident_id is not None
    with session_factory() as session:
        row = session.get(IncidentReportRow, started.incident_id)
        assert row is not None and (row.status, row.review_state) == ("open", "ready")
        review = session.scalars(
            select(HumanTask).where(
                HumanTask.incident_id == started.incident_id,
                HumanTask.bpmn_id == "initial_review",
            )
        ).one()
    bus.handle(CompleteTask(review.id, people.dsl, scenario_steps("s2.json")[1]["data"]))
    with session_factory() as session:
        row = session.get(IncidentReportRow, started.incident_id)
        assert row is not None and row.review_state == "completed"
        assert row.review_hours is not None and row.route != "undecided"
        # Nothing is left for a read to build: the rows were written with the changes.
        assert add_missing(session, [people.school_id]) == 0
        session.execute(delete(Incident).where(Incident.id == started.incident_id))
        session.commit()
    with session_factory() as session:  # a deleted incident takes its row with it
        assert session.get(IncidentReportRow, started.incident_id) is None


def test_incidents_written_without_rows_get_them_on_the_next_read(
    seeded: People, session_factory: sessionmaker[Session]
) -> None:
    bus = bootstrap(session_factory, clock=FixedClock(NOW))
    before = bus.handle(ReadReport(seeded.head, FROM, TO, school_id=seeded.school_id)).figures
    with session_factory() as session:  # as after an upgrade, or rows lost
        session.execute(delete(IncidentReportRow))
        session.commit()
    again = bus.handle(ReadReport(seeded.head, FROM, TO, school_id=seeded.school_id)).figures
    assert again == before
