"""The service layer on real databases (SQLite and PostgreSQL): commands, access, audit, outbox."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.db import ConcurrentUpdate, SqlAlchemyUnitOfWork
from services.db.models import DefinitionVersion
from services.domain.bus import MessageBus, UnknownMessage
from services.domain.clock import FixedClock
from services.domain.commands import (
    AssignTask,
    ClaimTask,
    CompleteExternalTask,
    CompleteTask,
    DeployDefinitions,
    ExcludePerson,
    FireDueTimers,
    StartIncident,
    UnclaimTask,
)
from services.domain.errors import (
    AccessDenied,
    BreakGlassReasonRequired,
    NotFound,
    ProcessNotStartable,
    RequestInvalid,
    TaskClaimedByAnother,
    TaskNoLongerReady,
    http_status_of,
)
from services.domain.events import (
    ExternalTaskReady,
    IncidentClosed,
    IncidentStarted,
    TaskReady,
)
from services.domain.messages import Message
from services.domain.queries import Inbox, ViewIncident
from services.domain.results import Deployed, Outcome
from services.domain.visibility import visible_incidents
from tests.integration.service_fixtures import (
    START,
    People,
    audit_of,
    bus,
    clock,
    default_bundle,
    deployed,
    disclosure_data,
    incident_row,
    outbox_of,
    people,
    ready_tasks,
    scenario_steps,
    snapshot,
    the_ready,
)
from workflow.errors import DefinitionInvalid, TaskDataInvalid
from workflow.formdata import placeholder_data
from workflow.model import SourceFile

__all__ = ["bus", "clock", "deployed", "people"]  # fixtures used by name below

MARKER = "Zebedee Quince-Marlowe"  # free text a child's record might hold: never in the outbox
REVIEW = scenario_steps("s1.json")[1]["data"]


def start(bus: MessageBus, people: People, marker: str = MARKER) -> Outcome:
    """Report a concern as the reporter; return the outcome."""
    return bus.handle(StartIncident(people.school_id, people.reporter, disclosure_data(marker)))


def payloads(session_factory: sessionmaker[Session], school_id: int) -> list[str]:
    return [json.dumps(m.payload) for m in outbox_of(session_factory, school_id)]


# --- deploy ---------------------------------------------------------------------------------


def test_deploying_the_same_files_again_returns_the_deployed_version(
    bus: MessageBus, deployed: Deployed, people: People
) -> None:
    again = bus.handle(DeployDefinitions(default_bundle(), people.admin))
    assert (again.version_id, again.created) == (deployed.version_id, False)
    assert deployed.process_id == "sharing_nudes_response"


def test_only_an_administrator_deploys_and_a_bad_bundle_writes_nothing(
    bus: MessageBus, people: People, session_factory: sessionmaker[Session]
) -> None:
    with pytest.raises(AccessDenied, match="process administrator"):
        bus.handle(DeployDefinitions(default_bundle(), people.dsl))
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        before = len(list(uow.session.scalars(select(DefinitionVersion.id))))
    bad = [SourceFile("broken.bpmn", b"<bpmn:definitions")]
    with pytest.raises(DefinitionInvalid) as raised:
        bus.handle(DeployDefinitions(bad, people.admin))
    assert http_status_of(raised.value) == 422
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        assert len(list(uow.session.scalars(select(DefinitionVersion.id)))) == before


# --- starting an incident -------------------------------------------------------------------


def test_reporting_a_concern_records_the_disclosure_and_readies_the_dsl_review(
    bus: MessageBus,
    deployed: Deployed,
    people: People,
    session_factory: sessionmaker[Session],
) -> None:
    outcome = start(bus, people)

    assert outcome.reference is not None and outcome.reference.startswith("DS-2026-")
    assert outcome.incident_id is not None
    incident = incident_row(session_factory, outcome.incident_id)
    assert (incident.status, incident.created_by) == ("open", people.reporter)
    assert incident.next_timer_at == START + timedelta(days=1)  # the overdue-review alert

    snap = snapshot(session_factory, outcome.incident_id)
    by_type = {t[1]: t for t in snap.tasks}
    assert by_type["record_disclosure"][2:] == ("completed", None, people.reporter)
    review = the_ready(session_factory, outcome.incident_id, "initial_review")
    assert (review.role, review.due_at) == ("dsl", START + timedelta(days=1))

    ready_events = outcome.of_type(TaskReady)
    assert [(e.bpmn_id, e.role) for e in ready_events] == [("initial_review", "dsl")]
    assert len(outcome.of_type(IncidentStarted)) == 1

    rows = outbox_of(session_factory, people.school_id)
    keys = [m.routing_key for m in rows]
    assert f"school.{people.school_id}.role.dsl.task.ready" in keys
    assert f"school.{people.school_id}.incident.started" in keys
    ready_row = next(m for m in rows if m.event_type == "TaskReady")
    assert ready_row.payload["task_id"] == review.id
    assert ready_row.payload["bpmn_id"] == "initial_review"
    assert all(MARKER not in p for p in payloads(session_factory, people.school_id))

    actions = [e.action for e in audit_of(session_factory, outcome.incident_id)]
    assert actions[:3] == ["incident.started", "task.completed", "task.ready"]
    completed = audit_of(session_factory, outcome.incident_id)[1]
    assert completed.actor_id == people.reporter
    assert completed.new_values is not None
    assert MARKER in completed.new_values["what_was_said"]
    assert completed.new_values["children_involved_count"] == 2
    assert completed.new_values["disclosure_date"] == "2026-09-07"


def test_auditors_and_other_schools_cannot_report_concerns(
    bus: MessageBus, deployed: Deployed, people: People
) -> None:
    data = disclosure_data(MARKER)
    with pytest.raises(AccessDenied, match="auditors"):
        bus.handle(StartIncident(people.school_id, people.auditor, data))
    with pytest.raises(NotFound):
        bus.handle(StartIncident(people.school_id, people.outsider, data))


def test_an_invalid_disclosure_opens_no_incident(
    bus: MessageBus, deployed: Deployed, people: People, session_factory: sessionmaker[Session]
) -> None:
    data = disclosure_data(MARKER)
    del data["what_was_said"]
    with pytest.raises(TaskDataInvalid) as raised:
        bus.handle(StartIncident(people.school_id, people.reporter, data))
    assert "what_was_said" in raised.value.errors
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        assert uow.incidents.list_for_school(people.school_id, status=None, limit=5) == []
    assert outbox_of(session_factory, people.school_id) == []


def test_concurrent_reports_in_one_school_get_distinct_references(
    bus: MessageBus, deployed: Deployed, people: People
) -> None:
    barrier = threading.Barrier(3)
    results: list[Outcome | BaseException] = []

    def report(n: int) -> None:
        barrier.wait()
        try:
            results.append(start(bus, people, f"Report {n}"))
        except BaseException as error:  # judged by the main thread
            results.append(error)

    threads = [threading.Thread(target=report, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert all(isinstance(r, Outcome) for r in results), results
    references = sorted(r.reference or "" for r in results if isinstance(r, Outcome))
    assert references == [f"DS-2026-000{n}" for n in (1, 2, 3)]


def test_a_process_that_is_missing_or_lacks_the_disclosure_cannot_be_started(
    bus: MessageBus, people: People
) -> None:
    data = disclosure_data(MARKER)
    with pytest.raises(ProcessNotStartable, match="not deployed"):
        bus.handle(StartIncident(people.school_id, people.reporter, data, "no_such_process"))
    minimal = Path(__file__).resolve().parents[1] / "fixtures" / "minimal_ok.bpmn"
    bus.handle(DeployDefinitions([SourceFile("minimal_ok.bpmn", minimal.read_bytes())], None))
    with pytest.raises(ProcessNotStartable, match="record_disclosure"):
        bus.handle(StartIncident(people.school_id, people.reporter, data, "minimal_ok"))


# --- completing tasks -----------------------------------------------------------------------


def test_invalid_data_writes_nothing(
    bus: MessageBus, deployed: Deployed, people: People, session_factory: sessionmaker[Session]
) -> None:
    incident_id = start(bus, people).incident_id
    assert incident_id is not None
    review = the_ready(session_factory, incident_id, "initial_review")
    before = snapshot(session_factory, incident_id)
    bad = dict(REVIEW, youngest_child_age="fifteen")
    del bad["what_is_known"]

    with pytest.raises(TaskDataInvalid) as raised:
        bus.handle(CompleteTask(review.id, people.dsl, bad))

    assert set(raised.value.errors) >= {"youngest_child_age", "what_is_known"}
    assert http_status_of(raised.value) == 422
    assert snapshot(session_factory, incident_id) == before


def test_a_stale_expected_version_is_refused_and_writes_nothing(
    bus: MessageBus, deployed: Deployed, people: People, session_factory: sessionmaker[Session]
) -> None:
    outcome = start(bus, people)
    assert outcome.incident_id is not None and outcome.incident_version is not None
    review = the_ready(session_factory, outcome.incident_id, "initial_review")
    before = snapshot(session_factory, outcome.incident_id)

    with pytest.raises(ConcurrentUpdate, match="version") as raised:
        stale = outcome.incident_version - 1
        bus.handle(CompleteTask(review.id, people.dsl, REVIEW, expected_incident_version=stale))

    assert http_status_of(raised.value) == 409
    assert snapshot(session_factory, outcome.incident_id) == before
    done = bus.handle(CompleteTask(review.id, people.dsl, REVIEW, outcome.incident_version))
    assert done.incident_version == outcome.incident_version + 1


def test_completing_records_typed_values_with_the_old_ones_and_readies_the_next_step(
    bus: MessageBus, deployed: Deployed, people: People, session_factory: sessionmaker[Session]
) -> None:
    incident_id = start(bus, people).incident_id
    assert incident_id is not None
    review = the_ready(session_factory, incident_id, "initial_review")

    outcome = bus.handle(CompleteTask(review.id, people.dsl, REVIEW))

    assert [e.bpmn_id for e in outcome.of_type(TaskReady)] == ["risk_assessment"]
    snap = {t[0]: t for t in snapshot(session_factory, incident_id).tasks}
    assert snap[review.id][2:] == ("completed", None, people.dsl)
    trail = audit_of(session_factory, incident_id)
    completion = next(e for e in trail if e.action == "task.completed" and review.id in e.target)
    assert completion.actor_id == people.dsl
    assert completion.new_values is not None and completion.old_values is not None
    assert completion.new_values["youngest_child_age"] == 15
    assert completion.new_values["adult_involved"] is False
    assert set(completion.old_values) == set(completion.new_values)
    assert completion.old_values["adult_involved"] is None
    texts = [v for v in REVIEW.values() if isinstance(v, str) and " " in v]
    for payload in payloads(session_factory, people.school_id):
        assert not any(text in payload for text in texts)


def test_a_task_that_moved_on_cannot_be_completed_again(
    bus: MessageBus, deployed: Deployed, people: People, session_factory: sessionmaker[Session]
) -> None:
    incident_id = start(bus, people).incident_id
    assert incident_id is not None
    review = the_ready(session_factory, incident_id, "initial_review")
    bus.handle(CompleteTask(review.id, people.dsl, REVIEW))
    with pytest.raises(TaskNoLongerReady, match="no longer ready") as raised:
        bus.handle(CompleteTask(review.id, people.deputy, REVIEW))
    assert http_status_of(raised.value) == 409
    with pytest.raises(NotFound):  # an outsider learns nothing, not even that it moved on
        bus.handle(CompleteTask(review.id, people.outsider, REVIEW))
    with pytest.raises(NotFound):
        bus.handle(CompleteTask("no-such-task", people.dsl, REVIEW))


def test_an_outsider_with_a_stale_version_learns_nothing_about_the_incident(
    bus: MessageBus, deployed: Deployed, people: People, session_factory: sessionmaker[Session]
) -> None:
    incident_id = start(bus, people).incident_id
    assert incident_id is not None
    review = the_ready(session_factory, incident_id, "initial_review")
    stale = CompleteTask(review.id, people.outsider, REVIEW, expected_incident_version=999)
    with pytest.raises(NotFound) as raised:  # not 409 "now at version N"
        bus.handle(stale)
    assert "version" not in str(raised.value)


def test_two_concurrent_completions_of_one_task_complete_it_once(
    bus: MessageBus, deployed: Deployed, people: People, session_factory: sessionmaker[Session]
) -> None:
    incident_id = start(bus, people).incident_id
    assert incident_id is not None
    review = the_ready(session_factory, incident_id, "initial_review")
    barrier = threading.Barrier(2)
    results: list[Outcome | BaseException] = []

    def complete(actor_id: int) -> None:
        barrier.wait()
        try:
            results.append(bus.handle(CompleteTask(review.id, actor_id, REVIEW)))
        except BaseException as error:  # judged by the main thread
            results.append(error)

    threads = [threading.Thread(target=complete, args=(a,)) for a in (people.dsl, people.deputy)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    successes = [r for r in results if isinstance(r, Outcome)]
    failures = [r for r in results if not isinstance(r, Outcome)]
    assert len(successes) == 1, results
    assert len(failures) == 1 and isinstance(failures[0], ConcurrentUpdate | TaskNoLongerReady)
    completions = [
        e
        for e in audit_of(session_factory, incident_id)
        if e.action == "task.completed" and review.id in e.target
    ]
    assert len(completions) == 1
    assert [t.bpmn_id for t in ready_tasks(session_factory, incident_id)] == ["risk_assessment"]
    keys = [m.routing_key for m in outbox_of(session_factory, people.school_id)]
    assert sum(k.endswith("task.completed") for k in keys) == 2  # the disclosure + the review


# --- claiming and reassigning ---------------------------------------------------------------


def test_claim_unclaim_and_reassign_with_a_reason_are_audited(
    bus: MessageBus, deployed: Deployed, people: People, session_factory: sessionmaker[Session]
) -> None:
    incident_id = start(bus, people).incident_id
    assert incident_id is not None
    review = the_ready(session_factory, incident_id, "initial_review")

    bus.handle(ClaimTask(review.id, people.dsl))
    assert the_ready(session_factory, incident_id, "initial_review").assignee_id == people.dsl
    with pytest.raises(TaskClaimedByAnother):
        bus.handle(ClaimTask(review.id, people.deputy))
    with pytest.raises(TaskClaimedByAnother):
        bus.handle(CompleteTask(review.id, people.deputy, REVIEW))
    with pytest.raises(AccessDenied):
        bus.handle(ClaimTask(review.id, people.auditor))

    with pytest.raises(RequestInvalid, match="reason"):
        bus.handle(AssignTask(review.id, people.head, people.deputy, "  "))
    with pytest.raises(RequestInvalid, match="none of the task's roles"):
        bus.handle(AssignTask(review.id, people.head, people.staff, "cover"))
    with pytest.raises(AccessDenied, match="DSL or the headteacher"):
        bus.handle(AssignTask(review.id, people.reporter, people.deputy, "cover"))
    reason = "The DSL is absent today; the deputy covers."
    bus.handle(AssignTask(review.id, people.head, people.deputy, reason))
    assert the_ready(session_factory, incident_id, "initial_review").assignee_id == people.deputy

    with pytest.raises(TaskClaimedByAnother):
        bus.handle(UnclaimTask(review.id, people.dsl))
    bus.handle(UnclaimTask(review.id, people.deputy))
    assert the_ready(session_factory, incident_id, "initial_review").assignee_id is None

    trail = [e for e in audit_of(session_factory, incident_id) if review.id in e.target]
    changes = [
        (
            e.action,
            e.actor_id,
            (e.old_values or {}).get("assignee_id"),
            (e.new_values or {}).get("assignee_id"),
            e.reason,
        )
        for e in trail
        if e.action.startswith(("task.claimed", "task.assigned", "task.unclaimed"))
    ]
    assert changes == [
        ("task.claimed", people.dsl, None, people.dsl, None),
        ("task.assigned", people.head, people.dsl, people.deputy, reason),
        ("task.unclaimed", people.deputy, people.deputy, None, None),
    ]
    keys = [m.routing_key for m in outbox_of(session_factory, people.school_id)]
    assert f"school.{people.school_id}.user.{people.deputy}.task.assigned" in keys
    assert f"school.{people.school_id}.role.dsl.task.released" in keys


# --- exclusion, viewing, break-glass, inbox -------------------------------------------------


def test_exclusion_hides_the_incident_from_the_excluded_dsl(
    bus: MessageBus, deployed: Deployed, people: People, session_factory: sessionmaker[Session]
) -> None:
    incident_id = start(bus, people).incident_id
    assert incident_id is not None
    review = the_ready(session_factory, incident_id, "initial_review")
    bus.handle(ClaimTask(review.id, people.dsl))
    inbox = bus.handle(Inbox(people.dsl, people.school_id))
    assert review.id in [item.task_id for item in inbox]

    with pytest.raises(RequestInvalid, match="reason"):
        bus.handle(ExcludePerson(incident_id, people.head, people.dsl, ""))
    with pytest.raises(AccessDenied):
        bus.handle(ExcludePerson(incident_id, people.staff, people.dsl, "conflict"))
    bus.handle(ExcludePerson(incident_id, people.head, people.dsl, "The incident concerns them."))

    with pytest.raises(NotFound) as raised:
        bus.handle(ViewIncident(incident_id, people.dsl))
    assert http_status_of(raised.value) == 404
    with pytest.raises(NotFound):
        bus.handle(ViewIncident(incident_id, people.dsl, break_glass_reason="I need to see it"))
    with pytest.raises(NotFound):
        bus.handle(CompleteTask(review.id, people.dsl, REVIEW))
    assert review.id not in [
        item.task_id for item in bus.handle(Inbox(people.dsl, people.school_id))
    ]
    # The claim was handed back, so the rest of the DSL team sees the task again.
    assert the_ready(session_factory, incident_id, "initial_review").assignee_id is None
    assert review.id in [i.task_id for i in bus.handle(Inbox(people.deputy, people.school_id))]
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        assert incident_id not in [
            i.id for i in visible_incidents(uow.session, people.dsl, people.school_id, limit=50)
        ]
        assert incident_id in [
            i.id for i in visible_incidents(uow.session, people.deputy, people.school_id, limit=50)
        ]
    excluded = [e for e in audit_of(session_factory, incident_id) if "excluded" in e.action]
    assert [(e.actor_id, e.reason) for e in excluded] == [
        (people.head, "The incident concerns them.")
    ]


def test_viewing_returns_the_case_and_is_audited(
    bus: MessageBus, deployed: Deployed, people: People, session_factory: sessionmaker[Session]
) -> None:
    incident_id = start(bus, people).incident_id
    assert incident_id is not None

    view = bus.handle(ViewIncident(incident_id, people.dsl))

    assert view.access_via == "role"
    assert [t.task.bpmn_id for t in view.ready_tasks] == ["initial_review"]
    ready = view.ready_tasks[0]
    assert ready.can_complete and not ready.overdue
    assert ready.task.form.field("youngest_child_age") is not None
    assert [s.bpmn_id for s in view.completed_steps] == ["record_disclosure"]
    assert MARKER in view.completed_steps[0].data["what_was_said"]
    assert view.audit[-1].action == "incident.viewed"
    viewed = audit_of(session_factory, incident_id)[-1]
    assert (viewed.action, viewed.actor_id, viewed.new_values) == (
        "incident.viewed",
        people.dsl,
        {"via": "role", "break_glass": False},
    )

    as_auditor = bus.handle(ViewIncident(incident_id, people.auditor))
    assert not as_auditor.ready_tasks[0].can_complete
    as_reporter = bus.handle(ViewIncident(incident_id, people.reporter))
    assert as_reporter.access_via == "assignment"  # they completed the disclosure

    page = bus.handle(ViewIncident(incident_id, people.dsl, audit_limit=2))
    assert len(page.audit) == 2 and page.audit_next_after_id == page.audit[-1].id
    rest = bus.handle(
        ViewIncident(incident_id, people.dsl, audit_after_id=page.audit_next_after_id)
    )
    assert rest.audit[0].id > page.audit[-1].id


def test_break_glass_needs_a_reason_and_is_logged(
    bus: MessageBus, deployed: Deployed, people: People, session_factory: sessionmaker[Session]
) -> None:
    incident_id = start(bus, people).incident_id
    assert incident_id is not None
    before = len(audit_of(session_factory, incident_id))

    with pytest.raises(BreakGlassReasonRequired) as raised:
        bus.handle(ViewIncident(incident_id, people.staff))
    assert http_status_of(raised.value) == 403
    with pytest.raises(BreakGlassReasonRequired):
        bus.handle(ViewIncident(incident_id, people.staff, break_glass_reason="   "))
    with pytest.raises(NotFound):
        bus.handle(ViewIncident(incident_id, people.outsider, break_glass_reason="curious"))
    assert len(audit_of(session_factory, incident_id)) == before

    reason = "Covering the DSL: a parent is on the phone about this incident."
    view = bus.handle(ViewIncident(incident_id, people.staff, break_glass_reason=reason))

    assert view.access_via == "break_glass"
    logged = audit_of(session_factory, incident_id)[-1]
    assert (logged.action, logged.actor_id, logged.reason) == (
        "incident.viewed",
        people.staff,
        reason,
    )
    assert logged.new_values == {"via": "break_glass", "break_glass": True}
    alert = outbox_of(session_factory, people.school_id)[-1]
    assert alert.routing_key == f"school.{people.school_id}.incident.break_glass"
    assert alert.payload["user_id"] == people.staff and reason not in json.dumps(alert.payload)


def test_inbox_lists_the_users_tasks_overdue_first(
    bus: MessageBus,
    clock: FixedClock,
    deployed: Deployed,
    people: People,
    session_factory: sessionmaker[Session],
) -> None:
    first = start(bus, people, "First").incident_id
    clock.advance(timedelta(hours=2))
    second = start(bus, people, "Second").incident_id
    clock.advance(timedelta(hours=23))  # the first review is overdue (24 h), the second not

    items = bus.handle(Inbox(people.dsl, people.school_id))

    assert [(i.incident_id, i.bpmn_id, i.overdue) for i in items] == [
        (first, "initial_review", True),
        (second, "initial_review", False),
    ]
    assert bus.handle(Inbox(people.auditor, people.school_id)) == []
    assert bus.handle(Inbox(people.outsider, people.school_id)) == []
    assert bus.handle(Inbox(people.head, people.school_id)) == []


# --- timers and closure ---------------------------------------------------------------------


def test_a_due_timer_readies_the_escalation_for_the_headteacher(
    bus: MessageBus, deployed: Deployed, people: People, session_factory: sessionmaker[Session]
) -> None:
    incident_id = start(bus, people).incident_id
    assert incident_id is not None
    early = snapshot(session_factory, incident_id)
    quiet = bus.handle(FireDueTimers(incident_id, START + timedelta(hours=1)))
    assert quiet.events == () and snapshot(session_factory, incident_id) == early

    fired = bus.handle(FireDueTimers(incident_id, START + timedelta(hours=25)))

    assert [(e.bpmn_id, e.role) for e in fired.of_type(TaskReady)] == [
        ("escalate_overdue_review", "headteacher")
    ]
    ready = sorted(t.bpmn_id for t in ready_tasks(session_factory, incident_id))
    assert ready == ["escalate_overdue_review", "initial_review"]
    assert audit_of(session_factory, incident_id)[-2].action == "incident.timers_fired"
    keys = [m.routing_key for m in outbox_of(session_factory, people.school_id)]
    assert f"school.{people.school_id}.role.headteacher.task.ready" in keys


def test_an_s1_run_to_closure_closes_the_incident(
    bus: MessageBus,
    clock: FixedClock,
    deployed: Deployed,
    people: People,
    session_factory: sessionmaker[Session],
) -> None:
    incident_id = start(bus, people).incident_id
    assert incident_id is not None
    actor = {"dsl": people.dsl, "headteacher": people.head}
    free_text: list[str] = []
    for step in scenario_steps("s1.json")[1:]:
        clock.advance(timedelta(minutes=30))
        view = bus.handle(ViewIncident(incident_id, people.dsl))
        ready = next(t for t in view.ready_tasks if t.task.bpmn_id == step["complete"])
        data = placeholder_data(ready.task.form, step["data"])
        free_text += [v for v in data.values() if isinstance(v, str) and " " in v]
        outcome = bus.handle(
            CompleteTask(ready.task.id, actor[ready.task.lane], data, view.version)
        )
    # The record is filed as a PDF by a worker: the process waits for it, then ends.
    [filing] = outcome.of_type(ExternalTaskReady)
    assert filing.topic == "render_record_pdf"
    assert incident_row(session_factory, incident_id).status == "open"
    outcome = bus.handle(CompleteExternalTask(filing.task_id, "test-worker", {}))

    assert len(outcome.of_type(IncidentClosed)) == 1
    incident = incident_row(session_factory, incident_id)
    assert (incident.status, incident.closed_at) == ("closed", clock.now())
    assert incident.next_timer_at is None
    assert ready_tasks(session_factory, incident_id) == []
    keys = [m.routing_key for m in outbox_of(session_factory, people.school_id)]
    assert keys[-1] == f"school.{people.school_id}.incident.closed"
    assert "incident.closed" in [e.action for e in audit_of(session_factory, incident_id)]
    for payload in payloads(session_factory, people.school_id):
        assert MARKER not in payload
        assert not any(text in payload for text in free_text)


# --- the bus --------------------------------------------------------------------------------


def test_the_bus_refuses_a_message_it_has_no_handler_for(bus: MessageBus) -> None:
    class Unknown(Message[None]):
        pass

    with pytest.raises(UnknownMessage, match="Unknown"):
        bus.handle(Unknown())
