"""External-task workers on real databases (SQLite and PostgreSQL) and RabbitMQ: a closed
incident's record is filed as a PDF; a failing renderer retries, then fails visibly, and a
retry succeeds; redelivery never files twice; the worker runs on the broker end to end."""

# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends

from __future__ import annotations

import io
import json
import threading
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from pypdf import PdfReader
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from services.cli.worker_commands import worker as worker_command
from services.db import SqlAlchemyUnitOfWork
from services.db.models import Document
from services.domain.bus import MessageBus, bootstrap
from services.domain.clock import FixedClock
from services.domain.commands import (
    CompleteTask,
    DeployDefinitions,
    FailExternalTask,
    RetryExternalTask,
    StartIncident,
)
from services.domain.errors import AccessDenied, NotFound, TaskNoLongerReady
from services.domain.events import ExternalTaskReady
from services.domain.queries import ViewIncident
from services.messaging import (
    OutboxRelay,
    RabbitMQConsumerRunner,
    RabbitMQPublisher,
    RelaySettings,
)
from services.messaging.consumer import Outcome
from services.messaging.wakeup import EventWakeup
from services.workers.pdf_layout import record_pdf
from services.workers.record import IncidentRecord
from services.workers.render_pdf import RecordPdfJob
from services.workers.runner import ExternalTaskMessage, ExternalTaskWorker, WorkerPolicy
from tests.integration.messaging_fixtures import (  # noqa: F401  # fixtures, found by name
    FAST_RETRIES,
    BrokerNamespace,
    Database,
    amqp_url,
    broker,
    database,
    fast_backoff,
    running,
    wait_until,
)
from tests.integration.service_fixtures import (  # noqa: F401  # fixtures, found by name
    START,
    People,
    audit_of,
    bus,
    clock,
    default_bundle,
    deployed,
    disclosure_data,
    incident_row,
    make_people,
    outbox_of,
    people,
    scenario_steps,
)
from tests.integration.worker_helpers import deliver, external_deliveries, record_worker
from workflow.formdata import placeholder_data

MARKER = "Bartholomew-Quince"  # free text standing for a child's details


def run_s1(bus: MessageBus, people: People, clock: FixedClock) -> str:
    """Report S1's concern and complete every step of S1: the record then waits to be filed."""
    outcome = bus.handle(StartIncident(people.school_id, people.reporter, disclosure_data(MARKER)))
    incident_id = outcome.incident_id
    assert incident_id is not None
    actor = {"dsl": people.dsl, "headteacher": people.head}
    for step in scenario_steps("s1.json")[1:]:
        clock.advance(timedelta(minutes=30))
        view = bus.handle(ViewIncident(incident_id, people.dsl))
        ready = next(t for t in view.ready_tasks if t.task.bpmn_id == step["complete"])
        data = placeholder_data(ready.task.form, step["data"])
        bus.handle(CompleteTask(ready.task.id, actor[ready.task.lane], data, view.version))
    return incident_id


def page_text(pdf: bytes) -> str:
    """The text of every page of the PDF, as a reader would extract it."""
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def documents_of(session_factory: sessionmaker[Session], incident_id: str) -> list[Document]:
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        return [d for d, _ in uow.documents.for_incident(incident_id)]


def document_bytes(session_factory: sessionmaker[Session], document_id: str) -> bytes:
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        document = uow.documents.get(document_id, with_content=True)
        assert document is not None
        return document.content


