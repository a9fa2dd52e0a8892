"""The audit trail (add and list only), the outbox, and the consumers' processed-message log."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, bindparam, exists, or_, select, update
from sqlalchemy.orm import Session

from services.db.column_types import utcnow
from services.db.models import (
    AuditChainHead,
    AuditEvent,
    AuditVerification,
    OutboxMessage,
    ProcessedMessage,
)
from services.db.models.records import new_message_id
from services.db.repositories.paging import check_page
from services.domain.audit_chain import ChainHead

_STREAM_PAGE = 1000

# The relay's statements, built once: Core on the session's connection, since rebuilding them
# and SQLAlchemy's ORM bulk-update bookkeeping (re-checking loaded objects) were most of the
# relay's CPU per event. Nothing here loads outbox objects into the session to keep in step.
_OUTBOX: Table = OutboxMessage.__table__  # type: ignore[assignment]
_CLAIM = (
    select(
        _OUTBOX.c.id,
        _OUTBOX.c.message_id,
        _OUTBOX.c.routing_key,
        _OUTBOX.c.event_type,
        _OUTBOX.c.payload,
        _OUTBOX.c.created_at,
        _OUTBOX.c.attempts,
    )
    .where(_OUTBOX.c.sent_at.is_(None), _OUTBOX.c.available_at <= bindparam("now"))
    .order_by(_OUTBOX.c.id)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)
_MARK_SENT = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id.in_(bindparam("ids", expanding=True)))
    .values(sent_at=bindparam("at", type_=_OUTBOX.c.sent_at.type))
)
_MARK_FAILED = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id == bindparam("outbox_id"))
    .values(
        attempts=_OUTBOX.c.attempts + 1,
        last_error=bindparam("error"),
        available_at=bindparam("retry_at", type_=_OUTBOX.c.available_at.type),
    )
)
_NOTE_ERROR = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id == bindparam("outbox_id"))
    .values(last_error=bindparam("error"))
)


@dataclass(frozen=True, slots=True)
class ClaimedMessage:
    """An outbox row the relay holds (locked) for its transaction: what it publishes."""

    id: int
    message_id: str
    routing_key: str
    event_type: str
    payload: dict[str, Any]
    created_at: datetime
    attempts: int


class AuditRepository:
    """Append-only audit events: there is no update or delete, and the database refuses both.

    Each event is chained to the one before it in its school when it is flushed
    (services.db.audit_chaining); `safeguard audit verify` walks the chains.
    """

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(
        self,
        action: str,
        target: str,
        *,
        actor_id: int | None,
        school_id: int | None = None,
        incident_id: str | None = None,
        reason: str | None = None,
        old_values: dict[str, Any] | None = None,
        new_values: dict[str, Any] | None = None,
        occurred_at: datetime | None = None,
    ) -> AuditEvent:
        """Append an audit event; it is written when the unit of work commits."""
        audit_event = AuditEvent(
            action=action,
            target=target,
            actor_id=actor_id,
            school_id=school_id,
            incident_id=incident_id,
            reason=reason,
            old_values=old_values,
            new_values=new_values,
            occurred_at=occurred_at or utcnow(),
        )
        self._session.add(audit_event)
        return audit_event

    def list_for_incident(
        self, incident_id: str, limit: int, after_id: int | None = None
    ) -> list[AuditEvent]:
        """Return an incident's events in order, the page after `after_id` (keyset paging)."""
        check_page(limit)
        query = select(AuditEvent).where(AuditEvent.incident_id == incident_id)
        if after_id is not None:
            query = query.where(AuditEvent.id > after_id)
        return list(self._session.scalars(query.order_by(AuditEvent.id).limit(limit)))

    def read_in_one_snapshot(self) -> None:
        """Let this transaction's reads see one moment (call it before the first read).

        So the heads and the chain rows agree however many events are appended meanwhile.
        """
        connection = self._session.connection(
            execution_options={"isolation_level": "REPEATABLE READ"}
            if self._session.get_bind().dialect.name == "postgresql"
            else {}
        )
        if connection.dialect.name == "sqlite":
            # Reads run outside transactions here (services.db.engine): a deferred BEGIN
            # keeps one WAL snapshot for the whole walk without taking the write lock.
            connection.exec_driver_sql("BEGIN")

    def chain_heads(self, school_id: int | None = None) -> dict[int, ChainHead]:
        """Every chain's head, or one school's (chain = school id; 0 = no school)."""
        query = select(AuditChainHead)
        if school_id is not None:
            query = query.where(AuditChainHead.chain == school_id)
        return {
            head.chain: ChainHead(head.chain, head.last_seq, head.last_hash)
            for head in self._session.scalars(query)
        }

    def chain_rows(self, school_id: int | None = None) -> Iterator[Mapping[str, Any]]:
        """Stream every column of the events, ordered by (chain, sequence, id), in pages.

        All chains (the global chain first), or one school's. Memory stays bounded: a
        server-side cursor on PostgreSQL, SQLite's own cursor otherwise.
        """
        table = AuditEvent.__table__
        if school_id is not None:
            wheres = [table.c.school_id == school_id]
        else:
            wheres = [table.c.school_id.is_(None), table.c.school_id.is_not(None)]
        for where in wheres:
            query = (
                select(table)
                .where(where)
                .order_by(table.c.school_id, table.c.chain_seq, table.c.id)
            )
            result = self._session.execute(query, execution_options={"yield_per": _STREAM_PAGE})
            for row in result:
                yield dict(row._mapping)  # a dict: the walk may keep it past the next page

    def record_verification(self, verification: AuditVerification) -> None:
        """Keep the outcome of a verification (written when the unit of work commits)."""
        self._session.add(verification)

    def latest_verification(self, school_ids: Collection[int]) -> AuditVerification | None:
        """The newest verification that covered every chain or one of these schools."""
        covered: ColumnElement[bool] = AuditVerification.school_id.is_(None)
        if school_ids:
            covered = or_(covered, AuditVerification.school_id.in_(sorted(school_ids)))
        query = select(AuditVerification).where(covered).order_by(AuditVerification.id.desc())
        return self._session.scalar(query.limit(1))


