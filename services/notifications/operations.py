"""What the operations page shows: events that fail or were given up on, and failing timers.

Outbox rows: still being retried with an error (unroutable, refused by the broker), and, in
the embedded default, dead letters (a consumer gave up: "dead letter: ..." in last_error),
which an administrator may deliver again, and events no consumer binds ("unrouted: ...").
Most unrouted events are expected (incident.started, task.completed, timer.scheduled, ...:
no consumer is meant to take them) and are only counted; those a consumer should have
taken (EXPECTED_ROUTES: a task for the notifier, an external task for a worker) are listed.
With RabbitMQ, dead letters sit in the `<prefix>.<consumer>.dead` queues and unrouted
events in `<prefix>.unrouted`: counted with a passive declare. Timer failures come from the
audit trail ('incident.timer_failed').

Each administrator sees the events of the schools they administer (routing keys start
`school.<id>.`), and events of no school (definition.deployed) with their error reduced to
its kind, as the detail of a system event is no one school's business. Nothing here shows
details of children: events carry ids, roles and task types only, and a timer failure is
shown by its error's type alone (an engine error's message may quote a form answer; the
full text is in the server log and the audit trail).

The page also shows the latest verification of the audit trail's hash chains (`safeguard
audit verify`) that covered every school or one the administrator administers; where the
first broken row is in another school, only that much is said.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import pika
import pika.exceptions
from sqlalchemy import ColumnElement, and_, false, func, not_, or_, select

from services.db import SqlAlchemyUnitOfWork
from services.db.models import AuditEvent, Incident, OutboxMessage, School
from services.domain.audit_chain import GLOBAL_CHAIN, Break
from services.messaging.rabbitmq import BROKER_ERRORS, close_quietly, connection_parameters
from services.messaging.topology import Topology, topic_matches
from services.notifications.consumer import NOTIFIER_BINDINGS
from services.scheduling.scheduler import TIMER_FAILED

DEAD_LETTER_NOTE = "dead letter:"
UNROUTED_NOTE = "unrouted:"
TIMER_WINDOW = timedelta(days=30)
# What some consumer is meant to take: the notifier's events, and external tasks (a worker
# per topic). Any other event no consumer binds is expected to go unrouted.
EXPECTED_ROUTES = (*NOTIFIER_BINDINGS, "school.*.external.*")
DELIVERED_AGAIN = "outbox.delivered_again"
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
class AuditCheck:
    """The latest verification of the audit trail an administrator may see."""

    finished_at: datetime
    ran_by: str
    scope: str  # "every school" or the school's name
    ok: bool
    rows_checked: int
    broken: str | None  # the first broken row: id, school, sequence and what is wrong


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
class UnroutedRoute:
    """Events of one type and routing key that no consumer took, and how many."""

    event_type: str
    routing_key: str
    count: int


@dataclass(frozen=True)
class UnroutedEvents:
    """Events no in-process consumer took: expected ones counted, missed ones listed."""

    expected_count: int  # no consumer is meant to take them: for information only
    missed: tuple[UnroutedRoute, ...]  # a consumer should have taken them

    @property
    def missed_count(self) -> int:
        """How many events a consumer should have taken but none did."""
        return sum(route.count for route in self.missed)


@dataclass(frozen=True)
class OutboxReport:
    """Counts and the latest rows of each kind of outbox problem, in some schools."""

    failing_count: int
    failing: tuple[EventProblem, ...]
    dead_count: int
    dead: tuple[EventProblem, ...]
    unrouted: UnroutedEvents


@dataclass(frozen=True)
class TimerReport:
    """Timer failures of the last TIMER_WINDOW in some schools: the count and the latest."""

    count: int
    latest: tuple[TimerFailure, ...]


def outbox_report(
    uow: SqlAlchemyUnitOfWork, school_ids: Collection[int], limit: int = 20
) -> OutboxReport:
    """Events of these schools (and of none) being retried, dead-lettered or unrouted."""
    seen = or_(in_schools(school_ids), _of_no_school())
    failing = and_(seen, OutboxMessage.sent_at.is_(None), OutboxMessage.last_error.is_not(None))
    dead = and_(seen, _sent_with_note(DEAD_LETTER_NOTE))
    return OutboxReport(
        failing_count=_count(uow, failing),
        failing=_latest(uow, failing, limit),
        dead_count=_count(uow, dead),
        dead=_latest(uow, dead, limit),
        unrouted=_unrouted(uow, and_(seen, _sent_with_note(UNROUTED_NOTE))),
    )


def deliver_again(
    uow: SqlAlchemyUnitOfWork,
    school_ids: Collection[int],
    message_id: str,
    actor_id: int,
    now: datetime,
) -> bool:
    """Put an in-process dead letter of these schools back to be delivered (audited; no commit).

    The relay sends it again; consumers that processed it already skip it (they dedupe on
    the message id), so only the one that gave up handles it anew. False if there is no such
    dead letter in these schools.
    """
    query = select(OutboxMessage).where(
        OutboxMessage.message_id == message_id,
        in_schools(school_ids),
        _sent_with_note(DEAD_LETTER_NOTE),
    )
    row = uow.session.scalar(query)
    if row is None:
        return False
    uow.audit.add(
        DELIVERED_AGAIN,
        f"event:{row.message_id}",
        actor_id=actor_id,
        school_id=school_of(row.routing_key),
        old_values={"last_error": row.last_error, "attempts": row.attempts},
        new_values={"event_type": row.event_type, "routing_key": row.routing_key},
        occurred_at=now,
    )
    # available_at stays as it was: in the past, so the relay takes it on its next round.
    row.sent_at, row.last_error, row.attempts = None, None, 0
    return True


def in_schools(school_ids: Collection[int]) -> ColumnElement[bool]:
    """Outbox rows of these schools: their routing key starts `school.<id>.`."""
    if not school_ids:
        return false()
    return or_(
        *(
            OutboxMessage.routing_key.startswith(f"school.{school_id}.", autoescape=True)
            for school_id in sorted(school_ids)
        )
    )


def school_of(routing_key: str) -> int | None:
    """The school a routing key names (`school.<id>.…`), or None for an event of no school."""
    first, _, rest = routing_key.partition(".")
    number = rest.partition(".")[0]
    return int(number) if first == "school" and number.isdigit() else None


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


def audit_check(uow: SqlAlchemyUnitOfWork, school_ids: Collection[int]) -> AuditCheck | None:
    """The latest verification of every chain or of one of these schools (None: never run)."""
    record = uow.audit.latest_verification(school_ids)
    if record is None:
        return None
    scope = "every school"
    if record.school_id is not None:
        school = uow.schools.get(record.school_id)
        scope = school.name if school is not None else f"school {record.school_id}"
    broken = None
    if not record.ok:
        chain = GLOBAL_CHAIN if record.broken_chain is None else record.broken_chain
        if chain == GLOBAL_CHAIN or chain in school_ids:
            first = Break(chain, record.broken_event_id, record.broken_seq, record.problem or "")
            broken = first.describe()
        else:
            broken = "a row in a school you do not administer (its administrators see which)"
    return AuditCheck(
        record.finished_at, record.ran_by, scope, record.ok, record.rows_checked, broken
    )


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


def _of_no_school() -> ColumnElement[bool]:
    return not_(OutboxMessage.routing_key.startswith("school.", autoescape=True))


def _unrouted(uow: SqlAlchemyUnitOfWork, where: ColumnElement[bool]) -> UnroutedEvents:
    query = (
        select(OutboxMessage.event_type, OutboxMessage.routing_key, func.count())
        .where(where)
        .group_by(OutboxMessage.event_type, OutboxMessage.routing_key)
        .order_by(OutboxMessage.event_type, OutboxMessage.routing_key)
    )
    expected = 0
    missed: list[UnroutedRoute] = []
    for event_type, routing_key, count in uow.session.execute(query):
        if any(topic_matches(pattern, routing_key) for pattern in EXPECTED_ROUTES):
            missed.append(UnroutedRoute(event_type, routing_key, int(count)))
        else:
            expected += int(count)
    return UnroutedEvents(expected, tuple(missed))


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
            error=_shown_error(row),
            created_at=row.created_at,
            sent_at=row.sent_at,
        )
        for row in uow.session.scalars(query)
    )


def _shown_error(row: OutboxMessage) -> str:
    error = row.last_error or ""
    if school_of(row.routing_key) is not None:
        return error
    # An event of no school: its kind of failure only, not the detail.
    return f"{error.partition(':')[0]} (detail in the server log: this event belongs to no school)"


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
        error_type=error_type(error),
        retry_at=_moment(retry_at),
    )


def error_type(error: str | None) -> str:
    """ "ValueError: <message>" -> "ValueError": the message may quote an answer."""
    return (error or "").partition(":")[0].strip() or "unknown error"


def _moment(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