class CountingRenderer:
    """The real renderer, failing its first `failures` calls; counts every call."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self, record: IncidentRecord, generated_at: Any) -> bytes:
        self.calls += 1
        if self.calls <= self.failures:
            raise RuntimeError(f"renderer broke on call {self.calls}")
        return record_pdf(record, generated_at)


# --- the record PDF -------------------------------------------------------------------------


def test_a_closed_incidents_record_is_published_rendered_stored_and_the_incident_ends(
    bus: MessageBus,
    clock: FixedClock,
    deployed: Any,
    people: People,
    session_factory: sessionmaker[Session],
) -> None:
    incident_id = run_s1(bus, people, clock)
    assert incident_row(session_factory, incident_id).status == "open"
    [message] = [
        m for m in outbox_of(session_factory, people.school_id) if "external" in m.routing_key
    ]
    assert message.routing_key == f"school.{people.school_id}.external.render_record_pdf"
    assert set(message.payload) == {"school_id", "incident_id", "task_id", "topic"}
    assert MARKER not in json.dumps(message.payload)

    [delivery] = external_deliveries(lambda: SqlAlchemyUnitOfWork(session_factory), incident_id)
    result = deliver(record_worker(bus), lambda: SqlAlchemyUnitOfWork(session_factory), delivery)

    assert result.outcome is Outcome.PROCESSED
    incident = incident_row(session_factory, incident_id)
    assert incident.status == "closed"
    [document] = documents_of(session_factory, incident_id)
    assert (document.kind, document.filename) == (
        "record_pdf",
        f"incident-record-{incident.reference}.pdf",
    )
    assert document.created_by_worker == "test-worker"
    pdf = document_bytes(session_factory, document.id)
    assert pdf.startswith(b"%PDF-")
    assert b"/Subtype /Image" not in pdf and b"/XObject" not in pdf  # no image, no logo
    text = page_text(pdf)
    assert incident.reference in text
    assert "OFFICIAL-SENSITIVE" in text and "Page 1 of" in text
    assert MARKER in text  # the disclosure's words are in the child protection record
    actions = [e.action for e in audit_of(session_factory, incident_id)]
    for action in ("external_task.ready", "document.created", "external_task.completed"):
        assert action in actions
    assert actions.index("external_task.completed") < actions.index("incident.closed")
    view = bus.handle(ViewIncident(incident_id, people.dsl))
    assert [(t.bpmn_id, t.state) for t in view.external_tasks] == [
        ("render_record_pdf", "completed")
    ]
    assert [d.id for d in view.documents] == [document.id] and view.documents[0].size == len(pdf)


def test_a_failing_renderer_backs_off_then_fails_visibly_and_a_retry_files_it(
    bus: MessageBus,
    clock: FixedClock,
    deployed: Any,
    people: People,
    session_factory: sessionmaker[Session],
) -> None:
    uow_factory = lambda: SqlAlchemyUnitOfWork(session_factory)  # noqa: E731
    incident_id = run_s1(bus, people, clock)
    broken, sleeps = CountingRenderer(failures=99), []
    policy = WorkerPolicy(attempts=3, first_delay=0.5, max_delay=10)
    [first] = external_deliveries(uow_factory, incident_id)

    result = deliver(
        record_worker(bus, renderer=broken, policy=policy, sleeps=sleeps), uow_factory, first
    )

    assert result.outcome is Outcome.PROCESSED  # the failure is recorded, not dead-lettered
    assert broken.calls == 3 and sleeps == [0.5, 1.0]  # exponential backoff between tries
    view = bus.handle(ViewIncident(incident_id, people.dsl))
    assert view.status == "open"
    [task] = view.external_tasks
    assert (task.state, task.attempts) == ("failed", 3)
    assert task.last_error is not None and "renderer broke on call 3" in task.last_error
    assert documents_of(session_factory, incident_id) == []
    failed = [
        e
        for e in audit_of(session_factory, incident_id)
        if e.action == "incident.external_task_failed"
    ]
    assert len(failed) == 1 and failed[0].actor_id is None
    # A late duplicate failure report changes nothing.
    bus.handle(FailExternalTask(task.id, "another-worker", "late", 1))
    assert bus.handle(ViewIncident(incident_id, people.dsl)).external_tasks[0].attempts == 3

    with pytest.raises(AccessDenied):
        bus.handle(RetryExternalTask(task.id, people.head))  # the task is the DSL's
    with pytest.raises(AccessDenied):
        bus.handle(RetryExternalTask(task.id, people.auditor))
    with pytest.raises(NotFound):
        bus.handle(RetryExternalTask(task.id, people.outsider))
    retried = bus.handle(RetryExternalTask(task.id, people.dsl, incident_id))

    [again] = retried.of_type(ExternalTaskReady)
    assert again.task_id == task.id
    retry_audit = [
        e for e in audit_of(session_factory, incident_id) if e.action == "external_task.retried"
    ]
    assert retry_audit[0].actor_id == people.dsl and retry_audit[0].old_values["state"] == "failed"
    working = CountingRenderer()
    [_, second] = external_deliveries(uow_factory, incident_id)
    assert second.message_id != first.message_id
    assert (
        deliver(record_worker(bus, renderer=working), uow_factory, second).outcome
        is Outcome.PROCESSED
    )
    assert working.calls == 1
    assert incident_row(session_factory, incident_id).status == "closed"
    assert len(documents_of(session_factory, incident_id)) == 1
    with pytest.raises(TaskNoLongerReady):
        bus.handle(RetryExternalTask(task.id, people.dsl))  # completed: nothing to retry


def test_a_redelivered_message_never_renders_or_files_twice(
    bus: MessageBus,
    clock: FixedClock,
    deployed: Any,
    people: People,
    session_factory: sessionmaker[Session],
) -> None:
    uow_factory = lambda: SqlAlchemyUnitOfWork(session_factory)  # noqa: E731
    incident_id = run_s1(bus, people, clock)
    renderer = CountingRenderer()
    worker = record_worker(bus, renderer=renderer)
    [delivery] = external_deliveries(uow_factory, incident_id)

    assert deliver(worker, uow_factory, delivery).outcome is Outcome.PROCESSED
    # The same message again (the ack was lost), then as a new message for the same task.
    assert deliver(worker, uow_factory, replace(delivery, attempts=2)).outcome is Outcome.DUPLICATE
    copy = replace(delivery, message_id="00000000-0000-4000-8000-000000000001")
    assert deliver(worker, uow_factory, copy).outcome is Outcome.PROCESSED

    assert renderer.calls == 1
    assert len(documents_of(session_factory, incident_id)) == 1
    completions = [
        e for e in audit_of(session_factory, incident_id) if e.action == "external_task.completed"
    ]
    assert len(completions) == 1


def test_a_job_run_again_after_storing_finds_its_document_instead_of_filing_another(
    bus: MessageBus,
    clock: FixedClock,
    deployed: Any,
    people: People,
    session_factory: sessionmaker[Session],
) -> None:
    uow_factory = lambda: SqlAlchemyUnitOfWork(session_factory)  # noqa: E731
    incident_id = run_s1(bus, people, clock)
    [delivery] = external_deliveries(uow_factory, incident_id)
    payload = delivery.payload
    task = ExternalTaskMessage(people.school_id, incident_id, payload["task_id"], payload["topic"])
    renderer = CountingRenderer()
    # A crash after the document was stored, before the task was completed.
    first = RecordPdfJob(bus.dependencies, "crashed-worker", renderer=renderer).run(task)

    assert (
        deliver(record_worker(bus, renderer=renderer), uow_factory, delivery).outcome
        is Outcome.PROCESSED
    )

    assert renderer.calls == 1
    [document] = documents_of(session_factory, incident_id)
    assert first["record_pdf_document_id"] == document.id
    assert incident_row(session_factory, incident_id).status == "closed"


def test_the_worker_binds_its_topic_and_refuses_a_message_of_another() -> None:
    job = RecordPdfJob.__new__(RecordPdfJob)
    worker = ExternalTaskWorker(job, MessageBus({}, None))  # type: ignore[arg-type]
    assert worker.name == "worker-render_record_pdf"
    assert worker.bindings == ("school.*.external.render_record_pdf",)
    with pytest.raises(ValueError, match="attempts"):
        WorkerPolicy(attempts=0)


def test_safeguard_worker_refuses_to_start_without_a_broker(tmp_path: Any) -> None:
    env = {"SAFEGUARD_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "SAFEGUARD_AMQP_URL": ""}
    result = CliRunner().invoke(worker_command, [], env=env)
    assert result.exit_code == 1
    assert "SAFEGUARD_AMQP_URL is not set" in result.output


# --- on RabbitMQ ----------------------------------------------------------------------------


@pytest.mark.rabbitmq
def test_the_worker_files_the_record_from_rabbitmq(
    database: Database, broker: BrokerNamespace
) -> None:
    clock = FixedClock(START)
    on_db = bootstrap(database.session_factory, clock=clock)
    on_db.handle(DeployDefinitions(default_bundle(), None))
    people = make_people(database.session_factory)
    incident_id = run_s1(on_db, people, clock)
    workers = [record_worker(on_db)]
    broker.track(*workers)
    runner = RabbitMQConsumerRunner(
        broker.url,
        broker.topology,
        workers,
        database.uow,
        policy=FAST_RETRIES,
        backoff=fast_backoff(),
    )
    publisher = RabbitMQPublisher(broker.url, broker.topology, declare_for=workers)
    relay = OutboxRelay(
        database.uow, publisher, EventWakeup(), settings=RelaySettings(batch_size=100)
    )

    with running(runner.run, "worker"):
        stop = threading.Event()
        relay.drain(stop)  # task events nobody binds here are refused and stay pending
        wait_until(
            lambda: incident_row(database.session_factory, incident_id).status == "closed",
            30,
            "the worker to file the record and the incident to close",
        )
    publisher.close()

    [document] = documents_of(database.session_factory, incident_id)
    assert document_bytes(database.session_factory, document.id).startswith(b"%PDF-")
    with database.uow() as uow:
        count = uow.session.scalar(select(func.count()).select_from(Document))
    assert count == 1