class OutboxRepository:
    """Events waiting to be published, written in the transaction of the change they report."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(
        self,
        routing_key: str,
        event_type: str,
        payload: dict[str, Any],
        *,
        message_id: str | None = None,
        available_at: datetime | None = None,
    ) -> OutboxMessage:
        """Queue an event (no personal details of children in the payload)."""
        message = OutboxMessage(
            message_id=message_id or new_message_id(),
            routing_key=routing_key,
            event_type=event_type,
            payload=payload,
            attempts=0,
        )
        if available_at is not None:
            message.available_at = available_at
        self._session.add(message)
        return message

    def pending(self, limit: int, now: datetime | None = None) -> list[OutboxMessage]:
        """Return the oldest unsent events that are due, in the order they were written."""
        check_page(limit)
        query = (
            select(OutboxMessage)
            .where(OutboxMessage.sent_at.is_(None), OutboxMessage.available_at <= (now or utcnow()))
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
        return list(self._session.scalars(query))

    def mark_sent(self, ids: Collection[int], at: datetime) -> None:
        """Mark these events sent (the broker confirmed them)."""
        if ids:
            self._session.connection().execute(_MARK_SENT, {"ids": sorted(ids), "at": at})

    def claim(self, limit: int, now: datetime) -> list[ClaimedMessage]:
        """Lock and return the oldest due unsent events for this transaction (the relay's batch).

        PostgreSQL: FOR UPDATE SKIP LOCKED, so a second relay skips rows a first one holds and
        the locks go when the transaction ends (or its process dies). SQLite ignores the lock
        clause: one relay per SQLite database (services.messaging.relay_guard keeps it so).
        """
        check_page(limit)
        rows = self._session.connection().execute(_CLAIM, {"now": now, "limit": limit})
        return [ClaimedMessage(*row) for row in rows]

    def mark_failed(self, outbox_id: int, error: str, retry_at: datetime) -> None:
        """Record why an event was not sent (e.g. unroutable) and when to try it again."""
        values = {"outbox_id": outbox_id, "error": error, "retry_at": retry_at}
        self._session.connection().execute(_MARK_FAILED, values)

    def note_error(self, outbox_id: int, error: str) -> None:
        """Record a problem with a sent event (an in-process dead letter) in last_error."""
        self._session.connection().execute(_NOTE_ERROR, {"outbox_id": outbox_id, "error": error})

    def dead_lettered(self, limit: int) -> list[OutboxMessage]:
        """Return sent events some in-process consumer gave up on (sent, with an error)."""
        check_page(limit)
        query = (
            select(OutboxMessage)
            .where(OutboxMessage.sent_at.is_not(None), OutboxMessage.last_error.is_not(None))
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
        return list(self._session.scalars(query))


class ProcessedMessageRepository:
    """The messages each consumer has handled: written in the transaction of the handling."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def seen(self, consumer: str, message_id: str) -> bool:
        """Tell whether `consumer` has already committed its handling of `message_id`."""
        query = select(
            exists().where(
                ProcessedMessage.consumer == consumer, ProcessedMessage.message_id == message_id
            )
        )
        return bool(self._session.scalar(query))

    def add(self, consumer: str, message_id: str, at: datetime | None = None) -> None:
        """Record the handling; a second record of one message fails on the primary key."""
        self._session.add(
            ProcessedMessage(consumer=consumer, message_id=message_id, processed_at=at or utcnow())
        )
