"""What the operations page shows: events that fail or were given up on, and failing timers.

Outbox rows: still being retried with an error (unroutable, refused by the broker), and, in
the embedded default, dead letters (a consumer gave up: "dead letter: ..." in last_error)
and events no consumer binds ("unrouted: ..."). With RabbitMQ, dead letters sit in the
`<prefix>.<consumer>.dead` queues and unrouted events in `<prefix>.unrouted`: counted with a
passive declare. Timer failures come from the audit trail ('incident.timer_failed').

Nothing here shows details of children: events carry ids, roles and task types only, and
a timer failure is shown by its error's type alone (an engine error's message may quote a
form answer; the full text is in the server log and the audit trail).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import pika
import pika.exceptions
from sqlalchemy import ColumnElement, and_, func, select

from services.db import SqlAlchemyUnitOfWork
from services.db.models import AuditEvent, Incident, OutboxMessage, School
from services.messaging.rabbitmq import BROKER_ERRORS, close_quietly, connection_parameters
from services.messaging.topology import Topology
from services.scheduling.scheduler import TIMER_FAILED

DEAD_LETTER_NOTE = "dead letter:"
UNROUTED_NOTE = "unrouted:"
TIMER_WINDOW = timedelta(days=30)
_NOT_FOUND = 404


@dataclass(frozen=True)
class EventProblem:
    """An outbox row with an error: which event, how often tried, and the latest error."""

    message_id: str
    event_type: str
    routing_key: str
    attempts: int
    error: str
    created_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True)
class TimerFailure:
    """A failed attempt to fire an incident's timers (error type only)."""

    occurred_at: datetime
    school_name: str
    incident_id: str | None
    reference: str | None
    attempt: int | None
    error_type: str
    retry_at: datetime | None


@dataclass(frozen=True)
class QueueCount:
    """How many messages a broker queue holds (None: the queue is not declared)."""

    queue: str
    messages: int | None


@dataclass(frozen=True)
class BrokerCounts:
    """The dead-letter and unrouted queues' counts, or why the broker could not be asked."""

    dead_letters: tuple[QueueCount, ...] = ()
    unrouted: QueueCount | None = None
    problem: str | None = None


@dataclass(frozen=True)
class OutboxReport:
    """Counts and the latest rows of each kind of outbox problem."""

    failing_count: int
    failing: tuple[EventProblem, ...]
    dead_count: int
    dead: tuple[EventProblem, ...]
    unrouted_count: int


@dataclass(frozen=True)
class TimerReport:
    """Timer failures of the last TIMER_WINDOW in some schools: the count and the latest."""

    count: int
    latest: tuple[TimerFailure, ...]


def outbox_report(uow: SqlAlchemyUnitOfWork, limit: int = 20) -> OutboxReport:
    """Events being retried with an error, and (embedded default) dead letters and unrouted."""
    failing = and_(OutboxMessage.sent_at.is_(None), OutboxMessage.last_error.is_not(None))
    dead = _sent_with_note(DEAD_LETTER_NOTE)
    return OutboxReport(
        failing_count=_count(uow, failing),
        failing=_latest(uow, failing, limit),
        dead_count=_count(uow, dead),
        dead=_latest(uow, dead, limit),
        unrouted_count=_count(uow, _sent_with_note(UNROUTED_NOTE)),
    )


def timer_report(
    uow: SqlAlchemyUnitOfWork, school_ids: Collection[int], now: datetime, limit: int = 20
) -> TimerReport:
    """Timer failures in these schools since now - TIMER_WINDOW, newest first."""
    if not school_ids:
        return TimerReport(0, ())
    where = and_(
        AuditEvent.school_id.in_(sorted(school_ids)),
        AuditEvent.occurred_at >= now - TIMER_WINDOW,
        AuditEvent.action == TIMER_FAILED,
    )
    count = int(uow.session.scalar(select(func.count()).select_from(AuditEvent).where(where)) or 0)
    query = (
        select(AuditEvent, School.name, Incident.reference)
        .join(School, School.id == AuditEvent.school_id)
        .outerjoin(Incident, Incident.id == AuditEvent.incident_id)
        .where(where)
        .order_by(AuditEvent.id.desc())
        .limit(limit)
    )
    latest = tuple(
        _timer_failure(row, school_name, reference)
        for row, school_name, reference in uow.session.execute(query)
    )
    return TimerReport(count, latest)


def broker_counts(
    amqp_url: str, topology: Topology, consumer_names: Sequence[str], *, timeout: float = 3.0
) -> BrokerCounts:
    """Count the consumers' dead-letter queues and the unrouted queue (passive declares)."""
    parameters = connection_parameters(amqp_url, "safeguard-operations-page")
    parameters.socket_timeout = timeout
    parameters.stack_timeout = timeout * 2
    try:
        connection = pika.BlockingConnection(parameters)
    except BROKER_ERRORS as exc:
        return BrokerCounts(problem=f"the broker could not be reached ({type(exc).__name__})")
    try:
        dead = tuple(
            QueueCount(
                topology.dead_queue(name), _queue_size(connection, topology.dead_queue(name))
            )
            for name in consumer_names
        )
        unrouted = QueueCount(
            topology.unrouted_queue, _queue_size(connection, topology.unrouted_queue)
        )
    except BROKER_ERRORS as exc:
        return BrokerCounts(problem=f"the broker stopped answering ({type(exc).__name__})")
    finally:
        close_quietly(connection)
    return BrokerCounts(dead, unrouted)


def _queue_size(connection: pika.BlockingConnection, queue: str) -> int | None:
    channel = connection.channel()  # a missing queue closes the channel it is asked on
    try:
        return int(channel.queue_declare(queue, passive=True).method.message_count)
    except pika.exceptions.ChannelClosedByBroker as exc:
        if exc.reply_code == _NOT_FOUND:
            return None
        raise
    finally:
        if channel.is_open:
            channel.close()


def _sent_with_note(note: str) -> ColumnElement[bool]:
    return and_(OutboxMessage.sent_at.is_not(None), OutboxMessage.last_error.startswith(note))


def _count(uow: SqlAlchemyUnitOfWork, where: ColumnElement[bool]) -> int:
    query = select(func.count()).select_from(OutboxMessage).where(where)
    return int(uow.session.scalar(query) or 0)


def _latest(
    uow: SqlAlchemyUnitOfWork, where: ColumnElement[bool], limit: int
) -> tuple[EventProblem, ...]:
    query = select(OutboxMessage).where(where).order_by(OutboxMessage.id.desc()).limit(limit)
    return tuple(
        EventProblem(
            message_id=row.message_id,
            event_type=row.event_type,
            routing_key=row.routing_key,
            attempts=row.attempts,
            error=row.last_error or "",
            created_at=row.created_at,
            sent_at=row.sent_at,
        )
        for row in uow.session.scalars(query)
    )


def _timer_failure(row: AuditEvent, school_name: str, reference: str | None) -> TimerFailure:
    values = row.new_values or {}
    error = str(values.get("error") or "")
    attempt = values.get("attempt")
    retry_at = values.get("next_timer_at")
    return TimerFailure(
        occurred_at=row.occurred_at,
        school_name=school_name,
        incident_id=row.incident_id,
        reference=reference,
        attempt=attempt if isinstance(attempt, int) else None,
        # "ValueError: <message>": the type only; the message may quote an answer.
        error_type=error.partition(":")[0].strip() or "unknown error",
        retry_at=_moment(retry_at),
    )


def _moment(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
