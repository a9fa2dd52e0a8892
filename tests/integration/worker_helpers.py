"""Helpers for tests that need the record filed: deliver one incident's ExternalTaskReady events
to a real worker, as the relay would, without draining anyone else's outbox rows."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from services.db import SqlAlchemyUnitOfWork
from services.db.models import OutboxMessage
from services.domain.bus import MessageBus
from services.messaging import Delivery, Outcome, Result, RetryPolicy, process_delivery
from services.workers.pdf_layout import record_pdf
from services.workers.render_pdf import RecordPdfJob, Renderer
from services.workers.runner import ExternalTaskWorker, WorkerPolicy

UowFactory = Callable[[], SqlAlchemyUnitOfWork]
QUICK = WorkerPolicy(attempts=3, first_delay=0.01, max_delay=0.05)


def record_worker(
    bus: MessageBus,
    *,
    renderer: Renderer = record_pdf,
    policy: WorkerPolicy = QUICK,
    sleeps: list[float] | None = None,
) -> ExternalTaskWorker:
    """A render_record_pdf worker on this bus; `sleeps` collects its backoff pauses."""

    def sleep(seconds: float) -> bool:
        if sleeps is not None:
            sleeps.append(seconds)
        return True

    job = RecordPdfJob(bus.dependencies, "test-worker", renderer=renderer)
    return ExternalTaskWorker(job, bus, policy=policy, worker_name="test-worker", sleep=sleep)


def external_deliveries(uow_factory: UowFactory, incident_id: str) -> list[Delivery]:
    """The incident's ExternalTaskReady outbox rows, as a consumer would receive them."""
    with uow_factory() as uow:
        rows = uow.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.event_type == "ExternalTaskReady")
            .order_by(OutboxMessage.id)
        )
        return [
            Delivery(row.message_id, row.routing_key, row.event_type, dict(row.payload))
            for row in rows
            if row.payload.get("incident_id") == incident_id
        ]


def deliver(worker: ExternalTaskWorker, uow_factory: UowFactory, delivery: Delivery) -> Result:
    """Hand one delivery to the worker through the framework (dedupe, retries), as a runner does."""
    return process_delivery(worker, delivery, uow_factory, RetryPolicy(), lambda _s: True)


def file_the_record(bus: MessageBus, uow_factory: UowFactory, incident_id: str) -> None:
    """Deliver the incident's pending ExternalTaskReady events to a real record worker."""
    worker = record_worker(bus)
    for delivery in external_deliveries(uow_factory, incident_id):
        result = deliver(worker, uow_factory, delivery)
        assert result.outcome in (Outcome.PROCESSED, Outcome.DUPLICATE), result
